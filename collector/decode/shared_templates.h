// Templates shared by the decode workers of one collector (`flowcollect --workers N`).
//
// With SO_REUSEPORT the kernel spreads datagrams over the workers' sockets by flow hash, so one
// exporter's template may reach worker A while its data reaches worker B (routers send from
// several source ports, or restart and change port). Each worker keeps its own TemplateCache
// (the decode path stays lock-free); what a worker learns that is new or redefined is
// published here, and every worker pulls changes at the start of its next datagram when the
// store's generation moved (one atomic load per datagram; the mutex is taken only when
// something changed). Data a worker buffered before the template reached it is replayed then.
//
// Refreshes (same layout) are not published, so the store changes only when templates do; it
// is bounded (`max_entries`, refusals counted). IPFIX withdrawals stay local to the worker that
// received them: a re-used template ID arrives as a redefinition and is shared as such.
#ifndef NF_COLLECTOR_DECODE_SHARED_TEMPLATES_H_
#define NF_COLLECTOR_DECODE_SHARED_TEMPLATES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "collector/decode/template_cache.h"
#include "wire/netflow_v9.h"
#include "common/time_format.h"

namespace nf {

class SharedTemplateStore {
 public:
  struct Entry {
    TemplateKey key;
    TemplateRecord record;
    TimeUs learned_us = 0;
    uint64_t generation = 0;
  };

  explicit SharedTemplateStore(size_t max_entries = size_t{1} << 20) : max_entries_(max_entries) {}

  // Records a new or redefined template. Thread-safe. No-op when the layout is unchanged.
  void Publish(const TemplateKey& key, const TemplateRecord& record, TimeUs learned_us);
  // Changes since `since` are appended to `out`; returns the generation they bring you to.
  uint64_t ChangesSince(uint64_t since, std::vector<Entry>& out) const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t size() const;
  uint64_t refused() const;

 private:
  size_t max_entries_;
  mutable std::mutex mu_;
  absl::node_hash_map<TemplateKey, Entry> map_;
  uint64_t refused_ = 0;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_SHARED_TEMPLATES_H_
