#include "collector/ha/ha_spool.h"

#include <algorithm>
#include <cstring>

namespace nf {
namespace {

// Little-endian whatever the host, so the digest is the same on every platform.
uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

// MurmurHash64A's construction (public domain), with a fixed seed: fast (8 bytes per step)
// and well mixed, which is all a digest of datagrams that already carry sequence numbers and
// timestamps needs. It is not a defence against a forger; the peer link accepts only the peer.
uint64_t DatagramDigest(std::span<const uint8_t> bytes) {
  constexpr uint64_t kM = 0xc6a4a7935bd1e995ULL;
  constexpr int kR = 47;
  const size_t n = bytes.size();
  uint64_t h = 0x6e6674686173686bULL ^ (n * kM);
  const uint8_t* p = bytes.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k = LoadLe64(p + i);
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h ^= k;
    h *= kM;
  }
  const size_t rest = n - i;
  if (rest > 0) {
    uint64_t k = 0;
    for (size_t j = rest; j > 0; --j) k = (k << 8) | p[i + j - 1];
    h ^= k;
    h *= kM;
  }
  h ^= h >> kR;
  h *= kM;
  h ^= h >> kR;
  return h;
}

HaSpool::HaSpool(const HaSpoolOptions& options) : options_(options) {
  options_.max_datagrams = std::max<size_t>(options_.max_datagrams, 1);
  data_.resize(std::max<size_t>(options_.max_bytes, 1));
  entries_.resize(options_.max_datagrams);
  index_.reserve(options_.max_datagrams);
  early_.reserve(options_.max_datagrams);
}

void HaSpool::Add(uint64_t digest, std::span<const uint8_t> bytes, const ExporterId& exporter,
                  TimeUs receive_time) {
  if (auto it = early_.find(digest); it != early_.end()) {
    // The active node wrote it before it got here: nothing to keep.
    early_.erase(it);
    ++stats_.confirmed_before_arrival;
    return;
  }
  const size_t cap = data_.size();
  const size_t length = bytes.size();
  if (length > cap) {
    ++stats_.too_large;
    return;
  }
  // Room for the entry, and for its bytes in one contiguous piece of the ring.
  while (count_ > 0) {
    const size_t skip = write_ + length > cap ? cap - write_ : 0;
    if (count_ < entries_.size() && used_bytes_ + skip + length <= cap) break;
    PopFront(false);
  }
  if (count_ == 0) {
    write_ = 0;
    used_bytes_ = 0;
  }
  const size_t skip = write_ + length > cap ? cap - write_ : 0;
  if (skip > 0) write_ = 0;
  Entry& e = entries_[(head_ + count_) % entries_.size()];
  e.digest = digest;
  e.time = receive_time;
  e.exporter = exporter;
  e.offset = write_;
  e.length = static_cast<uint32_t>(length);
  e.skipped = static_cast<uint32_t>(skip);
  e.confirmed = false;
  if (length > 0) std::memcpy(data_.data() + write_, bytes.data(), length);
  write_ = (write_ + length) % cap;
  used_bytes_ += skip + length;
  // A datagram seen twice (an exporter that repeats itself) keeps its first entry: one
  // confirmation then covers one copy, and the other is replayed, as the active wrote it twice.
  index_.try_emplace(digest, (head_ + count_) % entries_.size());
  ++count_;
  ++unconfirmed_;
  ++stats_.spooled;
}

void HaSpool::Confirm(uint64_t digest, TimeUs now) {
  auto it = index_.find(digest);
  if (it == index_.end()) {
    if (early_.size() < options_.max_datagrams) {
      early_.try_emplace(digest, now);
    } else {
      ++stats_.confirmations_unmatched;  // no room to remember it
    }
    return;
  }
  Entry& e = entries_[it->second];
  index_.erase(it);
  if (!e.confirmed) {
    e.confirmed = true;
    --unconfirmed_;
    ++stats_.confirmed;
  }
  TrimConfirmed();
}

void HaSpool::PopFront(bool expired) {
  Entry& e = entries_[head_];
  if (!e.confirmed) {
    --unconfirmed_;
    if (expired) {
      ++stats_.expired_unconfirmed;
    } else {
      ++stats_.evicted_unconfirmed;
    }
    if (auto it = index_.find(e.digest); it != index_.end() && it->second == head_) {
      index_.erase(it);
    }
  }
  used_bytes_ -= e.skipped + e.length;
  head_ = (head_ + 1) % entries_.size();
  --count_;
  if (count_ == 0) {
    write_ = 0;
    used_bytes_ = 0;
  }
}

void HaSpool::TrimConfirmed() {
  while (count_ > 0 && entries_[head_].confirmed) PopFront(false);
}

void HaSpool::Expire(TimeUs now) {
  while (count_ > 0 && entries_[head_].time + options_.max_age_us < now) PopFront(true);
  TrimConfirmed();
  for (auto it = early_.begin(); it != early_.end();) {
    if (it->second + options_.max_age_us < now) {
      ++stats_.confirmations_unmatched;
      early_.erase(it++);
    } else {
      ++it;
    }
  }
}

size_t HaSpool::Replay(const ReplayFn& fn) {
  size_t handed = 0;
  for (size_t i = 0; i < count_; ++i) {
    const Entry& e = entries_[(head_ + i) % entries_.size()];
    if (e.confirmed) continue;
    fn(std::span<const uint8_t>(data_.data() + e.offset, e.length), e.exporter, e.time);
    ++handed;
  }
  stats_.replayed += handed;
  Clear();
  return handed;
}

void HaSpool::Clear() {
  head_ = 0;
  count_ = 0;
  unconfirmed_ = 0;
  write_ = 0;
  used_bytes_ = 0;
  index_.clear();
  early_.clear();
}

}  // namespace nf
