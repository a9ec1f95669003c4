// NetFlow v5 datagrams: a fixed header (wire/v5.h) and fixed 48-byte IPv4 records, decoded
// straight into DecodedRecords. The header count is checked against the datagram size; the
// records present are decoded either way.
#include <algorithm>

#include "collector/decode/decoder.h"
#include "collector/decode/record_fields.h"
#include "common/byte_reader.h"
#include "wire/v5.h"

namespace nf {

void Decoder::DecodeV5(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                       TimeUs now, RecordSink& sink) {
  ++st.stats.v5_datagrams;
  if (d.size() < kV5HeaderBytes) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  const V5Header h = V5Header::Decode(d.data());
  const uint32_t domain = h.source_id();
  const size_t present = (d.size() - kV5HeaderBytes) / kV5RecordBytes;
  size_t n = h.count;
  if (present != h.count) {
    // Decode what is there (like tshark) but say the header lied.
    Count(st, DecodeError::kV5CountMismatch);
    n = std::min<size_t>(h.count, present);
  }
  const SequenceTracker::Key key{exporter.port, kNetflowV5Version, domain};
  st.sequence.NoteV5Uptime(key, h.sys_uptime_ms, st.stats);
  st.sequence.Check(key, h.sequence, static_cast<uint32_t>(n), true, -1,
                    options_.reorder_window, st.stats);
  const uint32_t interval = h.sampling_interval();
  if (interval > 0) st.sampling.LearnV5(domain, interval, st.stats);
  const uint32_t uptime = h.sys_uptime_ms;
  const int64_t export_ms = int64_t{h.unix_secs} * 1000 + h.unix_nsecs / 1'000'000;
  namespace f = v5_record;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = d.data() + kV5HeaderBytes + i * kV5RecordBytes;
    DecodedRecord r;
    r.exporter = exporter;
    r.version = kNetflowV5Version;
    r.source_id = domain;
    r.engine_type = h.engine_type;
    r.engine_id = h.engine_id;
    r.receive_time_us = now;
    r.ip_version = 4;
    r.src_addr = IpAddress::V4(p + f::kSrcAddr);
    r.dst_addr = IpAddress::V4(p + f::kDstAddr);
    r.next_hop = IpAddress::V4(p + f::kNextHop);
    r.input_if = ByteReader::LoadBe16(p + f::kInputIf);
    r.output_if = ByteReader::LoadBe16(p + f::kOutputIf);
    r.packets = ByteReader::LoadBe32(p + f::kPackets);
    r.bytes = ByteReader::LoadBe32(p + f::kBytes);
    const uint32_t first = ByteReader::LoadBe32(p + f::kFirst);
    const uint32_t last = ByteReader::LoadBe32(p + f::kLast);
    r.first_ms = export_ms - static_cast<int32_t>(uptime - first);
    r.last_ms = export_ms - static_cast<int32_t>(uptime - last);
    r.src_port = ByteReader::LoadBe16(p + f::kSrcPort);
    r.dst_port = ByteReader::LoadBe16(p + f::kDstPort);
    r.tcp_flags = p[f::kTcpFlags];
    r.protocol = p[f::kProtocol];
    r.tos = p[f::kTos];
    r.src_as = ByteReader::LoadBe16(p + f::kSrcAs);
    r.dst_as = ByteReader::LoadBe16(p + f::kDstAs);
    r.src_mask = p[f::kSrcMask];
    r.dst_mask = p[f::kDstMask];
    r.sampling = st.sampling.For(domain, false, 0, interval);
    DeliverRecord(options_.apply_sampling, r, st.stats, sink);
  }
}

}  // namespace nf
