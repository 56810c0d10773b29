// JsonbWriter against bytes made by PostgreSQL 15's jsonb_in itself. The
// reference hex strings were taken from a throwaway cluster: each JSON text
// was stored in a jsonb column with STORAGE PLAIN (so the datum keeps its
// 4-byte varlena header on disk) and read back raw with pageinspect's
// heap_page_items + tuple_data_split. The in-database twin of this test is
// ct4._jsonb_writer_selftest() (sql/06_jsonb_writer.sql).
#include "core/jsonb_writer.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

using ct4::core::JsonbWriter;

namespace {

std::string hex(const std::string &bytes) {
    static const char *digits = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

// Drives a JsonbWriter from JSON text (test-only; the subset the reference
// documents use: no escapes in strings, integers only).
class TextDriver {
  public:
    TextDriver(const std::string &text, JsonbWriter &w) : s_(text), w_(w) {}
    void run() {
        value();
        ws();
        if (i_ != s_.size()) throw std::runtime_error("trailing text");
    }

  private:
    void ws() {
        while (i_ < s_.size() && std::isspace((unsigned char)s_[i_])) i_++;
    }
    std::string str() {
        size_t end = s_.find('"', ++i_);
        std::string r = s_.substr(i_, end - i_);
        i_ = end + 1;
        return r;
    }
    void value() {
        ws();
        char c = s_[i_];
        if (c == '{') {
            w_.begin_object();
            i_++;
            ws();
            if (s_[i_] == '}') {
                i_++;
            } else {
                for (;;) {
                    ws();
                    w_.key(str());
                    ws();
                    i_++;  // ':'
                    value();
                    ws();
                    if (s_[i_++] == '}') break;
                }
            }
            w_.end_object();
        } else if (c == '[') {
            w_.begin_array();
            i_++;
            ws();
            if (s_[i_] == ']') {
                i_++;
            } else {
                for (;;) {
                    value();
                    ws();
                    if (s_[i_++] == ']') break;
                }
            }
            w_.end_array();
        } else if (c == '"') {
            w_.string(str());
        } else if (s_.compare(i_, 4, "true") == 0) {
            w_.boolean(true);
            i_ += 4;
        } else if (s_.compare(i_, 5, "false") == 0) {
            w_.boolean(false);
            i_ += 5;
        } else if (s_.compare(i_, 4, "null") == 0) {
            w_.null();
            i_ += 4;
        } else {
            size_t used = 0;
            w_.int64(std::stoll(s_.substr(i_), &used));
            i_ += used;
        }
    }
    const std::string &s_;
    JsonbWriter &w_;
    size_t i_ = 0;
};

struct Reference {
    const char *name;
    const char *json;
    const char *pg_hex;  // jsonb_in's varlena, 4-byte header included
};

const Reference kReferences[] = {
    {"example",
     R"({"rule":"earliest_eligible_lead","lead_id":729,"trips_per_day":[{"date":"2024-11-23","trips":3}],"ok":true,"x":null})",
     "9002000005000020010000800200000004000000070000000d0000000000004000000030160000000b00001038000"
     "050786f6b72756c656c6561645f696474726970735f7065725f6461796561726c696573745f656c696769626c655f"
     "6c656164000000200000000080d90201000040300000d00200002004000080050000000a000000090000106461746"
     "57472697073323032342d31312d3233002000000000800300"},
    {"ints",
     R"([0,7,9999,10000,123456789,-5,9007199254740993,-9223372036854775808,9223372036854775807,100000000,-10000])",
     "a00200000b000040060000900a00001008000010080000100c000010080000100e000010120000101000001008000"
     "01008000010180000000080000020000000008007002000000000800f272000000001800100300000000280010029"
     "09851a2000000000a005003800000003802f23c8076215e10300004000000004a09a032c0d70016515b0164000000"
     "004809a032c0d70016515af1620000000028001002000000001a00100"},
    {"scalar_int", R"(7)", "5000000001000050080000902000000000800700"},
    {"scalar_zero", R"(0)", "480000000100005006000090180000000080"},
    {"scalar_str", R"("hi")", "3800000001000050020000806869"},
    {"scalar_null", R"(null)", "3000000001000050000000c0"},
    {"scalar_true", R"(true)", "3000000001000050000000b0"},
    {"empty_obj", R"({})", "2000000000000020"},
    {"empty_arr", R"([])", "2000000000000040"},
    {"nested", R"({"a":[1,[2,{"b":{}}],[]],"c":{"d":[{"e":null}]},"e":false})",
     "340200000300002001000080010000000100000045000050250000500000002061636500030000400800009028000"
     "050040000502000000000800100020000400800009014000050200000000080020001000020010000800700005062"
     "000000000000200000004001000020010000801800005064000000010000400d0000d001000020010000800000004"
     "065"},
    {"unicode", R"({"name":"José Ñúñez","emoji":"😀","日本":"東京"})",
     "1c010000030000200400008005000000060000000e00000004000000060000006e616d65656d6f6a69e697a5e69ca"
     "c4a6f73c3a920c391c3bac3b1657af09f9880e69db1e4baac"},
    {"keyorder", R"({"bbb":1,"a":2,"cc":3,"aa":4,"b":5,"ab":"x"})",
     "c00100000600002001000080010000000200000002000000020000000300000009000010080000100800001001000"
     "0000b0000100800001061626161616263636262620020000000008002002000000000800500200000000080040078"
     "00000020000000008003002000000000800100"},
    {"obj40",
     R"({"k0":0,"k1":"s","k2":74,"k3":"sss","k4":148,"k5":"","k6":222,"k7":"ss","k8":296,"k9":"ssss","k10":370,"k11":"s","k12":444,"k13":"sss","k14":518,"k15":"","k16":592,"k17":"ss","k18":666,"k19":"ssss","k20":740,"k21":"s","k22":814,"k23":"sss","k24":888,"k25":"","k26":962,"k27":"ss","k28":1036,"k29":"ssss","k30":1110,"k31":"s","k32":1184,"k33":"sss","k34":1258,"k35":"","k36":1332,"k37":"ss","k38":1406,"k39":"ssss"})",
     "500a00002800002002000080020000000200000002000000020000000200000002000000020000000200000002000"
     "000030000000300000003000000030000000300000003000000030000000300000003000000030000000300000003"
     "000000030000000300000003000000030000000300000003000000030000000300000003000000030000005900008"
     "003000000030000000300000003000000030000000300000003000000080000100100000009000010030000000900"
     "00100000000008000010020000000a0000100400000008000010010000000b0000100300000009000010000000000"
     "8000010020000000a0000100400000008000010010000000b00001003000000fc0000900000000008000010020000"
     "000a0000100400000008000010010000000b00001003000000090000100000000008000010020000000a000010040"
     "000006b306b316b326b336b346b356b366b376b386b396b31306b31316b31326b31336b31346b31356b31366b3137"
     "6b31386b31396b32306b32316b32326b32336b32346b32356b32366b32376b32386b32396b33306b33316b33326b3"
     "3336b33346b33356b33366b33376b33386b3339000018000000008073002000000000804a00737373002000000000"
     "809400200000000080de0073730000200000000080280173737373200000000080720173000000200000000080bc0"
     "17373730020000000008006022000000000805002737300002000000000809a0273737373200000000080e4027300"
     "00002000000000802e03737373002000000000807803200000000080c203737300002000000000800c04737373732"
     "00000000080560473000000200000000080a00473737300200000000080ea04200000000080340573730000200000"
     "0000807e0573737373"},
    {"arr70",
     R"([0,"v",null,3003,"",true,6006,"vvv",null,9009,"vv",true,12012,"v",null,15015,"",true,18018,"vvv",null,21021,"vv",true,24024,"v",null,27027,"",true,30030,"vvv",null,33033,"vv",true,36036,"v",null,39039,"",true,42042,"vvv",null,45045,"vv",true,48048,"v",null,51051,"",true,54054,"vvv",null,57057,"vv",true,60060,"v",null,63063,"",true,66066,"vvv",null,69069])",
     "280900004600004006000090010000000000004009000010000000000000003008000010030000000000004009000"
     "01002000000000000300c00001001000000000000400b00001000000000000000300c00001003000000000000400d"
     "00001002000000000000300a00001001000000000000400b00001000000000000000300c00001003000000810000c"
     "00d00001002000000000000300a00001001000000000000400b00001000000000000000300c000010030000000000"
     "00400d00001002000000000000300a00001001000000000000400b00001000000000000000300c000010030000000"
     "00000400d00001002000000000000300a00001001000000000000400b0000100e010080000000300c000010030000"
     "00000000400d0000101800000000807600200000000080bb0b2000000000807617767676002000000000803123767"
     "600002800000001800100dc0776002800000001800100971300002800000001800100521f76767600000028000000"
     "01800200fd0376762800000001800200b80f76002800000001800200731b000028000000018003001e00767676000"
     "0002800000001800300d90b767628000000018003009417760028000000018003004f2300002800000001800400fa"
     "077676760000002800000001800400b51376762800000001800400701f760028000000018005001b0400002800000"
     "001800500d60f7676760000002800000001800500911b767628000000018006003c0076002800000001800600f70b"
     "00002800000001800600b21776767600000028000000018006006d23"},
};

}  // namespace

TEST(JsonbWriter, MatchesPostgresBytesForReferenceDocuments) {
    JsonbWriter w;  // one writer reused across documents, as the job does
    for (const Reference &r : kReferences) {
        w.reset();
        TextDriver(r.json, w).run();
        EXPECT_EQ(hex(w.finish()), r.pg_hex) << r.name << ": " << r.json;
    }
}

TEST(JsonbWriter, ExampleByBuilderCalls) {
    JsonbWriter w;
    // {"rule":"earliest_eligible_lead","lead_id":729,"trips_per_day":[{"date":"2024-11-23","trips":3}],"ok":true,"x":null}
    w.begin_object();
    w.key("rule");
    w.string("earliest_eligible_lead");
    w.key("lead_id");
    w.int64(729);
    w.key("trips_per_day");
    w.begin_array();
    w.begin_object();
    w.key("date");
    w.string("2024-11-23");
    w.key("trips");
    w.int64(3);
    w.end_object();
    w.end_array();
    w.key("ok");
    w.boolean(true);
    w.key("x");
    w.null();
    w.end_object();
    const std::string &bytes = w.finish();
    EXPECT_EQ(hex(bytes), kReferences[0].pg_hex);
    // The header is the varlena length << 2 (SET_VARSIZE, little-endian).
    uint32_t header = (uint32_t)(unsigned char)bytes[0] | (uint32_t)(unsigned char)bytes[1] << 8 |
                      (uint32_t)(unsigned char)bytes[2] << 16 |
                      (uint32_t)(unsigned char)bytes[3] << 24;
    EXPECT_EQ(header >> 2, bytes.size());
    EXPECT_EQ(bytes.size(), 164u);  // pg_column_size of the same jsonb
}

TEST(JsonbWriter, IntegersByBuilderCalls) {
    JsonbWriter w;
    // [0,7,9999,10000,123456789,-5,9007199254740993,-9223372036854775808,9223372036854775807,100000000,-10000]
    w.begin_array();
    for (int64_t v : {int64_t(0), int64_t(7), int64_t(9999), int64_t(10000), int64_t(123456789),
                      int64_t(-5), int64_t(9007199254740993), std::numeric_limits<int64_t>::min(),
                      std::numeric_limits<int64_t>::max(), int64_t(100000000), int64_t(-10000)})
        w.int64(v);
    w.end_array();
    EXPECT_EQ(hex(w.finish()), kReferences[1].pg_hex);
}

TEST(JsonbWriter, FortyKeysAndSeventyElementsByLoops) {
    JsonbWriter w;
    // obj40: {"k0":0,"k1":"s",...}: int i*37 for even i, "s" x (i % 5) for odd i
    w.begin_object();
    for (int i = 0; i < 40; i++) {
        w.key("k" + std::to_string(i));
        if (i % 2 == 0)
            w.int64(i * 37);
        else
            w.string(std::string((size_t)(i % 5), 's'));
    }
    w.end_object();
    EXPECT_EQ(hex(w.finish()), kReferences[12].pg_hex);
    ASSERT_STREQ(kReferences[12].name, "obj40");

    w.reset();
    // arr70: i*1001 when i%3==0, "v" x (i%4) when i%3==1, else true (odd i) / null
    w.begin_array();
    for (int i = 0; i < 70; i++) {
        if (i % 3 == 0)
            w.int64(i * 1001);
        else if (i % 3 == 1)
            w.string(std::string((size_t)(i % 4), 'v'));
        else if (i % 2)
            w.boolean(true);
        else
            w.null();
    }
    w.end_array();
    EXPECT_EQ(hex(w.finish()), kReferences[13].pg_hex);
    ASSERT_STREQ(kReferences[13].name, "arr70");
}

TEST(JsonbWriter, RootScalars) {
    JsonbWriter w;
    w.int64(7);
    EXPECT_EQ(hex(w.finish()), "5000000001000050080000902000000000800700");
    w.reset();
    w.string("hi");
    EXPECT_EQ(hex(w.finish()), "3800000001000050020000806869");
    w.reset();
    w.null();
    EXPECT_EQ(hex(w.finish()), "3000000001000050000000c0");
}

TEST(JsonbWriter, DuplicateKeysAndNulBytesAreRejected) {
    JsonbWriter w;
    w.begin_object();
    w.key("a");
    w.int64(1);
    w.key("a");
    w.int64(2);
    EXPECT_THROW(w.end_object(), std::invalid_argument);

    w.reset();
    EXPECT_THROW(w.string(std::string("a\0b", 3)), std::invalid_argument);
    w.reset();
    w.begin_object();
    EXPECT_THROW(w.key(std::string("\0", 1)), std::invalid_argument);
}

TEST(JsonbWriter, MisuseIsALogicError) {
    JsonbWriter w;
    EXPECT_THROW(w.finish(), std::logic_error);  // nothing written
    w.begin_object();
    EXPECT_THROW(w.int64(1), std::logic_error);  // value without key
    w.reset();
    w.begin_object();
    w.key("a");
    EXPECT_THROW(w.key("b"), std::logic_error);      // key after key
    EXPECT_THROW(w.end_object(), std::logic_error);  // key without value
    EXPECT_THROW(w.end_array(), std::logic_error);   // wrong container
    w.reset();
    w.begin_array();
    EXPECT_THROW(w.key("a"), std::logic_error);  // key in an array
    EXPECT_THROW(w.finish(), std::logic_error);  // array still open
    w.end_array();
    EXPECT_THROW(w.begin_array(), std::logic_error);  // a second root
    EXPECT_EQ(hex(w.finish()), "2000000000000040");   // [] survives the refusal
}

// [0.961111,-2.50,1e-05,1e-70,1e300] as PostgreSQL 15 stores it (read with
// pageinspect; on disk the datum had a 1-byte header, replaced here by the
// 4-byte one jsonb_in returns: 82 << 2). 1e-70 and 1e300 are long numerics.
TEST(JsonbWriter, DecimalsAsNumericInMakesThem) {
    JsonbWriter w;
    w.begin_array();
    for (const char *t : {"0.961111", "-2.50", "1e-05", "1e-70", "1e300"}) w.decimal(t);
    w.end_array();
    EXPECT_EQ(hex(w.finish()),
              "48010000"
              "050000400a0000900c0000100a0000100a0000100c000010280000007f838b254c04000028000000"
              "00a102008813000020000000fe82e803280000004600eeff640000002800000000004b000100");
    // An integer given as text is the integer.
    JsonbWriter a, b;
    a.decimal("729");
    b.int64(729);
    EXPECT_EQ(hex(a.finish()), hex(b.finish()));
}

TEST(JsonbWriter, DecimalRejectsWhatIsNotAJsonNumber) {
    for (const char *t : {"", "-", "01", ".5", "5.", "1e", "1e+", "0x10", "NaN", "1.5.2", " 1"}) {
        JsonbWriter w;
        EXPECT_THROW(w.decimal(t), std::invalid_argument) << t;
    }
}
