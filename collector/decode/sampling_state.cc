#include "collector/decode/sampling_state.h"

#include "collector/decode/decoded_record.h"

namespace nf {

void SamplingState::LearnOptions(uint32_t domain, const OptionValues& opt,
                                 ExporterStats& stats) {
  const uint32_t rate = opt.Rate();
  if (rate != 0) {
    if (opt.has_sampler) {
      if (samplers_.size() < kMaxEntries || samplers_.contains({domain, opt.sampler})) {
        samplers_[SamplerKey{domain, opt.sampler}] = rate;
      }
    } else if (domain_sampling_.size() < kMaxEntries || domain_sampling_.contains(domain)) {
      domain_sampling_[domain] = rate;
    }
    any_sampling_ = rate;
    stats.sampling_interval = rate;
  }
  if (opt.has_init &&
      (system_init_ms_.size() < kMaxEntries || system_init_ms_.contains(domain))) {
    system_init_ms_[domain] = static_cast<int64_t>(opt.init_ms);
  }
}

void SamplingState::LearnV5(uint32_t domain, uint32_t interval, ExporterStats& stats) {
  // v5 domains are 16 bits (engine type/ID): bounded without kMaxEntries.
  domain_sampling_[domain] = interval;
  any_sampling_ = interval;
  stats.sampling_interval = interval;
}

int64_t SamplingState::SystemInitMs(uint32_t domain) const {
  auto it = system_init_ms_.find(domain);
  return it != system_init_ms_.end() ? it->second : kNoTime;
}

}  // namespace nf
