#include "exporter/meter/flow_table.h"

#include <sys/mman.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "absl/numeric/int128.h"
#include "common/platform.h"

namespace nf {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kProtoTcp = 6;

// Zeroed, lazily backed memory for the entry pool and slot array. Huge pages matter here: every
// packet touches a random slot and entry, and with 4 KiB pages nearly every such access also
// missed the TLB (a 1M-flow table spans ~30,000 pages). Untouched capacity still costs no RAM.
void* AllocateTable(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  AdviseHugePages(p, bytes);  // advice only: without huge pages the table still works
  return p;
}

// 64x64->128 multiply folded to 64 bits (the "mum" step of wyhash): one multiply mixes every
// input bit into every output bit.
inline uint64_t Mum(uint64_t a, uint64_t b) {
  const absl::uint128 m = absl::uint128(a) * b;
  return absl::Uint128Low64(m) ^ absl::Uint128High64(m);
}

// Per-process random key: crafted traffic cannot aim its keys at one probe run (hash flooding)
// without knowing it. Flow results never depend on it, only slot positions.
uint64_t ProcessHashSeed() {
  static const uint64_t seed = [] {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof s)) {
      s = reinterpret_cast<uintptr_t>(&s) * 0x9e3779b97f4a7c15ull;  // ASLR as a fallback
    }
    return s | 1;
  }();
  return seed;
}

// The flow key's hash. absl::Hash's field-by-field combine was a tenth of flowexport's CPU in
// perf; this one (every key byte read as part of a 64-bit word, four multiplies) stays under 2%.
uint64_t FlowKeyHash(const FlowKey& k) {
  static_assert(sizeof(k.src.bytes) == 16);
  uint64_t s0, s1, d0, d1;
  std::memcpy(&s0, k.src.bytes.data(), 8);
  std::memcpy(&s1, k.src.bytes.data() + 8, 8);
  std::memcpy(&d0, k.dst.bytes.data(), 8);
  std::memcpy(&d1, k.dst.bytes.data() + 8, 8);
  const uint64_t ports = (uint64_t{k.src_port} << 48) | (uint64_t{k.dst_port} << 32) |
                         (uint64_t{k.protocol} << 24) | (uint64_t{k.tos} << 16) | k.vlan;
  const uint64_t misc =
      (uint64_t{k.input_if} << 16) | (uint64_t{k.src.version} << 8) | k.dst.version;
  const uint64_t seed = ProcessHashSeed();
  const uint64_t a = Mum(s0 ^ seed, s1 ^ 0xa0761d6478bd642full);
  const uint64_t b = Mum(d0 ^ 0xe7037ed1a0b428dbull, d1 ^ seed);
  const uint64_t c = Mum(ports ^ 0x8ebc6af09c88c6e3ull, misc ^ 0x589965cc75374cc3ull ^ seed);
  return Mum(a ^ c ^ 0x1d8e4e27c47d124full, b ^ seed);
}

}  // namespace

static_assert(sizeof(FlowKey) == 48, "update the memory figures in flow_table.h");

FlowTable::FlowTable(const FlowTableOptions& options) : options_(options) {
  static_assert(sizeof(Entry) == 104, "update the memory figures in flow_table.h");
  capacity_ = options_.max_flows == 0 ? 1 : options_.max_flows;
  if (capacity_ > (size_t{1} << 30)) capacity_ = size_t{1} << 30;
  size_t slots = 16;
  while (slots < 2 * capacity_) slots <<= 1;
  slot_mask_ = static_cast<uint32_t>(slots - 1);
  // Both types are implicit-lifetime aggregates, valid in zeroed memory.
  entries_bytes_ = capacity_ * sizeof(Entry);
  slots_bytes_ = slots * sizeof(Slot);
  entries_ = static_cast<Entry*>(AllocateTable(entries_bytes_));
  slots_ = static_cast<Slot*>(AllocateTable(slots_bytes_));
}

FlowTable::~FlowTable() {
  if (entries_ != nullptr) ::munmap(entries_, entries_bytes_);
  if (slots_ != nullptr) ::munmap(slots_, slots_bytes_);
}

uint32_t FlowTable::HashOf(const FlowKey& key, const FlowTableOptions& options) {
  const uint64_t h =
      options.hash_override != nullptr ? options.hash_override(key) : FlowKeyHash(key);
  return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t FlowTable::HashKey(const FlowKey& key) const { return HashOf(key, options_); }

FlowKey FlowTable::KeyOf(const PacketMeta& meta, uint32_t input_if) {
  FlowKey key;
  key.src = meta.src;
  key.dst = meta.dst;
  key.src_port = meta.src_port;
  key.dst_port = meta.dst_port;
  key.protocol = meta.protocol;
  key.tos = meta.tos;
  key.vlan = meta.vlan;
  key.input_if = input_if;
  return key;
}

uint32_t FlowTable::Find(const FlowKey& key, uint32_t hash) const {
  for (uint32_t pos = hash & slot_mask_;; pos = (pos + 1) & slot_mask_) {
    const Slot& s = slots_[pos];
    if (s.index_plus1 == 0) return kNil;
    if (s.hash == hash && entries_[s.index_plus1 - 1].key == key) return pos;
  }
}

void FlowTable::InsertSlot(uint32_t hash, uint32_t index) {
  uint32_t pos = hash & slot_mask_;
  while (slots_[pos].index_plus1 != 0) pos = (pos + 1) & slot_mask_;
  slots_[pos] = Slot{hash, index + 1};
}

uint32_t FlowTable::SlotOf(uint32_t index) const {
  const uint32_t hash = entries_[index].hash;
  for (uint32_t pos = hash & slot_mask_;; pos = (pos + 1) & slot_mask_) {
    if (slots_[pos].index_plus1 == index + 1) return pos;
    if (slots_[pos].index_plus1 == 0) return kNil;  // cannot happen for a live entry
  }
}

void FlowTable::EraseSlot(uint32_t pos) {
  // Backward-shift deletion: pull later members of the probe run into the hole as long as
  // their home position does not lie (cyclically) after the hole.
  uint32_t hole = pos;
  for (uint32_t next = (hole + 1) & slot_mask_;; next = (next + 1) & slot_mask_) {
    const Slot s = slots_[next];
    if (s.index_plus1 == 0) break;
    const uint32_t home = s.hash & slot_mask_;
    const uint32_t dist_next = (next - home) & slot_mask_;
    const uint32_t dist_hole = (hole - home) & slot_mask_;
    if (dist_hole <= dist_next) {
      slots_[hole] = s;
      hole = next;
    }
  }
  slots_[hole] = Slot{0, 0};
}

void FlowTable::ListUnlinkLru(uint32_t i) {
  Entry& e = entries_[i];
  if (e.lru_prev != kNil)
    entries_[e.lru_prev].lru_next = e.lru_next;
  else
    lru_.head = e.lru_next;
  if (e.lru_next != kNil)
    entries_[e.lru_next].lru_prev = e.lru_prev;
  else
    lru_.tail = e.lru_prev;
}

void FlowTable::ListPushLru(uint32_t i) {
  Entry& e = entries_[i];
  e.lru_prev = lru_.tail;
  e.lru_next = kNil;
  if (lru_.tail != kNil)
    entries_[lru_.tail].lru_next = i;
  else
    lru_.head = i;
  lru_.tail = i;
}

void FlowTable::ListUnlinkAge(uint32_t i) {
  Entry& e = entries_[i];
  if (e.age_prev != kNil)
    entries_[e.age_prev].age_next = e.age_next;
  else
    age_.head = e.age_next;
  if (e.age_next != kNil)
    entries_[e.age_next].age_prev = e.age_prev;
  else
    age_.tail = e.age_prev;
}

void FlowTable::ListPushAge(uint32_t i) {
  Entry& e = entries_[i];
  e.age_prev = age_.tail;
  e.age_next = kNil;
  if (age_.tail != kNil)
    entries_[age_.tail].age_next = i;
  else
    age_.head = i;
  age_.tail = i;
}

void FlowTable::Export(uint32_t index, EndReason reason, FlowSink sink) {
  Entry& e = entries_[index];
  FlowRecord r;
  r.key = e.key;
  r.packets = e.packets;
  r.bytes = e.bytes;
  r.first_us = e.first_us;
  r.last_us = e.last_us;
  r.tcp_flags = e.tcp_flags;
  r.end_reason = reason;
  r.min_ttl = e.min_ttl;
  r.max_ttl = e.max_ttl;
  const uint32_t pos = SlotOf(index);
  if (pos != kNil) EraseSlot(pos);
  ListUnlinkLru(index);
  ListUnlinkAge(index);
  e.lru_next = free_head_;
  free_head_ = index;
  --active_;
  ++stats_.expired[static_cast<size_t>(reason) % kEndReasonSlots];
  sink(r);
}

void FlowTable::ExpireUntil(TimeUs now, FlowSink sink) {
  Drain(sink);
  ExpireDue(now, sink);
}

void FlowTable::ExpireDue(TimeUs now, FlowSink sink) {
  if (now > now_) now_ = now;
  now = now_;
  if (now < next_deadline_) return;
  // Idle flows: the LRU head is the flow seen longest ago. A flow whose active timeout came
  // first, and that no check saw in between, ends as an active timeout all the same: the
  // reason must not depend on when the table happens to look (a shard of --threads N looks
  // less often than one table, at moments that depend on which flows share it).
  while (lru_.head != kNil && now - entries_[lru_.head].last_us >= options_.inactive_timeout_us) {
    const Entry& e = entries_[lru_.head];
    const bool active_first =
        e.first_us + options_.active_timeout_us < e.last_us + options_.inactive_timeout_us;
    Export(lru_.head, active_first ? EndReason::kActiveTimeout : EndReason::kIdleTimeout, sink);
  }
  // Long-lived flows: the age head is the oldest flow.
  while (age_.head != kNil && now - entries_[age_.head].first_us >= options_.active_timeout_us) {
    Export(age_.head, EndReason::kActiveTimeout, sink);
  }
  next_deadline_ = INT64_MAX;
  if (lru_.head != kNil) {
    next_deadline_ = entries_[lru_.head].last_us + options_.inactive_timeout_us;
  }
  if (age_.head != kNil) {
    next_deadline_ =
        std::min(next_deadline_, entries_[age_.head].first_us + options_.active_timeout_us);
  }
}

void FlowTable::FlushAll(FlowSink sink) {
  Drain(sink);
  while (age_.head != kNil) Export(age_.head, EndReason::kForcedEnd, sink);
}

void FlowTable::Update(const PacketMeta& meta, FlowSink sink) {
  const FlowKey key = KeyOf(meta, options_.input_if);
  UpdateHashed(key, HashKey(key), meta.time_us, meta.l3_length, meta.tcp_flags, meta.ttl, sink);
}

void FlowTable::UpdateHashed(const FlowKey& key, uint32_t hash, TimeUs time_us,
                             uint32_t l3_length, uint8_t tcp_flags, uint8_t ttl, FlowSink sink) {
  Drain(sink);  // keeps packet order when callers mix the two forms
  Account(key, hash, time_us, l3_length, tcp_flags, ttl, sink);
}

void FlowTable::Enqueue(const PacketMeta& meta, FlowSink sink) {
  const FlowKey key = KeyOf(meta, options_.input_if);
  EnqueueHashed(key, HashKey(key), meta.time_us, meta.l3_length, meta.tcp_flags, meta.ttl, sink);
}

void FlowTable::PrefetchEntry(uint32_t hash) const {
  const Slot& s = slots_[hash & slot_mask_];
  if (s.index_plus1 != 0 && s.hash == hash) {
    const char* e = reinterpret_cast<const char*>(&entries_[s.index_plus1 - 1]);
    __builtin_prefetch(e, 1);
    __builtin_prefetch(e + sizeof(Entry) - 1, 1);  // an entry may straddle two cache lines
  }
}

void FlowTable::EnqueueHashed(const FlowKey& key, uint32_t hash, TimeUs time_us,
                              uint32_t l3_length, uint8_t tcp_flags, uint8_t ttl, FlowSink sink) {
  Pending& p = pending_[(pending_head_ + queued_) & kPipelineMask];
  p.key = key;
  p.hash = hash;
  p.time_us = time_us;
  p.l3_length = l3_length;
  p.tcp_flags = tcp_flags;
  p.ttl = ttl;
  __builtin_prefetch(&slots_[hash & slot_mask_]);
  ++queued_;
  if (queued_ > kPipelineDepth / 2) {
    PrefetchEntry(pending_[(pending_head_ + queued_ - 1 - kPipelineDepth / 2) & kPipelineMask].hash);
  }
  if (queued_ == kPipelineDepth) {
    const Pending& h = pending_[pending_head_];
    pending_head_ = (pending_head_ + 1) & kPipelineMask;
    --queued_;
    Account(h.key, h.hash, h.time_us, h.l3_length, h.tcp_flags, h.ttl, sink);
  }
}

void FlowTable::Drain(FlowSink sink) {
  while (queued_ != 0) {
    const Pending& h = pending_[pending_head_];
    pending_head_ = (pending_head_ + 1) & kPipelineMask;
    --queued_;
    Account(h.key, h.hash, h.time_us, h.l3_length, h.tcp_flags, h.ttl, sink);
  }
}

size_t FlowTable::Poll(FlowSink sink) {
  size_t delivered = 0;
  Drain([&delivered, sink](const FlowRecord& r) {
    ++delivered;
    sink(r);
  });
  return delivered;
}

void FlowTable::Account(const FlowKey& key, uint32_t hash, TimeUs time_us, uint32_t l3_length,
                        uint8_t tcp_flags, uint8_t ttl, FlowSink sink) {
  ExpireDue(time_us, sink);
  const TimeUs now = now_;

  uint32_t pos = Find(key, hash);
  uint32_t index;
  if (pos != kNil) {
    index = slots_[pos].index_plus1 - 1;
    ListUnlinkLru(index);
    ListPushLru(index);
  } else {
    if (active_ >= capacity_) Export(lru_.head, EndReason::kLackOfResources, sink);
    if (free_head_ != kNil) {
      index = free_head_;
      free_head_ = entries_[index].lru_next;
    } else {
      index = next_unused_++;
    }
    Entry& e = entries_[index];
    e.key = key;
    e.packets = 0;
    e.bytes = 0;
    e.first_us = now;
    e.last_us = now;
    e.hash = hash;
    e.tcp_flags = 0;
    e.min_ttl = ttl;
    e.max_ttl = ttl;
    InsertSlot(hash, index);
    ListPushLru(index);
    ListPushAge(index);
    next_deadline_ = std::min(
        next_deadline_, now + std::min(options_.inactive_timeout_us, options_.active_timeout_us));
    ++active_;
    ++stats_.flows_created;
  }
  Entry& e = entries_[index];
  ++e.packets;
  e.bytes += l3_length;
  e.last_us = now;
  e.tcp_flags |= tcp_flags;
  if (ttl < e.min_ttl) e.min_ttl = ttl;
  if (ttl > e.max_ttl) e.max_ttl = ttl;
  ++stats_.packets;
  stats_.bytes += l3_length;
  if (key.protocol == kProtoTcp && (tcp_flags & (kTcpFin | kTcpRst)) != 0) {
    Export(index, EndReason::kEndOfFlow, sink);
  }
}

}  // namespace nf
