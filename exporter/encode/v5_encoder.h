// NetFlow v5 export encoding (Cisco's fixed format, for old collectors): flow records in,
// ready-to-send datagrams out.
//
// Wire: a 24-byte header (count, sysUptime, unix_secs, unix_nsecs, flow_sequence = flows sent
// before this datagram, engine type/id, sampling mode (2 bits) and interval (14 bits)) and at
// most 30 fixed 48-byte records per datagram (fewer when the MTU is small).
//
// v5 is IPv4 only: an IPv6 flow cannot be written, so Add counts it in
// stats().not_exportable (and never drops it silently); the caller reports that counter.
// v5 counters are 32-bit: a flow with more than 2^32-1 packets or bytes is split into several
// records whose sums equal the flow's, rather than saturating and losing counts (counted in
// stats().split_records).
//
// Clock: as in V9Encoder (see exporter/encode/v9_encoder.h), unix_secs is the export time rounded UP
// to the second, unix_nsecs is 0 and sysUptime = unix_secs*1000 - boot_ms, so collectors that
// compute unix_secs*1000 (+ nsecs/1e6) - sysUptime + First get the packet time to the ms,
// whether or not they read unix_nsecs.
#ifndef NF_EXPORTER_ENCODE_V5_ENCODER_H_
#define NF_EXPORTER_ENCODE_V5_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/flow_record.h"
#include "common/time_format.h"
#include "exporter/encode/encoder.h"
#include "wire/v5.h"

namespace nf {

struct V5EncoderOptions {
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  // Largest IP datagram (IP + UDP headers + v5 payload).
  size_t mtu = 1500;
  size_t ip_udp_overhead = 28;
  // Records wait at most this long before a partial datagram is sent.
  TimeUs flush_interval_us = 1'000'000;
  // Uptime origin in microseconds since the epoch (for -r: the first packet's time).
  TimeUs boot_us = 0;
  // 1-in-N sampling announced in the header; <= 1 = none. At most kV5MaxSamplingInterval.
  uint32_t sampling_interval = 0;
  uint8_t sampling_algorithm = 1;  // header mode bits: 1 deterministic, 2 random
};

struct V5EncoderStats {
  uint64_t records = 0;  // v5 records sent (flows plus extra split records)
  uint64_t flows = 0;    // flows exported
  uint64_t datagrams = 0;
  uint64_t bytes = 0;           // v5 payload bytes
  uint64_t not_exportable = 0;  // IPv6 flows v5 cannot carry
  uint64_t split_records = 0;   // extra records for flows whose counters exceed 32 bits
};

class V5Encoder final : public Encoder {
 public:
  // Errors for an MTU too small for one record and a sampling interval over 14 bits.
  static absl::StatusOr<std::unique_ptr<V5Encoder>> Create(const V5EncoderOptions& options,
                                                           DatagramSink sink);

  // Queues one flow at export time `now_us` (IPv6: counted as not exportable, nothing queued).
  // Returns false when the flow could not be exported.
  bool Add(const FlowRecord& record, TimeUs now_us) override;
  // Sends the pending datagram if its oldest record has waited the flush interval.
  void Tick(TimeUs now_us) override;
  // Sends whatever is pending now.
  void Flush(TimeUs now_us) override;
  void SetBootTime(TimeUs boot_us) override { options_.boot_us = boot_us; }
  EncoderTotals Totals() const override;

  const V5EncoderStats& stats() const { return stats_; }
  // flow_sequence of the next datagram (records sent so far, modulo 2^32).
  uint32_t next_sequence() const { return sequence_; }
  // Records per datagram (30, or fewer for a small MTU).
  size_t max_records() const { return max_records_; }

 private:
  V5Encoder() = default;
  void AddOne(const FlowRecord& record, uint32_t packets, uint32_t bytes, TimeUs now_us);
  void Send(TimeUs now_us);

  V5EncoderOptions options_;
  DatagramSink sink_;
  size_t max_records_ = kV5MaxRecords;
  std::vector<uint8_t> buffer_;  // header space + records
  size_t pending_records_ = 0;
  FlushClock flush_clock_;
  uint32_t sequence_ = 0;
  V5EncoderStats stats_;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_V5_ENCODER_H_
