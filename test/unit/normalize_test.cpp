// Unit tests for ct4::core normalization and name similarity.
#include "core/normalize.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

using ct4::core::jaro_winkler;
using ct4::core::name_similarity;
using ct4::core::normalize_license;
using ct4::core::normalize_name;
using ct4::core::normalize_phone;
using ct4::core::normalize_plate;

namespace {

constexpr double kEps = 1e-6;

std::optional<std::string> some(const char *s) {
    return std::string(s);
}

// Every byte value except NUL, in order, repeated up to n bytes.
std::string all_bytes(size_t n) {
    std::string s;
    s.reserve(n);
    while (s.size() < n) s.push_back(static_cast<char>(1 + s.size() % 255));
    return s;
}

}  // namespace

// ------------------------------------------------------------------ phone

TEST(Phone, SpecExamples) {
    EXPECT_EQ(normalize_phone("+51 987 654 321"), some("51987654321"));
    EXPECT_EQ(normalize_phone("987654321"), some("51987654321"));
    EXPECT_EQ(normalize_phone("0051987654321"), some("51987654321"));
    EXPECT_EQ(normalize_phone("+1 415 555 0100"), some("14155550100"));
}

TEST(Phone, EmptyAndSeparatorsOnly) {
    EXPECT_EQ(normalize_phone(""), std::nullopt);
    EXPECT_EQ(normalize_phone(std::string_view()), std::nullopt);
    EXPECT_EQ(normalize_phone("---"), std::nullopt);
    EXPECT_EQ(normalize_phone(" ( ) + - . "), std::nullopt);
}

TEST(Phone, DigitCountBoundaries) {
    EXPECT_EQ(normalize_phone("12345678"), std::nullopt);                    // 8
    EXPECT_EQ(normalize_phone("123456789"), some("51123456789"));            // 9
    EXPECT_EQ(normalize_phone("1234567890"), std::nullopt);                  // 10
    EXPECT_EQ(normalize_phone("12345678901"), some("12345678901"));          // 11
    EXPECT_EQ(normalize_phone("123456789012345"), some("123456789012345"));  // 15
    EXPECT_EQ(normalize_phone("1234567890123456"), std::nullopt);            // 16
    EXPECT_EQ(normalize_phone("12345678901234567890"), std::nullopt);        // 20
}

TEST(Phone, LeadingDoubleZero) {
    // "00" + 9 digits: the 9-digit rule applies after dropping the prefix.
    EXPECT_EQ(normalize_phone("00987654321"), some("51987654321"));
    EXPECT_EQ(normalize_phone("00 1 415 555 0100"), some("14155550100"));
    // "00" + 15 digits is the longest accepted input.
    EXPECT_EQ(normalize_phone("00123456789012345"), some("123456789012345"));
    EXPECT_EQ(normalize_phone("001234567890123456"), std::nullopt);
    // Only one leading "00" is dropped; a single 0 is kept.
    EXPECT_EQ(normalize_phone("0012345678"), std::nullopt);  // 8 after drop
    EXPECT_EQ(normalize_phone("051987654321"), some("051987654321"));
    EXPECT_EQ(normalize_phone("00"), std::nullopt);
}

TEST(Phone, OnlyAsciiDigitsCount) {
    // Arabic-Indic and full-width digits are not ASCII digits.
    EXPECT_EQ(normalize_phone("\xD9\xA1\xD9\xA2 987654321"), some("51987654321"));
    EXPECT_EQ(normalize_phone("\xEF\xBC\x91"
                              "987654321"),
              some("51987654321"));
    EXPECT_EQ(normalize_phone("tel: 987-654-321 \xF0\x9F\x93\x9E"), some("51987654321"));
}

TEST(Phone, LongGarbageInput) {
    EXPECT_EQ(normalize_phone(std::string(10240, 'x') + "987654321"), some("51987654321"));
    EXPECT_EQ(normalize_phone(std::string(10240, '9')), std::nullopt);
    EXPECT_EQ(normalize_phone(all_bytes(10240)), std::nullopt);
}

// ------------------------------------------------------- licence / plate

TEST(License, SpecExamples) {
    EXPECT_EQ(normalize_license("Q-1234 5678"), some("Q12345678"));
    EXPECT_EQ(normalize_license("abc-123"), some("ABC123"));
    EXPECT_EQ(normalize_license("ob1-io9"), some("0B1109"));
}

TEST(License, OAndIConfusion) {
    EXPECT_EQ(normalize_license("OOIII"), some("00111"));
    EXPECT_EQ(normalize_license("Q0l234"), some("Q0L234"));  // only O and I are read as digits
    EXPECT_EQ(normalize_license("q1234567o"), normalize_license("Q12345670"));
    EXPECT_EQ(normalize_license("Qi234567"), normalize_license("Q1234567"));
}

TEST(License, ShortEmptyAndSeparators) {
    EXPECT_EQ(normalize_license(""), std::nullopt);
    EXPECT_EQ(normalize_license("- - -"), std::nullopt);
    EXPECT_EQ(normalize_license("AB-12"), std::nullopt);    // 4 characters
    EXPECT_EQ(normalize_license("A-1-2-3"), std::nullopt);  // 4 characters
    EXPECT_EQ(normalize_license("A-1-2-3-4"), some("A1234"));
}

TEST(License, NonAsciiDropped) {
    // Ñ (C3 91) and é (C3 A9) are dropped, not folded.
    EXPECT_EQ(normalize_license("\xC3\x91"
                                "AB-123"),
              some("AB123"));
    EXPECT_EQ(normalize_license("AB\xC3\xA9"
                                "12"),
              std::nullopt);  // AB12: 4 chars
    EXPECT_EQ(normalize_license("\xFF\xFE\x80"
                                "ab123"),
              some("AB123"));
    const auto r = normalize_license(all_bytes(10240));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->find_first_not_of("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"), std::string::npos);
}

TEST(Plate, FourVersusFiveCharacters) {
    EXPECT_EQ(normalize_plate("AB-12"), std::nullopt);
    EXPECT_EQ(normalize_plate("ABC-1"), std::nullopt);
    EXPECT_EQ(normalize_plate("ab-123"), some("AB123"));
    EXPECT_EQ(normalize_plate("abc-123"), some("ABC123"));
    EXPECT_EQ(normalize_plate("  c0i-9o8 "), some("C01908"));
    EXPECT_EQ(normalize_plate(""), std::nullopt);
}

TEST(Plate, SameRuleAsLicense) {
    for (const char *s : {"Q-1234 5678", "abc-123", "ob1-io9", "AB-12", "", "x\xC3\xA9y-OI-9"})
        EXPECT_EQ(normalize_plate(s), normalize_license(s)) << s;
}

TEST(Plate, LongInput) {
    const std::string big(10240, 'o');
    const auto r = normalize_plate(big);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(*r, std::string(10240, '0'));
}

// ------------------------------------------------------------------- name

TEST(Name, SpecExamples) {
    EXPECT_EQ(normalize_name("  GARC\xC3\x8D"
                             "A   p\xC3\xA9rez, Jos\xC3\xA9 "),
              some("garcia jose perez"));
    EXPECT_EQ(normalize_name("Mar\xC3\xAD"
                             "a-Jos\xC3\xA9 \xC3\x91\xC3\xBA\xC3\xB1"
                             "ez"),
              some("jose maria nunez"));
}

TEST(Name, EmptyAndSeparatorsOnly) {
    EXPECT_EQ(normalize_name(""), std::nullopt);
    EXPECT_EQ(normalize_name(std::string_view()), std::nullopt);
    EXPECT_EQ(normalize_name("   "), std::nullopt);
    EXPECT_EQ(normalize_name(" -,.;'\"()123 456 "), std::nullopt);
    EXPECT_EQ(normalize_name("\xC2\xA0\xC3\x97\xC3\xB7"), std::nullopt);  // nbsp × ÷
}

TEST(Name, TokenOrderDoesNotMatter) {
    EXPECT_EQ(normalize_name("Perez Garcia Jose"), some("garcia jose perez"));
    EXPECT_EQ(normalize_name("jose perez garcia"), some("garcia jose perez"));
    EXPECT_EQ(normalize_name("garcia jose perez"), some("garcia jose perez"));
    EXPECT_EQ(normalize_name("b a b a"), some("a a b b"));  // duplicates kept
    EXPECT_EQ(normalize_name("ab a"), some("a ab"));        // prefix sorts first
}

TEST(Name, ManyTokens) {
    // More tokens than the on-stack fast path holds.
    std::string in;
    std::string expect;
    for (char c = 'z'; c >= 'a'; --c) {
        in += c;
        in += ' ';
    }
    for (char c = 'a'; c <= 'z'; ++c) {
        if (c != 'a') expect += ' ';
        expect += c;
    }
    EXPECT_EQ(normalize_name(in), expect);
}

TEST(Name, AccentFolding) {
    // á à â ä ã å é è ê ë í ì î ï ó ò ô ö õ ø ú ù û ü ñ ç ý ÿ
    EXPECT_EQ(normalize_name("\xC3\xA1\xC3\xA0\xC3\xA2\xC3\xA4\xC3\xA3\xC3\xA5"), some("aaaaaa"));
    EXPECT_EQ(normalize_name("\xC3\xA9\xC3\xA8\xC3\xAA\xC3\xAB"), some("eeee"));
    EXPECT_EQ(normalize_name("\xC3\xAD\xC3\xAC\xC3\xAE\xC3\xAF"), some("iiii"));
    EXPECT_EQ(normalize_name("\xC3\xB3\xC3\xB2\xC3\xB4\xC3\xB6\xC3\xB5\xC3\xB8"), some("oooooo"));
    EXPECT_EQ(normalize_name("\xC3\xBA\xC3\xB9\xC3\xBB\xC3\xBC"), some("uuuu"));
    EXPECT_EQ(normalize_name("\xC3\xB1\xC3\xA7\xC3\xBD\xC3\xBF"), some("ncyy"));
    // Capitals: Á É Í Ó Ú Ñ Ç Ý Ø Ü
    EXPECT_EQ(normalize_name("\xC3\x81\xC3\x89\xC3\x8D\xC3\x93\xC3\x9A\xC3\x91\xC3\x87\xC3\x9D"
                             "\xC3\x98\xC3\x9C"),
              some("aeiouncyou"));
    // ß æ Æ œ Œ
    EXPECT_EQ(normalize_name("Stra\xC3\x9F"
                             "e \xC3\xA6\xC3\x86 \xC5\x93\xC5\x92"),
              some("aeae oeoe strasse"));
    // Latin Extended-A: Łódź, Dvořák, Şahin
    EXPECT_EQ(normalize_name("\xC5\x81\xC3\xB3\x64\xC5\xBA"), some("lodz"));
    EXPECT_EQ(normalize_name("Dvo\xC5\x99\xC3\xA1k"), some("dvorak"));
    EXPECT_EQ(normalize_name("\xC5\x9E"
                             "ahin"),
              some("sahin"));
}

TEST(Name, LatinExtendedBAndAdditionalFold) {
    // Vietnamese (Latin Extended Additional + ơ ư of Extended-B).
    EXPECT_EQ(normalize_name(u8"Nguy\u1EC5n V\u0103n \u00C1nh"), some("anh nguyen van"));
    EXPECT_EQ(normalize_name(u8"Ph\u1EA1m Th\u1ECB H\u01B0\u01A1ng"), some("huong pham thi"));
    EXPECT_EQ(normalize_name(u8"\u1EF8 \u1EF9 \u1EE8"), some("u y y"));
    // Romanian comma-below letters (Extended-B).
    EXPECT_EQ(normalize_name(u8"\u0218tefan \u021Aurcanu"), some("stefan turcanu"));
    // Pinyin tone marks.
    EXPECT_EQ(normalize_name(u8"L\u01DC \u01CEi"), some("ai lu"));
    // Just outside the ranges: a separator, as before.
    EXPECT_EQ(normalize_name(u8"a\u1EFAb"), some("a b"));
}

TEST(Name, DecomposedAccentsFoldLikePrecomposed) {
    // "Jose" + U+0301, "Nun" + U+0303 + "ez"
    EXPECT_EQ(normalize_name("Jose\xCC\x81"), some("jose"));
    EXPECT_EQ(normalize_name("Nu\xCC\x81n\xCC\x83"
                             "ez"),
              some("nunez"));
    EXPECT_EQ(normalize_name("Jose\xCC\x81"), normalize_name("Jos\xC3\xA9"));
    EXPECT_EQ(normalize_name("\xCC\x81\xCC\x81"), std::nullopt);  // marks alone
}

TEST(Name, InvisibleCharactersAreDropped) {
    EXPECT_EQ(normalize_name("Jo\xC2\xAD"
                             "se"),
              some("jose"));  // soft hyphen
    EXPECT_EQ(normalize_name("Jo\xE2\x80\x8D"
                             "se"),
              some("jose"));  // ZWJ
    EXPECT_EQ(normalize_name("\xEF\xBB\xBF"
                             "Jose"),
              some("jose"));  // BOM
}

TEST(Name, NonLatinScripts) {
    // Иван Петров -> иван петров
    EXPECT_EQ(normalize_name("\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD \xD0\x9F\xD0\xB5\xD1\x82\xD1\x80"
                             "\xD0\xBE\xD0\xB2"),
              some("\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD \xD0\xBF\xD0\xB5\xD1\x82\xD1\x80\xD0\xBE"
                   "\xD0\xB2"));
    // Ёлкин (Ё U+0401 -> ё U+0451)
    EXPECT_EQ(normalize_name("\xD0\x81\xD0\xBB\xD0\xBA\xD0\xB8\xD0\xBD"),
              some("\xD1\x91\xD0\xBB\xD0\xBA\xD0\xB8\xD0\xBD"));
    // ΣΩΚΡΆΤΗΣ -> σωκράτησ (no accent folding, no final-sigma rule)
    EXPECT_EQ(normalize_name("\xCE\xA3\xCE\xA9\xCE\x9A\xCE\xA1\xCE\x86\xCE\xA4\xCE\x97\xCE\xA3"),
              some("\xCF\x83\xCF\x89\xCE\xBA\xCF\x81\xCE\xAC\xCF\x84\xCE\xB7\xCF\x83"));
    // 山田 太郎 -> 太郎 山田 (byte order: E5 A4 < E5 B1)
    EXPECT_EQ(normalize_name("\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E"),
              some("\xE5\xA4\xAA\xE9\x83\x8E \xE5\xB1\xB1\xE7\x94\xB0"));
    // ジョン・スミス: the katakana middle dot separates tokens
    EXPECT_EQ(normalize_name("\xE3\x82\xB8\xE3\x83\xA7\xE3\x83\xB3\xE3\x83\xBB\xE3\x82\xB9\xE3"
                             "\x83\x9F\xE3\x82\xB9"),
              some("\xE3\x82\xB8\xE3\x83\xA7\xE3\x83\xB3 \xE3\x82\xB9\xE3\x83\x9F\xE3\x82\xB9"));
    // 김민수 (Hangul) kept; Hebrew דוד kept
    EXPECT_EQ(normalize_name("\xEA\xB9\x80\xEB\xAF\xBC\xEC\x88\x98"),
              some("\xEA\xB9\x80\xEB\xAF\xBC\xEC\x88\x98"));
    EXPECT_EQ(normalize_name("\xD7\x93\xD7\x95\xD7\x93"), some("\xD7\x93\xD7\x95\xD7\x93"));
    // محمد with a tatweel (U+0640) and a fatha (U+064E) -> محمد
    EXPECT_EQ(normalize_name("\xD9\x85\xD8\xAD\xD9\x80\xD9\x85\xD9\x8E\xD8\xAF"),
              some("\xD9\x85\xD8\xAD\xD9\x85\xD8\xAF"));
    // Mixed scripts: Latin sorts before Cyrillic by bytes
    EXPECT_EQ(normalize_name("\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD Ivan"),
              some("ivan \xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD"));
}

TEST(Name, EmojiAndSymbolsSeparate) {
    EXPECT_EQ(normalize_name("Ana\xF0\x9F\x98\x80L\xC3\xB3pez"), some("ana lopez"));
    EXPECT_EQ(normalize_name("\xF0\x9F\x98\x80 Ana \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9"),
              some("ana"));
    EXPECT_EQ(normalize_name("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), std::nullopt);
    EXPECT_EQ(normalize_name("O'Brien"), some("brien o"));
    EXPECT_EQ(normalize_name("Juan2 Perez"), some("juan perez"));
}

TEST(Name, InvalidUtf8IsDropped) {
    EXPECT_EQ(normalize_name("Jo\xFFs\xC3\xA9"), some("jose"));       // stray FF
    EXPECT_EQ(normalize_name("Jos\xC3"), some("jos"));                // truncated at end
    EXPECT_EQ(normalize_name("Jo\xE2\x82se"), some("jose"));          // truncated 3-byte
    EXPECT_EQ(normalize_name("Jo\xC0\xAFse"), some("jose"));          // overlong '/'
    EXPECT_EQ(normalize_name("Jo\xED\xA0\x80se"), some("jose"));      // surrogate
    EXPECT_EQ(normalize_name("Jo\xF4\x90\x80\x80se"), some("jose"));  // > U+10FFFF
    EXPECT_EQ(normalize_name("Jo\x80\xBFse"), some("jose"));          // lone continuations
    EXPECT_EQ(normalize_name("\xC3\xC3\xA9"), some("e"));             // bad lead then é
    EXPECT_EQ(normalize_name("\xFF\xFE\xFD"), std::nullopt);
}

TEST(Name, LongInputs) {
    std::string big;
    while (big.size() < 10240)
        big +=
            "Jos\xC3\xA9 Mar\xC3\xAD"
            "a ";
    const auto r = normalize_name(big);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->substr(0, 10), "jose jose ");
    EXPECT_EQ(r->substr(r->size() - 11), "maria maria");

    // Arbitrary bytes: must not crash; the result, if any, is letters and spaces.
    const auto g = normalize_name(all_bytes(10240));
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(g->front() != ' ' && g->back() != ' ', true);
    EXPECT_EQ(g->find("  "), std::string::npos);

    const std::string one_token(10240, 'A');
    EXPECT_EQ(normalize_name(one_token), std::string(10240, 'a'));
}

// ----------------------------------------------------------- Jaro-Winkler

namespace {
double jw(const char *a, const char *b) {
    std::u32string ua, ub;
    for (const char *p = a; *p; ++p) ua.push_back(static_cast<unsigned char>(*p));
    for (const char *p = b; *p; ++p) ub.push_back(static_cast<unsigned char>(*p));
    return jaro_winkler(ua, ub);
}
}  // namespace

TEST(JaroWinkler, ReferenceValues) {
    EXPECT_NEAR(jw("martha", "marhta"), 0.961111, kEps);
    EXPECT_NEAR(jw("dwayne", "duane"), 0.840000, kEps);
    EXPECT_NEAR(jw("dixon", "dicksonx"), 0.813333, kEps);
    EXPECT_NEAR(jw("william", "williams"), 0.975000, kEps);
    EXPECT_NEAR(jw("jaz", "jal"), 0.822222, kEps);
    EXPECT_NEAR(jw("a", "ab"), 0.850000, kEps);
    EXPECT_EQ(jw("abc", "xyz"), 0.0);
}

TEST(JaroWinkler, Symmetry) {
    const char *pairs[][2] = {{"martha", "marhta"},    {"dwayne", "duane"}, {"dixon", "dicksonx"},
                              {"william", "williams"}, {"jaz", "jal"},      {"a", "ab"},
                              {"abc", "xyz"},          {"abcd", "badc"},    {"crate", "trace"},
                              {"aaab", "abaa"}};
    for (const auto &p : pairs) EXPECT_EQ(jw(p[0], p[1]), jw(p[1], p[0])) << p[0] << "/" << p[1];
}

TEST(JaroWinkler, EmptyAndIdentical) {
    EXPECT_EQ(jw("", ""), 0.0);
    EXPECT_EQ(jw("", "abc"), 0.0);
    EXPECT_EQ(jw("abc", ""), 0.0);
    EXPECT_EQ(jw("a", "a"), 1.0);
    EXPECT_EQ(jw("martha", "martha"), 1.0);
    EXPECT_EQ(jw("a", "b"), 0.0);
}

TEST(JaroWinkler, NoBoostAtOrBelowThreshold) {
    // "ab"/"ba": window 0, no matches at equal positions -> 0.
    EXPECT_EQ(jw("ab", "ba"), 0.0);
    // "abcdef"/"abxxxx": jaro = (2/6+2/6+1)/3 = 0.5556 <= 0.7, no prefix boost.
    EXPECT_NEAR(jw("abcdef", "abxxxx"), (2.0 / 6 + 2.0 / 6 + 1.0) / 3.0, 1e-12);
}

TEST(JaroWinkler, PrefixCappedAtFour) {
    // Six-char common prefix counts as four.
    const double jaro = (6.0 / 7 + 6.0 / 7 + 1.0) / 3.0;
    EXPECT_NEAR(jw("abcdefx", "abcdefy"), jaro + 4 * 0.1 * (1 - jaro), 1e-12);
}

TEST(JaroWinkler, NonBmpCodePoints) {
    const std::u32string a = {0x1F600, 0x1F601, U'a', 0x10FFFF};
    const std::u32string b = {0x1F600, 0x1F601, U'b', 0x10FFFF};
    const double r = jaro_winkler(a, b);
    EXPECT_GT(r, 0.7);
    EXPECT_LT(r, 1.0);
    EXPECT_EQ(jaro_winkler(a, a), 1.0);
    EXPECT_EQ(jaro_winkler(a, b), jaro_winkler(b, a));
}

TEST(JaroWinkler, LongStrings) {
    // Beyond the on-stack flag buffer.
    std::u32string a(5000, U'x');
    std::u32string b = a;
    b[2500] = U'y';
    const double r = jaro_winkler(a, b);
    EXPECT_GT(r, 0.99);
    EXPECT_LT(r, 1.0);
    EXPECT_EQ(jaro_winkler(a, a), 1.0);
}

// -------------------------------------------------------- name similarity

TEST(NameSimilarity, ReferenceValuesThroughNormalization) {
    EXPECT_NEAR(name_similarity("Martha", "MARHTA"), 0.961111, kEps);
    EXPECT_NEAR(name_similarity("dwayne", "duane"), 0.840000, kEps);
    EXPECT_NEAR(name_similarity("William", "Williams"), 0.975000, kEps);
    EXPECT_NEAR(name_similarity("a", "ab"), 0.850000, kEps);
    EXPECT_EQ(name_similarity("abc", "xyz"), 0.0);
}

TEST(NameSimilarity, FoldingAndOrder) {
    EXPECT_EQ(name_similarity("Jos\xC3\xA9", "Jose"), 1.0);
    EXPECT_EQ(name_similarity("Jose\xCC\x81", "JOS\xC3\x89"), 1.0);
    EXPECT_EQ(name_similarity("P\xC3\xA9rez Garc\xC3\xAD"
                              "a",
                              "garcia, perez"),
              1.0);
    EXPECT_GT(name_similarity("Jos\xC3\xA9 P\xC3\xA9rez", "Jose Peres"), 0.9);
}

TEST(NameSimilarity, EmptyOrUnnormalizable) {
    EXPECT_EQ(name_similarity("", "Jose"), 0.0);
    EXPECT_EQ(name_similarity("Jose", ""), 0.0);
    EXPECT_EQ(name_similarity("", ""), 0.0);
    EXPECT_EQ(name_similarity("123", "123"), 0.0);
    EXPECT_EQ(name_similarity("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"), 0.0);
}

TEST(NameSimilarity, MultibyteAndSymmetric) {
    const char *ivan = "\xD0\x98\xD0\xB2\xD0\xB0\xD0\xBD";          // Иван
    const char *ivn = "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD";           // иван
    const char *iwan = "\xD0\xB8\xD0\xB2\xD0\xB0\xD0\xBD\xD0\xB0";  // ивана
    EXPECT_EQ(name_similarity(ivan, ivn), 1.0);
    // Code points, not bytes: 4 vs 5 code points behave like "ivan"/"ivana".
    EXPECT_NEAR(name_similarity(ivan, iwan), name_similarity("ivan", "ivana"), 1e-12);
    EXPECT_EQ(name_similarity(ivan, iwan), name_similarity(iwan, ivan));
    EXPECT_EQ(name_similarity("Mar\xC3\xAD"
                              "a",
                              "Maria \xF0\x9F\x98\x80"),
              1.0);
}

TEST(NameSimilarity, LongInputsDoNotCrash) {
    std::string a;
    while (a.size() < 10240)
        a += "Garc\xC3\xAD"
             "a ";
    const double r = name_similarity(a, all_bytes(10240));
    EXPECT_GE(r, 0.0);
    EXPECT_LE(r, 1.0);
    EXPECT_EQ(name_similarity(a, a), 1.0);
}

// The matcher scores names it has already normalized: the same figure as
// name_similarity on the raw names.
TEST(NameSimilarity, NormalizedNamesGiveTheSameFigure) {
    const char *pairs[][2] = {{"Martha", "MARHTA"},
                              {"dwayne", "duane"},
                              {"P\xC3\xA9rez Garc\xC3\xAD"
                               "a",
                               "garcia, perez"},
                              {"Nguy\xE1\xBB\x85n V\xC4\x83n", "nguyen van a"},
                              {"\xC3\x98ystein", "Oystein"}};
    for (const auto &p : pairs) {
        const auto na = ct4::core::normalize_name(p[0]);
        const auto nb = ct4::core::normalize_name(p[1]);
        ASSERT_TRUE(na && nb) << p[0] << " / " << p[1];
        EXPECT_EQ(ct4::core::normalized_name_similarity(*na, *nb), name_similarity(p[0], p[1]))
            << p[0] << " / " << p[1];
    }
    EXPECT_EQ(ct4::core::normalized_name_similarity("", "ana"), 0.0);
}
