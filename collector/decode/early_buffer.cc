#include "collector/decode/early_buffer.h"

#include <utility>

namespace nf {

bool EarlyBuffer::Add(const Limits& limits, const TemplateKey& key, const ExporterId& exporter,
                      uint32_t sys_uptime_ms, uint32_t export_secs, TimeUs receive_time,
                      std::span<const uint8_t> body, ExporterStats& stats) {
  if (sets_.size() >= limits.max_sets || bytes_ + body.size() > limits.max_bytes) {
    ++stats.early_sets_dropped;
    ++stats.errors[static_cast<size_t>(DecodeError::kEarlyBufferFull)];
    return false;
  }
  sets_.push_back(EarlySet{key, exporter, sys_uptime_ms, export_secs, receive_time,
                           std::vector<uint8_t>(body.begin(), body.end())});
  bytes_ += body.size();
  ++stats.early_sets_buffered;
  stats.early_sets_pending = sets_.size();
  return true;
}

void EarlyBuffer::TakeFor(const TemplateKey& key, std::vector<EarlySet>& out,
                          ExporterStats& stats) {
  // Taken out before the caller decodes them, so nobody iterates a deque being modified.
  for (auto it = sets_.begin(); it != sets_.end();) {
    if (it->key == key) {
      bytes_ -= it->body.size();
      out.push_back(std::move(*it));
      it = sets_.erase(it);
    } else {
      ++it;
    }
  }
  stats.early_sets_pending = sets_.size();
}

void EarlyBuffer::Age(const Limits& limits, TimeUs now, ExporterStats& stats) {
  while (!sets_.empty() && now - sets_.front().receive_time > limits.max_age_us) {
    bytes_ -= sets_.front().body.size();
    sets_.pop_front();
    ++stats.early_sets_aged_out;
  }
  stats.early_sets_pending = sets_.size();
}

void EarlyBuffer::DiscardFor(const IpAddress& exporter, uint16_t port, ExporterStats& stats) {
  for (auto it = sets_.begin(); it != sets_.end();) {
    if (it->key.exporter == exporter && it->key.port == port) {
      bytes_ -= it->body.size();
      it = sets_.erase(it);
      ++stats.early_sets_aged_out;
    } else {
      ++it;
    }
  }
  stats.early_sets_pending = sets_.size();
}

void EarlyBuffer::DiscardAll(ExporterStats& stats) {
  stats.early_sets_aged_out += sets_.size();
  sets_.clear();
  bytes_ = 0;
  stats.early_sets_pending = 0;
}

}  // namespace nf
