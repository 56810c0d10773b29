#include "core/string_map.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using ct4::core::StringMap;

TEST(StringMap, InsertsDefaultAndFindsAgain) {
    StringMap<int> m;
    EXPECT_EQ(m.find("0519"), nullptr);
    m["0519"] += 3;
    m["0519"] += 4;
    m["1Q100"] = 1;
    ASSERT_NE(m.find("0519"), nullptr);
    EXPECT_EQ(*m.find("0519"), 7);
    EXPECT_EQ(*m.find("1Q100"), 1);
    EXPECT_EQ(m.find("1Q10"), nullptr);
    EXPECT_EQ(m.find(""), nullptr);
    m[""] = 9;  // the empty key is a key like any other
    EXPECT_EQ(*m.find(""), 9);
    EXPECT_EQ(m.size(), 3u);
}

TEST(StringMap, KeepsEveryValueAcrossGrowth) {
    StringMap<std::vector<long>> m;
    for (long i = 0; i < 50000; i++) m["k" + std::to_string(i)].push_back(i);
    EXPECT_EQ(m.size(), 50000u);
    for (long i = 0; i < 50000; i++) {
        const auto *v = m.find("k" + std::to_string(i));
        ASSERT_NE(v, nullptr) << i;
        ASSERT_EQ(v->size(), 1u);
        EXPECT_EQ((*v)[0], i);
    }
    EXPECT_EQ(m.find("k50000"), nullptr);
}

TEST(StringMap, AgreesWithUnorderedMapOnRandomKeys) {
    std::mt19937_64 rng(42);
    StringMap<int> m;
    m.reserve(1000);
    std::unordered_map<std::string, int> ref;
    for (int n = 0; n < 200000; n++) {
        std::string k = std::to_string(rng() % 30000);
        if (rng() % 3 == 0) {
            const int *a = m.find(k);
            auto b = ref.find(k);
            ASSERT_EQ(a == nullptr, b == ref.end()) << k;
            if (a) {
                EXPECT_EQ(*a, b->second);
            }
        } else {
            m[k]++;
            ref[k]++;
        }
    }
    EXPECT_EQ(m.size(), ref.size());
}
