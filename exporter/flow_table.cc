#include "exporter/flow_table.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "absl/hash/hash.h"

namespace nf {
namespace {

constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpRst = 0x04;
constexpr uint8_t kProtoTcp = 6;

}  // namespace

static_assert(sizeof(FlowKey) == 48, "update the memory figures in flow_table.h");

FlowTable::FlowTable(const FlowTableOptions& options) : options_(options) {
  static_assert(sizeof(Entry) == 104, "update the memory figures in flow_table.h");
  capacity_ = options_.max_flows == 0 ? 1 : options_.max_flows;
  if (capacity_ > (size_t{1} << 30)) capacity_ = size_t{1} << 30;
  size_t slots = 16;
  while (slots < 2 * capacity_) slots <<= 1;
  slot_mask_ = static_cast<uint32_t>(slots - 1);
  // calloc: large blocks come straight from mmap as zero pages, so capacity that is never
  // used is never touched. Both types are implicit-lifetime aggregates.
  entries_ = static_cast<Entry*>(std::calloc(capacity_, sizeof(Entry)));
  slots_ = static_cast<Slot*>(std::calloc(slots, sizeof(Slot)));
}

FlowTable::~FlowTable() {
  std::free(entries_);
  std::free(slots_);
}

uint32_t FlowTable::HashOf(const FlowKey& key, const FlowTableOptions& options) {
  const uint64_t h =
      options.hash_override != nullptr ? options.hash_override(key) : absl::Hash<FlowKey>{}(key);
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
  if (now > now_) now_ = now;
  now = now_;
  if (now < next_deadline_) return;
  // Idle flows: the LRU head is the flow seen longest ago.
  while (lru_.head != kNil && now - entries_[lru_.head].last_us >= options_.inactive_timeout_us) {
    Export(lru_.head, EndReason::kIdleTimeout, sink);
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
  while (age_.head != kNil) Export(age_.head, EndReason::kForcedEnd, sink);
}

void FlowTable::Update(const PacketMeta& meta, FlowSink sink) {
  const FlowKey key = KeyOf(meta, options_.input_if);
  UpdateHashed(key, HashKey(key), meta.time_us, meta.l3_length, meta.tcp_flags, meta.ttl, sink);
}

void FlowTable::UpdateHashed(const FlowKey& key, uint32_t hash, TimeUs time_us,
                             uint32_t l3_length, uint8_t tcp_flags, uint8_t ttl, FlowSink sink) {
  ExpireUntil(time_us, sink);
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
