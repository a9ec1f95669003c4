// NetFlow v9 export encoding (RFC 3954): flow records in, ready-to-send datagrams out.
//
// The encoder owns all per-exporter v9 state: template layouts and IDs, template refresh (every
// N datagrams AND every T seconds, both configurable), the per-source-ID datagram sequence, the
// sysUptime clock, and datagram packing under an MTU. It is template-driven: a layout is a list
// of {field id, length}, and the mapping from a FlowRecord to a field value lives in one
// function, WriteField, so new layouts need no encoder changes.
//
// Clock. v9 headers carry unix_secs (whole seconds) and sysUptime (ms); collectors rebuild a
// record's absolute time as unix_secs*1000 - sysUptime + FIRST_SWITCHED. We therefore set
// sysUptime = unix_secs*1000 - boot_ms at the header's whole second, so that reconstruction
// gives boot_ms + FIRST_SWITCHED = the packet time to the millisecond. unix_secs is the export
// time rounded UP to the second, so no record is ever stamped later than its header. All
// uptime values are 32-bit modular (they wrap every ~49.7 days; collectors use modulo-2^32
// differences). For -r the boot time is the first packet's time, live it is process start.
#ifndef NF_EXPORTER_ENCODE_V9_ENCODER_H_
#define NF_EXPORTER_ENCODE_V9_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/byte_writer.h"
#include "common/flow_record.h"
#include "wire/netflow_v9.h"
#include "templates/template_spec.h"

namespace nf {

// Values WriteField needs besides the record.
struct FieldContext {
  int64_t boot_ms = 0;  // uptime origin: FIRST/LAST_SWITCHED = time_ms - boot_ms (mod 2^32)
};

// Writes one field of `record` as `len` bytes. Returns false (writing nothing) for a field id
// or length the exporter cannot fill; IsExportableField checks that up front.
bool WriteField(uint16_t id, uint16_t len, const FlowRecord& record, const FieldContext& ctx,
                ByteWriter& w);
// True when WriteField can fill field `id` with length `len`.
bool IsExportableField(uint16_t id, uint16_t len);

struct V9EncoderOptions {
  uint32_t source_id = 0;
  // Largest IP datagram (IP + UDP headers + v9 payload); export datagrams are never fragmented.
  size_t mtu = 1500;
  // IP + UDP header bytes to subtract from the MTU: 28 for IPv4, 48 when any collector is IPv6.
  size_t ip_udp_overhead = 28;
  // Template refresh: before the first data, then every N datagrams and every T (export clock).
  // 0 disables that criterion. Defaults follow ipt-netflow/HPE (20 datagrams) and Juniper's
  // 60 s timer, so a restarted collector decodes again within a minute even on a quiet link.
  uint32_t template_refresh_datagrams = 20;
  TimeUs template_refresh_us = 60'000'000;
  // Records wait at most this long before a partial datagram is sent.
  TimeUs flush_interval_us = 1'000'000;
  // Uptime origin in microseconds since the epoch (see the clock note above).
  TimeUs boot_us = 0;
  // 1-in-N sampling announced in an options template (system scope, fields 34/35); <= 1 = none.
  uint32_t sampling_interval = 0;
  uint8_t sampling_algorithm = 1;  // 1 deterministic, 2 random
};

struct V9EncoderStats {
  uint64_t records = 0;           // data records sent
  uint64_t datagrams = 0;         // datagrams built (sequence numbers used)
  uint64_t template_records = 0;  // template + options template records sent
  uint64_t bytes = 0;             // v9 payload bytes
};

class V9Encoder {
 public:
  using DatagramSink = std::function<void(std::span<const uint8_t>)>;

  // Validates the layouts against WriteField and the MTU (templates plus one record of every
  // layout must fit in one datagram); errors name the field or the sizes.
  static absl::StatusOr<std::unique_ptr<V9Encoder>> Create(const V9EncoderOptions& options,
                                                           const TemplateSpec& spec,
                                                           DatagramSink sink);

  // Queues one record at export time `now_us`; sends the datagram first when the record would
  // not fit.
  void Add(const FlowRecord& record, TimeUs now_us);
  // Sends the pending datagram if its oldest record has waited the flush interval.
  void Tick(TimeUs now_us);
  // Sends whatever is pending now (end of input, shutdown).
  void Flush(TimeUs now_us);
  // Sets the uptime origin (for -r: the first packet's time). Call before the first Add.
  void SetBootTime(TimeUs boot_us) { options_.boot_us = boot_us; }

  const V9EncoderStats& stats() const { return stats_; }
  uint32_t next_sequence() const { return sequence_; }
  // Largest v9 payload per datagram.
  size_t max_payload() const { return max_payload_; }
  uint16_t options_template_id() const { return options_template_id_; }

 private:
  struct Layout {
    TemplateRecord tmpl;
    size_t record_length = 0;
    std::vector<uint8_t> staged;  // data records waiting, capacity max_payload
    uint16_t staged_records = 0;
  };
  V9Encoder() = default;
  bool TemplatesDue(TimeUs now_us) const;
  size_t TemplateBytes() const;
  size_t PendingBytes() const;  // bytes of the datagram if sent now
  void Send(TimeUs now_us);
  int LayoutIndex(const FlowRecord& r) const;

  V9EncoderOptions options_;
  TemplateSpec spec_;
  DatagramSink sink_;
  std::vector<Layout> layouts_;
  std::vector<TemplateRecord> template_records_;
  TemplateRecord options_template_;
  bool sampling_ = false;
  uint16_t options_template_id_ = 0;
  size_t max_payload_ = 0;
  size_t template_bytes_ = 0;
  std::vector<uint8_t> buffer_;
  uint32_t sequence_ = 0;
  bool templates_ever_sent_ = false;
  bool current_has_templates_ = false;  // decided when a datagram's first record arrives
  uint32_t datagrams_since_templates_ = 0;
  TimeUs last_templates_us_ = 0;
  size_t pending_records_ = 0;
  TimeUs oldest_pending_us_ = 0;
  V9EncoderStats stats_;
};

// The uptime value (ms, modulo 2^32) of absolute time `time_us` for uptime origin `boot_us`.
uint32_t UptimeMs(TimeUs time_us, TimeUs boot_us);

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_V9_ENCODER_H_
