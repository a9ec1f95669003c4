// Bounded top-N ranking for the HTML report: the weighted Space-Saving heavy-hitters sketch
// (Metwally, Agrawal, El Abbadi, "Efficient Computation of Frequent and Top-k Elements in Data
// Streams", 2005), so ranking by bytes over millions of distinct addresses uses fixed memory.
//
// The sketch keeps at most `capacity` keys. A new key arriving when the table is full replaces
// the key with the smallest count and inherits that count as its possible over-estimate
// (`error`). Guarantees, with W the total weight added:
//   - every key whose true weight exceeds W / capacity is in the table;
//   - for every kept key: count - error <= true weight <= count;
//   - the smallest kept count (and so every error) is at most W / capacity.
// While no key was ever evicted (`exact()`), counts are exact.
//
// Memory is allocated once, in the constructor: the hash map is reserved well above capacity,
// so steady-state Add() never allocates (erase + insert reuse the table's slots).
#ifndef NF_COLLECTOR_OUTPUT_REPORT_SPACE_SAVING_H_
#define NF_COLLECTOR_OUTPUT_REPORT_SPACE_SAVING_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace nf::report {

template <typename Key, typename Less = std::less<Key>>
class SpaceSaving {
 public:
  struct Entry {
    Key key{};
    uint64_t count = 0;  // upper bound of the key's true weight
    uint64_t error = 0;  // count - error is a lower bound
  };

  explicit SpaceSaving(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
    entries_.reserve(capacity_);
    heap_.reserve(capacity_);
    heap_pos_.reserve(capacity_);
    // Twice the capacity keeps the load low enough that erase/insert cycles are absorbed by
    // in-place tombstone cleanup instead of a reallocation.
    index_.reserve(capacity_ * 2);
  }

  void Add(const Key& key, uint64_t weight) {
    total_ += weight;
    auto it = index_.find(key);
    if (it != index_.end()) {
      const uint32_t i = it->second;
      entries_[i].count += weight;
      SiftDown(heap_pos_[i]);
      return;
    }
    if (entries_.size() < capacity_) {
      const uint32_t i = static_cast<uint32_t>(entries_.size());
      entries_.push_back(Entry{key, weight, 0});
      heap_.push_back(i);
      heap_pos_.push_back(static_cast<uint32_t>(heap_.size() - 1));
      index_.emplace(key, i);
      SiftUp(heap_pos_[i]);
      return;
    }
    // Full: the minimum makes room and hands its count over as the newcomer's error bound.
    const uint32_t i = heap_[0];
    Entry& victim = entries_[i];
    index_.erase(victim.key);
    ++evictions_;
    const uint64_t min = victim.count;
    victim = Entry{key, min + weight, min};
    index_.emplace(key, i);
    SiftDown(0);
  }

  // The `n` largest entries, by count descending (ties by key, so output is deterministic).
  std::vector<Entry> Top(size_t n) const {
    std::vector<Entry> out(entries_.begin(), entries_.end());
    auto by_count = [](const Entry& a, const Entry& b) {
      if (a.count != b.count) return a.count > b.count;
      return Less()(a.key, b.key);
    };
    n = std::min(n, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n), out.end(),
                      by_count);
    out.resize(n);
    return out;
  }

  size_t capacity() const { return capacity_; }
  size_t size() const { return entries_.size(); }
  // Keys replaced because the table was full (distinct keys beyond capacity, or returns).
  uint64_t evictions() const { return evictions_; }
  uint64_t total() const { return total_; }
  bool exact() const { return evictions_ == 0; }
  // Largest possible over-estimate of any kept count (0 while exact).
  uint64_t max_error() const {
    return exact() || heap_.empty() ? 0 : entries_[heap_[0]].count;
  }

 private:
  bool Smaller(uint32_t a, uint32_t b) const { return entries_[a].count < entries_[b].count; }
  void Swap(size_t a, size_t b) {
    std::swap(heap_[a], heap_[b]);
    heap_pos_[heap_[a]] = static_cast<uint32_t>(a);
    heap_pos_[heap_[b]] = static_cast<uint32_t>(b);
  }
  void SiftUp(size_t pos) {
    while (pos > 0) {
      const size_t parent = (pos - 1) / 2;
      if (!Smaller(heap_[pos], heap_[parent])) break;
      Swap(pos, parent);
      pos = parent;
    }
  }
  void SiftDown(size_t pos) {
    const size_t n = heap_.size();
    for (;;) {
      size_t smallest = pos;
      const size_t l = 2 * pos + 1;
      const size_t r = l + 1;
      if (l < n && Smaller(heap_[l], heap_[smallest])) smallest = l;
      if (r < n && Smaller(heap_[r], heap_[smallest])) smallest = r;
      if (smallest == pos) return;
      Swap(pos, smallest);
      pos = smallest;
    }
  }

  size_t capacity_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> heap_;      // entry indices, min-heap on count
  std::vector<uint32_t> heap_pos_;  // entry index -> position in heap_
  absl::flat_hash_map<Key, uint32_t> index_;
  uint64_t total_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace nf::report

#endif  // NF_COLLECTOR_OUTPUT_REPORT_SPACE_SAVING_H_
