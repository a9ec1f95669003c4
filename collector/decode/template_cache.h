// The collector's template cache: NetFlow v9 and IPFIX (options) templates per
// (exporter address [+ port], protocol version, source ID / observation domain, template ID).
//
// Why this key: RFC 3954 scopes templates by exporter address and source ID; several anchors
// got it wrong (vflow hashes without the source ID, logstash forgot the exporter). The UDP port
// is only part of the key when asked for (RFC 7011 transport session semantics), because
// exporters change source ports on restart. Keys are compared in full, never by hash alone.
//
// The cache is bounded per exporter (refusals are counted), can expire templates that were not
// refreshed for a TTL, and can be saved to / loaded from a file so a restarted collector
// decodes at once instead of dropping data until the next template refresh.
#ifndef NF_COLLECTOR_DECODE_TEMPLATE_CACHE_H_
#define NF_COLLECTOR_DECODE_TEMPLATE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "collector/decode/decode_plan.h"
#include "collector/decode/decoded_record.h"
#include "wire/netflow_v9.h"
#include "common/time_format.h"

namespace nf {

struct TemplateKey {
  IpAddress exporter;
  uint16_t port = 0;  // 0 unless the cache keys on ports
  uint8_t version = 0;  // 9 or 10
  uint32_t domain = 0;  // v9 source ID / IPFIX observation domain
  uint16_t template_id = 0;
  friend bool operator==(const TemplateKey&, const TemplateKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TemplateKey& k) {
    return H::combine(std::move(h), k.exporter, k.port, k.version, k.domain, k.template_id);
  }
};

// One cached template. `ops` is opaque to the cache: the decoder precomputes one byte per
// field (a FieldOp) when the template is learned, so records decode without lookups
// (CompileTemplate in decode_plan.h fills ops, lengths, min_record_length, variable_length
// and plan).
struct CachedTemplate {
  TemplateRecord record;  // scope fields (options templates) come first on the wire
  std::vector<uint8_t> ops;  // one per wire field: scope fields then fields
  std::vector<uint16_t> lengths;  // wire length per field, same order (65535 = variable)
  size_t min_record_length = 0;  // fixed bytes + 1 per variable-length field
  bool variable_length = false;
  DecodePlan plan;
  TimeUs learned_us = 0;  // last time the exporter (re)sent it
};

class TemplateCache {
 public:
  struct Options {
    bool key_port = false;
    // Templates not refreshed for this long are dropped; 0 keeps them forever.
    int64_t ttl_us = 0;
    size_t max_per_exporter = 4096;
  };
  enum class AddResult : uint8_t {
    kAdded,      // new template
    kRefreshed,  // same ID, same layout
    kReplaced,   // same ID, different layout (redefinition)
    kRefused,    // per-exporter bound reached
  };
  struct Counters {
    uint64_t added = 0;
    uint64_t refreshed = 0;
    uint64_t replaced = 0;
    uint64_t refused = 0;
    uint64_t withdrawn = 0;
    uint64_t expired = 0;
  };

  TemplateCache() : TemplateCache(Options{}) {}
  explicit TemplateCache(const Options& options) : options_(options) {}

  const Options& options() const { return options_; }
  TemplateKey MakeKey(const ExporterId& exporter, uint8_t version, uint32_t domain,
                      uint16_t template_id) const {
    return TemplateKey{exporter.address, options_.key_port ? exporter.port : uint16_t{0},
                       version, domain, template_id};
  }

  AddResult Add(const TemplateKey& key, CachedTemplate&& t);
  // When `key` holds a template of the same layout as `record`: marks it learned at `now`,
  // counts a refresh (as Add would) and returns true, keeping the compiled plan. Exporters
  // resend every template every few seconds; recompiling each copy showed in profiles.
  bool Refresh(const TemplateKey& key, const TemplateRecord& record, TimeUs now);
  // The template, or nullptr when unknown or expired (an expired one is removed and counted).
  // The pointer stays valid until the entry is replaced, withdrawn or expired.
  const CachedTemplate* Find(const TemplateKey& key, TimeUs now);
  // IPFIX template withdrawal. False when the template was not known.
  bool Withdraw(const TemplateKey& key);
  // IPFIX "withdraw all" (of one kind when `options` is set, else data templates) for
  // (exporter, port, version, domain). Returns how many were removed.
  size_t WithdrawAll(const TemplateKey& scope, bool options);
  // Drops every template of (exporter, port), every version and domain: an IPFIX transport
  // session (TCP) that ended takes its templates with it (RFC 7011 section 10.4). Counted as
  // withdrawn. Returns how many.
  size_t RemoveExporter(const IpAddress& exporter, uint16_t port);
  // Drops every template older than the TTL. Returns how many.
  size_t Expire(TimeUs now);

  size_t size() const { return map_.size(); }
  const Counters& counters() const { return counters_; }
  // Templates currently held for one exporter (address [+ port]).
  size_t CountFor(const IpAddress& exporter, uint16_t port) const;

  // Writes every template to `path` atomically (temp file + rename).
  absl::Status Save(const std::string& path) const;
  // Reads a file written by Save. `compile(t, version)` fills ops/min_record_length/variable_length of each
  // template before it is inserted (the decoder owns that mapping). A missing file is OK (a
  // first start); a corrupt one is an error naming the line.
  absl::Status Load(const std::string& path,
                    absl::FunctionRef<bool(CachedTemplate&, uint8_t version)> compile,
                    size_t* loaded = nullptr);

 private:
  struct OwnerKey {
    IpAddress exporter;
    uint16_t port;
    friend bool operator==(const OwnerKey&, const OwnerKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const OwnerKey& k) {
      return H::combine(std::move(h), k.exporter, k.port);
    }
  };
  void Erase(absl::node_hash_map<TemplateKey, CachedTemplate>::iterator it);

  Options options_;
  absl::node_hash_map<TemplateKey, CachedTemplate> map_;
  // The entry the last Find returned: an exporter's datagrams mostly carry one template, so
  // most lookups compare one key instead of hashing it. Nodes do not move; Erase clears it.
  TemplateKey last_key_;
  CachedTemplate* last_ = nullptr;
  absl::flat_hash_map<OwnerKey, size_t> per_exporter_;
  Counters counters_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_TEMPLATE_CACHE_H_
