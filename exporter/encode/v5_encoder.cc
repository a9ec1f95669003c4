#include "exporter/encode/v5_encoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/byte_writer.h"
#include "exporter/encode/record_fields.h"

namespace nf {
namespace {

constexpr uint64_t kMax32 = 0xffffffffu;

uint16_t Saturate16(uint32_t v) { return v > 0xffff ? 0xffff : static_cast<uint16_t>(v); }
// RFC 6793: AS_TRANS stands for a 4-byte AS number in a 2-byte field.
constexpr uint16_t kAsTrans = 23456;

}  // namespace

absl::StatusOr<std::unique_ptr<V5Encoder>> V5Encoder::Create(const V5EncoderOptions& options,
                                                             DatagramSink sink) {
  std::unique_ptr<V5Encoder> e(new V5Encoder());
  e->options_ = options;
  e->sink_ = std::move(sink);
  e->flush_clock_ = FlushClock(options.flush_interval_us);
  if (options.mtu > 65535 ||
      options.mtu < options.ip_udp_overhead + kV5HeaderBytes + kV5RecordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mtu ", options.mtu, " is out of range for NetFlow v5 (one record needs ",
                     options.ip_udp_overhead + kV5HeaderBytes + kV5RecordBytes, " bytes)"));
  }
  if (options.sampling_interval > kV5MaxSamplingInterval) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling interval ", options.sampling_interval,
                     " does not fit NetFlow v5's 14-bit field (at most ", kV5MaxSamplingInterval,
                     "); use -v 9 or -v 10"));
  }
  const size_t room = (options.mtu - options.ip_udp_overhead - kV5HeaderBytes) / kV5RecordBytes;
  e->max_records_ = std::min(room, kV5MaxRecords);
  e->buffer_.resize(kV5HeaderBytes + e->max_records_ * kV5RecordBytes);
  return e;
}

bool V5Encoder::Add(const FlowRecord& record, TimeUs now_us) {
  if (!record.key.src.is_v4() || !record.key.dst.is_v4()) {
    ++stats_.not_exportable;
    return false;
  }
  // Split counters that exceed 32 bits over n records (sums stay exact).
  const uint64_t n = std::max<uint64_t>(
      {1, (record.packets + kMax32 - 1) / kMax32, (record.bytes + kMax32 - 1) / kMax32});
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t p = record.packets / n + (i < record.packets % n ? 1 : 0);
    const uint64_t b = record.bytes / n + (i < record.bytes % n ? 1 : 0);
    AddOne(record, static_cast<uint32_t>(p), static_cast<uint32_t>(b), now_us);
  }
  stats_.split_records += n - 1;
  ++stats_.flows;
  return true;
}

void V5Encoder::AddOne(const FlowRecord& r, uint32_t packets, uint32_t bytes, TimeUs now_us) {
  if (pending_records_ == max_records_) Send(now_us);
  if (pending_records_ == 0) flush_clock_.Start(now_us);
  const size_t offset = kV5HeaderBytes + pending_records_ * kV5RecordBytes;
  ByteWriter w(std::span<uint8_t>(buffer_.data() + offset, kV5RecordBytes));
  const FlowKey& k = r.key;
  w.PutBytes(k.src.bytes.data(), 4);
  w.PutBytes(k.dst.bytes.data(), 4);
  w.PutU32(0);  // next hop: unknown to a passive probe
  w.PutU16(Saturate16(k.input_if));
  w.PutU16(Saturate16(r.output_if));
  w.PutU32(packets);
  w.PutU32(bytes);
  w.PutU32(UptimeMs(r.first_us, options_.boot_us));
  w.PutU32(UptimeMs(r.last_us, options_.boot_us));
  w.PutU16(k.src_port);
  w.PutU16(k.dst_port);  // ICMP: type*256+code, as Cisco does
  w.PutU8(0);            // pad1
  w.PutU8(r.tcp_flags);
  w.PutU8(k.protocol);
  w.PutU8(k.tos);
  // 2-byte AS fields: a 4-byte AS goes as AS_TRANS (RFC 6793).
  w.PutU16(r.src_as > 0xffff ? kAsTrans : static_cast<uint16_t>(r.src_as));
  w.PutU16(r.dst_as > 0xffff ? kAsTrans : static_cast<uint16_t>(r.dst_as));
  w.PutU8(r.src_mask);
  w.PutU8(r.dst_mask);
  w.PutU16(0);  // pad2
  ++pending_records_;
}

void V5Encoder::Tick(TimeUs now_us) {
  if (pending_records_ != 0 && flush_clock_.Due(now_us)) Send(now_us);
}

void V5Encoder::Flush(TimeUs now_us) {
  if (pending_records_ != 0) Send(now_us);
}

EncoderTotals V5Encoder::Totals() const {
  return {stats_.records, 0, stats_.datagrams, stats_.not_exportable};
}

void V5Encoder::Send(TimeUs now_us) {
  ByteWriter w(std::span<uint8_t>(buffer_.data(), kV5HeaderBytes));
  // unix_secs rounded up and nsecs 0: see the clock note in the header.
  const int64_t unix_secs = ExportSeconds(now_us);
  w.PutU16(kNetflowV5Version);
  w.PutU16(static_cast<uint16_t>(pending_records_));
  w.PutU32(
      static_cast<uint32_t>(static_cast<uint64_t>(unix_secs * 1000 - FloorMs(options_.boot_us))));
  w.PutU32(static_cast<uint32_t>(unix_secs));
  w.PutU32(0);
  w.PutU32(sequence_);
  w.PutU8(options_.engine_type);
  w.PutU8(options_.engine_id);
  uint16_t sampling = 0;
  if (options_.sampling_interval > 1) {
    sampling = static_cast<uint16_t>(((options_.sampling_algorithm & 0x3u) << 14) |
                                     (options_.sampling_interval & kV5MaxSamplingInterval));
  }
  w.PutU16(sampling);
  const size_t size = kV5HeaderBytes + pending_records_ * kV5RecordBytes;
  sequence_ += static_cast<uint32_t>(pending_records_);
  stats_.records += pending_records_;
  ++stats_.datagrams;
  stats_.bytes += size;
  pending_records_ = 0;
  if (w.ok()) sink_(std::span<const uint8_t>(buffer_.data(), size));
}

}  // namespace nf
