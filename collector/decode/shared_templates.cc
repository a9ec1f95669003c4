#include "collector/decode/shared_templates.h"

namespace nf {

void SharedTemplateStore::Publish(const TemplateKey& key, const TemplateRecord& record,
                                  TimeUs learned_us) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it != map_.end() && it->second.record == record) return;
  if (it == map_.end() && map_.size() >= max_entries_) {
    ++refused_;
    return;
  }
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  Entry& e = map_[key];
  e.key = key;
  e.record = record;
  e.learned_us = learned_us;
  e.generation = gen;
  // Release: a worker that sees the new generation also sees the entry (it locks anyway).
  generation_.store(gen, std::memory_order_release);
}

uint64_t SharedTemplateStore::ChangesSince(uint64_t since, std::vector<Entry>& out) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, e] : map_) {
    if (e.generation > since) out.push_back(e);
  }
  return generation_.load(std::memory_order_relaxed);
}

size_t SharedTemplateStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.size();
}

uint64_t SharedTemplateStore::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

}  // namespace nf
