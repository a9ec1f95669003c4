#include "collector/decode/template_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"

namespace nf {

namespace {
constexpr absl::string_view kStoreMagic = "# flowcollect template store v1";
// A template line never needs more fields than a datagram can describe.
constexpr size_t kMaxStoredFields = 16384;

bool SameLayout(const TemplateRecord& a, const TemplateRecord& b) {
  return a.is_options == b.is_options && a.fields == b.fields && a.scope_fields == b.scope_fields;
}
}  // namespace

TemplateCache::AddResult TemplateCache::Add(const TemplateKey& key, CachedTemplate&& t) {
  auto it = map_.find(key);
  if (it != map_.end()) {
    const bool same = SameLayout(it->second.record, t.record);
    it->second = std::move(t);
    if (same) {
      ++counters_.refreshed;
      return AddResult::kRefreshed;
    }
    ++counters_.replaced;
    return AddResult::kReplaced;
  }
  size_t& owned = per_exporter_[OwnerKey{key.exporter, key.port}];
  if (owned >= options_.max_per_exporter) {
    ++counters_.refused;
    return AddResult::kRefused;
  }
  ++owned;
  map_.emplace(key, std::move(t));
  ++counters_.added;
  return AddResult::kAdded;
}

bool TemplateCache::Refresh(const TemplateKey& key, const TemplateRecord& record, TimeUs now) {
  auto it = map_.find(key);
  if (it == map_.end() || !SameLayout(it->second.record, record)) return false;
  it->second.learned_us = now;
  ++counters_.refreshed;
  return true;
}

void TemplateCache::Erase(absl::node_hash_map<TemplateKey, CachedTemplate>::iterator it) {
  auto owner = per_exporter_.find(OwnerKey{it->first.exporter, it->first.port});
  if (owner != per_exporter_.end()) {
    if (--owner->second == 0) per_exporter_.erase(owner);
  }
  if (&it->second == last_) last_ = nullptr;
  map_.erase(it);
}

const CachedTemplate* TemplateCache::Find(const TemplateKey& key, TimeUs now) {
  if (last_ == nullptr || !(key == last_key_)) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    last_key_ = key;
    last_ = &it->second;
  }
  if (options_.ttl_us > 0 && now - last_->learned_us > options_.ttl_us) {
    Erase(map_.find(key));
    ++counters_.expired;
    return nullptr;
  }
  return last_;
}

bool TemplateCache::Withdraw(const TemplateKey& key) {
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  Erase(it);
  ++counters_.withdrawn;
  return true;
}

size_t TemplateCache::WithdrawAll(const TemplateKey& scope, bool options) {
  size_t n = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    const TemplateKey& k = it->first;
    if (k.exporter == scope.exporter && k.port == scope.port && k.version == scope.version &&
        k.domain == scope.domain && it->second.record.is_options == options) {
      Erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  counters_.withdrawn += n;
  return n;
}

size_t TemplateCache::RemoveExporter(const IpAddress& exporter, uint16_t port) {
  if (per_exporter_.find(OwnerKey{exporter, port}) == per_exporter_.end()) return 0;
  size_t n = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    if (it->first.exporter == exporter && it->first.port == port) {
      Erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  counters_.withdrawn += n;
  return n;
}

size_t TemplateCache::Expire(TimeUs now) {
  if (options_.ttl_us <= 0) return 0;
  size_t n = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    if (now - it->second.learned_us > options_.ttl_us) {
      Erase(it++);
      ++n;
    } else {
      ++it;
    }
  }
  counters_.expired += n;
  return n;
}

size_t TemplateCache::CountFor(const IpAddress& exporter, uint16_t port) const {
  auto it = per_exporter_.find(OwnerKey{exporter, options_.key_port ? port : uint16_t{0}});
  return it == per_exporter_.end() ? 0 : it->second;
}

absl::Status TemplateCache::Save(const std::string& path) const {
  std::string text = absl::StrCat(kStoreMagic, "\n");
  for (const auto& [k, t] : map_) {
    // Without port keys, a port in a key marks a TCP session's template: it dies with its
    // session (RFC 7011 10.4), and loaded back it would apply to the whole address.
    if (!options_.key_port && k.port != 0) continue;
    absl::StrAppend(&text, "T ", k.exporter.ToString(), " ", k.port, " ", static_cast<int>(k.version), " ",
                    k.domain, " ", k.template_id, " ", t.record.is_options ? 1 : 0, " ",
                    t.record.scope_fields.size(), " ", t.record.fields.size(), " ", t.learned_us);
    for (const auto* list : {&t.record.scope_fields, &t.record.fields}) {
      for (const TemplateField& f : *list) {
        absl::StrAppend(&text, " ", f.type, "/", f.length, "/", f.enterprise);
      }
    }
    text += '\n';
  }
  absl::Status st = WriteFileAtomically(path, text);
  if (!st.ok()) return absl::InternalError(absl::StrCat("template store: ", st.message()));
  return absl::OkStatus();
}

absl::Status TemplateCache::Load(const std::string& path,
                                 absl::FunctionRef<bool(CachedTemplate&, uint8_t)> compile,
                                 size_t* loaded) {
  if (loaded) *loaded = 0;
  std::ifstream in(path);
  if (!in) {
    if (::access(path.c_str(), F_OK) != 0) return absl::OkStatus();  // first start
    return absl::InternalError(absl::StrCat("template store ", path, ": cannot read"));
  }
  std::string line;
  size_t line_no = 0;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("template store ", path, " line ", line_no, ": ", why));
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() < 10 || parts[0] != "T") return bad("not a template line");
    auto exporter = ParseIpAddress(parts[1]);
    if (!exporter.ok()) return bad("bad exporter address");
    uint32_t port = 0, version = 0, domain = 0, tid = 0, is_options = 0;
    uint64_t nscope = 0, nfields = 0;
    int64_t learned = 0;
    if (!absl::SimpleAtoi(parts[2], &port) || port > 65535 ||
        !absl::SimpleAtoi(parts[3], &version) || (version != 9 && version != 10) ||
        !absl::SimpleAtoi(parts[4], &domain) || !absl::SimpleAtoi(parts[5], &tid) ||
        tid > 65535 || !absl::SimpleAtoi(parts[6], &is_options) || is_options > 1 ||
        !absl::SimpleAtoi(parts[7], &nscope) || !absl::SimpleAtoi(parts[8], &nfields) ||
        !absl::SimpleAtoi(parts[9], &learned) || nscope + nfields > kMaxStoredFields ||
        parts.size() != 10 + nscope + nfields) {
      return bad("bad template header");
    }
    CachedTemplate t;
    t.learned_us = learned;
    t.record.template_id = static_cast<uint16_t>(tid);
    t.record.is_options = is_options == 1;
    for (size_t i = 0; i < nscope + nfields; ++i) {
      std::vector<absl::string_view> f = absl::StrSplit(parts[10 + i], '/');
      uint32_t type = 0, length = 0, enterprise = 0;
      if (f.size() != 3 || !absl::SimpleAtoi(f[0], &type) || type > 65535 ||
          !absl::SimpleAtoi(f[1], &length) || length > 65535 ||
          !absl::SimpleAtoi(f[2], &enterprise)) {
        return bad("bad field");
      }
      TemplateField field{static_cast<uint16_t>(type), static_cast<uint16_t>(length), enterprise};
      (i < nscope ? t.record.scope_fields : t.record.fields).push_back(field);
    }
    if (!compile(t, static_cast<uint8_t>(version))) return bad("template rejected by the decoder");
    TemplateKey key{*exporter, options_.key_port ? static_cast<uint16_t>(port) : uint16_t{0},
                    static_cast<uint8_t>(version), domain, static_cast<uint16_t>(tid)};
    if (Add(key, std::move(t)) != AddResult::kRefused && loaded) ++*loaded;
  }
  return absl::OkStatus();
}

}  // namespace nf
