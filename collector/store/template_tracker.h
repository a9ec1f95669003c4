// The templates in force per exporter, for the flow store (private to collector/store): every
// v9 / IPFIX datagram the store keeps is walked for (options) template records, kept as their
// raw bytes per (exporter address, port, version, source ID / observation domain, template
// ID), and a new store file begins with synthetic datagrams carrying them (Replay), so each
// file decodes alone.
//
// Records are accepted exactly as the decoder's parsers accept them (wire/netflow_v9.h,
// wire/ipfix.h), IPFIX withdrawals remove them, and what an exporter resends unchanged costs a
// comparison, no allocation. The number and bytes of templates are bounded; beyond, new
// templates are counted as not tracked.
#ifndef NF_COLLECTOR_STORE_TEMPLATE_TRACKER_H_
#define NF_COLLECTOR_STORE_TEMPLATE_TRACKER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <tuple>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/functional/function_ref.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf::store_internal {

class TemplateTracker {
 public:
  struct Limits {
    size_t max_templates = 65536;
    size_t max_bytes = 16u << 20;  // raw template record bytes
  };
  // A synthetic datagram stays under this many bytes unless one template record is larger.
  static constexpr size_t kMaxReplayDatagram = 65000;

  explicit TemplateTracker(const Limits& limits) : limits_(limits) {}

  // Notes one datagram received from `address` (unmapped) and `port` at `time_us`. Anything
  // that is not v9 or IPFIX is ignored.
  void Note(std::span<const uint8_t> datagram, const IpAddress& address, uint16_t port,
            TimeUs time_us);

  // Calls `emit` with each synthetic datagram for the templates in force, stamped `now_us`,
  // per (exporter, port, version, domain), least recently heard first: v9 headers count the
  // template records and continue the exporter's uptime and sequence numbers; IPFIX headers
  // carry the sequence number the exporter's next message will carry (template-only messages
  // do not advance it), so tshark sees no gap either.
  void Replay(TimeUs now_us,
              absl::FunctionRef<void(const IpAddress& address, uint16_t port,
                                     std::span<const uint8_t> datagram)> emit);

  size_t templates() const { return templates_; }
  size_t bytes() const { return bytes_; }
  // Template records not kept because a bound was reached.
  uint64_t untracked() const { return untracked_; }

 private:
  struct StreamKey {
    uint8_t family = 0;  // IpAddress::version
    std::array<uint8_t, 16> address{};
    uint16_t port = 0;
    uint8_t version = 0;
    uint32_t domain = 0;
    // Spelled out: libc++ 14 (FreeBSD's) has no operator<=> for std::array, so a defaulted one
    // would be deleted there.
    friend bool operator<(const StreamKey& a, const StreamKey& b) {
      return std::tie(a.family, a.address, a.port, a.version, a.domain) <
             std::tie(b.family, b.address, b.port, b.version, b.domain);
    }
    friend bool operator==(const StreamKey&, const StreamKey&) = default;
  };
  struct Template {
    bool options = false;
    bool variable = false;       // IPFIX: some field has variable length
    uint32_t fixed_length = 0;   // IPFIX: bytes of a data record (variable fields count 0)
    std::vector<uint8_t> raw;    // the template record as received
  };
  struct Stream {
    uint32_t sequence = 0;       // last header sequence number
    uint32_t next_sequence = 0;  // IPFIX: sequence + data records of that message
    uint32_t uptime_ms = 0;      // v9: last sysUptime
    TimeUs time_us = 0;          // when the last datagram arrived
    absl::btree_map<uint16_t, Template> templates;
  };

  // What validating a changed template record found.
  enum class Check : uint8_t {
    kValid,
    kSkip,  // refused, but the set walk goes on (IPFIX kRecordTooLong / kZeroLengthRecord)
    kStop,  // the parser stops the set here
  };

  void NoteV9(std::span<const uint8_t> d, const StreamKey& key, TimeUs time_us);
  void NoteIpfix(std::span<const uint8_t> d, StreamKey key, TimeUs time_us);
  // Walk one template set body (set ID 0/1, or 2/3), keeping what is valid and new.
  void V9TemplateSet(const StreamKey& key, uint16_t set_id, std::span<const uint8_t> body,
                     Stream*& stream, TimeUs time_us);
  void IpfixTemplateSet(const StreamKey& key, uint16_t set_id, std::span<const uint8_t> body,
                        Stream*& stream, TimeUs time_us);
  // Keeps `raw` for template `id`, creating the stream on demand. `validate(Template&)` runs
  // only when the bytes differ from what is kept: it fills the template's layout and says
  // whether the record is valid.
  template <typename Validate>
  Check Put(const StreamKey& key, Stream*& stream, uint16_t id, bool options,
             std::span<const uint8_t> raw, TimeUs time_us, Validate&& validate);
  void Remove(const StreamKey& key, Stream*& stream, uint16_t id);
  void RemoveKind(const StreamKey& key, Stream*& stream, bool options);
  void DropIfEmpty(const StreamKey& key, Stream*& stream);
  // Data records in an IPFIX data set, or -1 when they cannot be counted.
  static int64_t CountRecords(const Template& t, std::span<const uint8_t> body);

  void ReplayStream(const StreamKey& key, const Stream& stream, TimeUs now_us,
                    absl::FunctionRef<void(const IpAddress&, uint16_t,
                                           std::span<const uint8_t>)> emit);

  Limits limits_;
  absl::btree_map<StreamKey, Stream> streams_;
  size_t templates_ = 0;
  size_t bytes_ = 0;
  uint64_t untracked_ = 0;
  // Replay scratch: the datagrams of one stream (kept between calls to reuse capacity).
  std::vector<std::vector<uint8_t>> scratch_;
};

}  // namespace nf::store_internal

#endif  // NF_COLLECTOR_STORE_TEMPLATE_TRACKER_H_
