// An open-addressing hash map from strings to V, for the identity matcher's
// key index (half a million keys per 100 000-lead run, a few million
// look-ups). One array of slots (a tag of the hash and the entry's index) and
// one vector of entries: no node per key, and a look-up of an absent key
// usually reads a single slot. std::unordered_map chased a node per look-up
// and allocated one per key. References to values stay valid only until the
// next insertion.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ct4::core {

template <class V>
class StringMap {
  public:
    // The value of `key`, inserted as V{} when absent.
    V &operator[](std::string_view key) {
        if ((entries_.size() + 1) * 4 > slots_.size() * 3) grow();
        uint64_t h = hash(key);
        size_t i = find_slot(h, key);
        if (slots_[i].at == 0) {
            entries_.emplace_back(std::string(key), V{});
            hashes_.push_back(h);
            slots_[i] = {tag(h), (uint32_t)entries_.size()};
        }
        return entries_[slots_[i].at - 1].second;
    }
    // The value of `key`, or nullptr.
    const V *find(std::string_view key) const {
        if (slots_.empty()) return nullptr;
        size_t i = find_slot(hash(key), key);
        return slots_[i].at ? &entries_[slots_[i].at - 1].second : nullptr;
    }
    // Room for `n` keys without growing.
    void reserve(size_t n) {
        entries_.reserve(n);
        hashes_.reserve(n);
        size_t want = 16;
        while (want * 3 < n * 4 + 4) want *= 2;
        if (want > slots_.size()) rehash(want);
    }
    size_t size() const { return entries_.size(); }

  private:
    struct Slot {
        uint32_t tag;
        uint32_t at;  // entry index + 1; 0: empty
    };
    static uint64_t hash(std::string_view k) { return std::hash<std::string_view>{}(k); }
    static uint32_t tag(uint64_t h) { return (uint32_t)(h >> 32); }
    // The slot holding `key`, or the empty slot where it would go.
    size_t find_slot(uint64_t h, std::string_view key) const {
        size_t mask = slots_.size() - 1;
        for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
            const Slot &s = slots_[i];
            if (s.at == 0) return i;
            if (s.tag == tag(h) && entries_[s.at - 1].first == key) return i;
        }
    }
    void grow() { rehash(slots_.empty() ? 16 : slots_.size() * 2); }
    void rehash(size_t n) {
        slots_.assign(n, Slot{0, 0});
        size_t mask = n - 1;
        for (size_t e = 0; e < entries_.size(); e++) {
            size_t i = (size_t)hashes_[e] & mask;
            while (slots_[i].at) i = (i + 1) & mask;
            slots_[i] = {tag(hashes_[e]), (uint32_t)(e + 1)};
        }
    }

    std::vector<Slot> slots_;  // a power of two, at most 3/4 full
    std::vector<std::pair<std::string, V>> entries_;
    std::vector<uint64_t> hashes_;  // of entries_, for rehashing
};

}  // namespace ct4::core
