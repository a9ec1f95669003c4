// Sampling and system-init state of one exporter, learned from options data (fields 34/35,
// sampler tables 48/49/50, IPFIX 302/305/306 and 160) and v5 headers, and looked up for each
// flow record.
//
// Invariants: an interval of 0 is never stored (it would divide by zero downstream); the maps
// stop growing at kMaxEntries, but entries already held keep being updated.
#ifndef NF_COLLECTOR_DECODE_SAMPLING_STATE_H_
#define NF_COLLECTOR_DECODE_SAMPLING_STATE_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "collector/decode/decode_stats.h"

namespace nf {

// What an options data record said about sampling / system init time.
struct OptionValues {
  bool has_interval = false;
  bool has_space = false;
  bool has_sampler = false;
  bool has_init = false;
  uint64_t interval = 0;
  uint64_t space = 0;
  uint64_t sampler = 0;
  uint64_t init_ms = 0;

  // 1-in-N interval, 0 when unknown or nonsensical (interval 0 is a divide-by-zero trap).
  uint32_t Rate() const {
    if (!has_interval || interval == 0) return 0;
    uint64_t n = interval;
    if (has_space) n = (interval + space) / interval;  // IPFIX 305/306: selected vs skipped
    if (n == 0 || n > 0xFFFFFFFFu) return 0;
    return static_cast<uint32_t>(n);
  }
};

class SamplingState {
 public:
  // Per-exporter bound of each map (sampler IDs, domains, init times).
  static constexpr size_t kMaxEntries = 4096;

  // The interval for a record of `domain`: its sampler's, else its own (`record_interval`,
  // 0 if none), else its domain's, else the last one the exporter announced anywhere.
  // Inline: v5 asks once per record.
  uint32_t For(uint32_t domain, bool has_sampler, uint64_t sampler,
               uint32_t record_interval) const {
    if (has_sampler) {
      auto it = samplers_.find(SamplerKey{domain, sampler});
      if (it != samplers_.end()) return it->second;
    }
    if (record_interval != 0) return record_interval;
    auto it = domain_sampling_.find(domain);
    if (it != domain_sampling_.end()) return it->second;
    // Cisco sends options and data with different source IDs: fall back to the last interval
    // this exporter announced anywhere.
    return any_sampling_;
  }
  // Learns from one options data record of `domain`.
  void LearnOptions(uint32_t domain, const OptionValues& opt, ExporterStats& stats);
  // Learns a v5 header's interval (> 0) for `domain` (the engine type/ID).
  void LearnV5(uint32_t domain, uint32_t interval, ExporterStats& stats);
  // The domain's systemInitTimeMilliseconds (IE 160), or kNoTime when never announced.
  int64_t SystemInitMs(uint32_t domain) const;

 private:
  struct SamplerKey {
    uint32_t domain;
    uint64_t sampler;
    friend bool operator==(const SamplerKey&, const SamplerKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const SamplerKey& k) {
      return H::combine(std::move(h), k.domain, k.sampler);
    }
  };
  absl::flat_hash_map<SamplerKey, uint32_t> samplers_;  // (domain, sampler ID) -> interval
  absl::flat_hash_map<uint32_t, uint32_t> domain_sampling_;  // domain -> interval
  uint32_t any_sampling_ = 0;  // last interval learned from any domain
  absl::flat_hash_map<uint32_t, int64_t> system_init_ms_;  // IPFIX IE 160 per domain
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_SAMPLING_STATE_H_
