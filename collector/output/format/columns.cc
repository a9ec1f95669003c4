#include "collector/output/format/columns.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace nf {

void AppendColumn(const CsvColumnInfo& column, const DecodedRecord& r, std::string& out) {
  char buf[kMaxCsvColumnChars];
  out.append(buf, column.write(r, buf));
}

namespace {

inline char* WriteTime(int64_t ms, char* out) {
  return ms == kNoTime ? out : WriteIso8601Ms(ms, out);
}

// The text of a time column is empty for kNoTime and otherwise a function of the ms alone.
char* KeyTime(int64_t ms, char* out) { return WriteNumberKey(static_cast<uint64_t>(ms), out); }

// `bits`: CsvColumnInfo::key_bits (0 = any 64-bit number).
#define NF_UINT_COLUMN_BITS(name, expr, bits, desc)                        \
  {name, desc, nullptr, false,                                               \
   [](const DecodedRecord& r, char* out) {                                 \
     return WriteUnsigned(static_cast<uint64_t>(expr), out);               \
   },                                                                      \
   [](const DecodedRecord& r, char* out) {                                 \
     return WriteNumberKey(static_cast<uint64_t>(expr), out);              \
   }, bits}
#define NF_UINT_COLUMN(name, expr, desc) NF_UINT_COLUMN_BITS(name, expr, 0, desc)
#define NF_COUNTER_COLUMN(name, expr, desc)                                \
  {name, desc, nullptr, true, [](const DecodedRecord& r, char* out) {         \
     return WriteUnsigned(static_cast<uint64_t>(expr), out);                \
   }, nullptr}
// Country codes print as their two letters, nothing when unknown ({0, 0}).
char* WriteCountry(const std::array<char, 2>& c, char* out) {
  if (c[0] == 0) return out;
  *out++ = c[0];
  *out++ = c[1];
  return out;
}

// A text value as one CSV field, quoted as AppendCsvField does (csv_format.h): interface
// names come from an operator's file and may hold commas or quotes.
char* WriteTextField(absl::string_view text, char* out) {
  if (text.size() > kMaxTextColumnBytes) text = text.substr(0, kMaxTextColumnBytes);
  if (text.find_first_of(",\"\r\n") == absl::string_view::npos) {
    if (!text.empty()) std::memcpy(out, text.data(), text.size());
    return out + text.size();
  }
  *out++ = '"';
  for (char c : text) {
    if (c == '"') *out++ = '"';
    *out++ = c;
  }
  *out++ = '"';
  return out;
}

#define NF_COUNTRY_COLUMN(name, expr, desc)                                \
  {name, desc, nullptr, false,                                               \
   [](const DecodedRecord& r, char* out) { return WriteCountry(expr, out); }, \
   [](const DecodedRecord& r, char* out) { return WriteNumberKey(CountryKey(expr), out); }, 16}
#define NF_TEXT_COLUMN(name, expr, desc)                                   \
  {name, desc, nullptr, false,                                               \
   [](const DecodedRecord& r, char* out) { return WriteTextField(expr, out); }, \
   [](const DecodedRecord& r, char* out) { return WriteTextKey(expr, out); }}
#define NF_ADDR_COLUMN(name, expr, desc)                                   \
  {name, desc,                                                             \
   [](const DecodedRecord& r) -> const IpAddress& { return expr; }, false, \
   [](const DecodedRecord& r, char* out) { return WriteAddress(expr, out); }, \
   [](const DecodedRecord& r, char* out) { return WriteAddressKey(expr, out); }}

const CsvColumnInfo kColumns[] = {
    NF_ADDR_COLUMN("exporter", r.exporter.address, "exporter address (UDP source)"),
    NF_UINT_COLUMN("source_id", r.source_id,
                   "v9 source ID / IPFIX observation domain / v5 engine type<<8|engine id"),
    NF_UINT_COLUMN("template_id", r.template_id, "template ID (0 for v5)"),
    {"first", "flow start, ISO 8601 UTC with ms (empty when unknown)", nullptr, false,
     [](const DecodedRecord& r, char* out) { return WriteTime(r.first_ms, out); },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.first_ms, out); }},
    {"last", "flow end, ISO 8601 UTC with ms (empty when unknown)", nullptr, false,
     [](const DecodedRecord& r, char* out) { return WriteTime(r.last_ms, out); },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.last_ms, out); }},
    NF_UINT_COLUMN_BITS("ip_version", r.ip_version, 8, "4 or 6 (0 when the record has no address)"),
    NF_UINT_COLUMN_BITS("protocol", r.protocol, 8, "IP protocol number"),
    NF_ADDR_COLUMN("src_addr", r.src_addr, "source address"),
    NF_ADDR_COLUMN("dst_addr", r.dst_addr, "destination address"),
    NF_UINT_COLUMN_BITS("src_port", r.src_port, 16, "source port"),
    NF_UINT_COLUMN_BITS("dst_port", r.dst_port, 16, "destination port; ICMP type*256+code"),
    NF_UINT_COLUMN_BITS("tos", r.tos, 8, "IP ToS / traffic class byte"),
    NF_UINT_COLUMN_BITS("tcp_flags", r.tcp_flags, 16, "OR of TCP flags"),
    NF_UINT_COLUMN("input_if", r.input_if, "input interface index"),
    NF_UINT_COLUMN("output_if", r.output_if, "output interface index"),
    NF_COUNTER_COLUMN("packets", r.packets, "packets (IN_PKTS / IE 2)"),
    NF_COUNTER_COLUMN("bytes", r.bytes, "layer-3 bytes (IN_BYTES / IE 1)"),
    NF_UINT_COLUMN("sampling", r.sampling, "sampling interval 1-in-N; 0 = not announced"),
    NF_UINT_COLUMN_BITS("version", r.version, 8, "export protocol: 5, 9, 10 (IPFIX) or 105 (sFlow v5)"),
    NF_UINT_COLUMN_BITS("exporter_port", r.exporter.port, 16, "exporter UDP source port"),
    {"receive_time", "when the datagram was received (capture time with -r)", nullptr, false,
     [](const DecodedRecord& r, char* out) {
       return WriteIso8601Ms(r.receive_time_us / 1000, out);
     },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.receive_time_us / 1000, out); }},
    NF_UINT_COLUMN_BITS("src_mask", r.src_mask, 8, "source prefix length (the exporter's, else --routes)"),
    NF_UINT_COLUMN_BITS("dst_mask", r.dst_mask, 8, "destination prefix length (the exporter's, else --routes)"),
    NF_UINT_COLUMN("src_as", r.src_as, "source AS (the exporter's, else --routes / --asn-db)"),
    NF_UINT_COLUMN("dst_as", r.dst_as, "destination AS (the exporter's, else --routes / --asn-db)"),
    NF_ADDR_COLUMN("next_hop", r.next_hop, "next-hop address"),
    NF_UINT_COLUMN_BITS("direction", r.direction, 8, "0 ingress, 1 egress"),
    NF_UINT_COLUMN_BITS("vlan", r.vlan, 16, "VLAN ID"),
    NF_UINT_COLUMN_BITS("flow_end_reason", r.flow_end_reason, 8, "IPFIX flowEndReason"),
    NF_UINT_COLUMN_BITS("engine_type", r.engine_type, 8, "ENGINE_TYPE (IE 38; v5 header)"),
    NF_UINT_COLUMN_BITS("engine_id", r.engine_id, 8, "ENGINE_ID (IE 39; v5 header)"),
    NF_COUNTER_COLUMN("out_packets", r.out_packets, "OUT_PKTS (IE 24), not in packets"),
    NF_COUNTER_COLUMN("out_bytes", r.out_bytes, "OUT_BYTES (IE 23), not in bytes"),
    {"duration_ms", "last - first in ms (empty when unknown)", nullptr, false,
     [](const DecodedRecord& r, char* out) {
       if (r.first_ms != kNoTime && r.last_ms != kNoTime && r.last_ms >= r.first_ms) {
         out = WriteUnsigned(static_cast<uint64_t>(r.last_ms - r.first_ms), out);
       }
       return out;
     },
     [](const DecodedRecord& r, char* out) {
       const bool known = r.first_ms != kNoTime && r.last_ms != kNoTime && r.last_ms >= r.first_ms;
       return WriteNumberKey(
           known ? static_cast<uint64_t>(r.last_ms - r.first_ms) : ~uint64_t{0}, out);
     }},
    NF_UINT_COLUMN_BITS("early", r.from_early_buffer ? 1 : 0, 1,
                   "1 when decoded from data buffered before its template arrived"),
    NF_COUNTRY_COLUMN("src_country", r.src_country,
                      "source country, ISO 3166 code (--geo-db; empty when unknown)"),
    NF_COUNTRY_COLUMN("dst_country", r.dst_country,
                      "destination country, ISO 3166 code (--geo-db; empty when unknown)"),
    NF_TEXT_COLUMN("input_if_name", r.input_if_name,
                   "input interface name (--interfaces, or the exporter's interface table; "
                   "empty when unknown)"),
    NF_TEXT_COLUMN("output_if_name", r.output_if_name,
                   "output interface name (--interfaces, or the exporter's interface table; "
                   "empty when unknown)"),
    NF_COUNTER_COLUMN("reverse_packets", r.reverse_packets,
                      "reverse-direction packets (RFC 5103 biflow, NSEL responder), not in packets"),
    NF_COUNTER_COLUMN("reverse_bytes", r.reverse_bytes,
                      "reverse-direction bytes (RFC 5103 biflow, NSEL responder), not in bytes"),
    NF_UINT_COLUMN_BITS("fw_event", r.fw_event, 8,
                        "firewall event (IE 233; ASA 40005): 1 created, 2 deleted, 3 denied, ..."),
    NF_UINT_COLUMN_BITS("fw_ext_event", r.fw_ext_event, 16, "Cisco ASA extended event (33002)"),
    {"event_time", "firewall/NAT event time (IE 322-325), ISO 8601 UTC (empty when unknown)",
     nullptr, false,
     [](const DecodedRecord& r, char* out) { return WriteTime(r.event_time_ms, out); },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.event_time_ms, out); }},
    NF_ADDR_COLUMN("post_nat_src_addr", r.post_nat_src_addr,
                   "source address after NAT (IE 225/281; ASA 40001)"),
    NF_ADDR_COLUMN("post_nat_dst_addr", r.post_nat_dst_addr,
                   "destination address after NAT (IE 226/282; ASA 40002)"),
    NF_UINT_COLUMN_BITS("post_nat_src_port", r.post_nat_src_port, 16,
                        "source port after NAPT (IE 227; ASA 40003)"),
    NF_UINT_COLUMN_BITS("post_nat_dst_port", r.post_nat_dst_port, 16,
                        "destination port after NAPT (IE 228; ASA 40004)"),
    NF_UINT_COLUMN_BITS("nat_event", r.nat_event, 8, "natEvent (IE 230): 1 create, 2 delete, ..."),
    NF_UINT_COLUMN("ingress_vrf", r.ingress_vrf, "ingress VRF ID (IE 234)"),
    NF_UINT_COLUMN("egress_vrf", r.egress_vrf, "egress VRF ID (IE 235)"),
};

#undef NF_UINT_COLUMN
#undef NF_UINT_COLUMN_BITS
#undef NF_COUNTER_COLUMN
#undef NF_ADDR_COLUMN
#undef NF_COUNTRY_COLUMN
#undef NF_TEXT_COLUMN

}  // namespace

std::span<const CsvColumnInfo> AllCsvColumns() { return kColumns; }

void CsvIdentityText::Update(const DecodedRecord& r) {
  char* out = WriteAddress(r.exporter.address, text_);
  *out++ = ',';
  out = WriteUnsigned(r.source_id, out);
  *out++ = ',';
  out = WriteUnsigned(r.template_id, out);
  *out++ = ',';
  len_ = static_cast<uint8_t>(out - text_);
  exporter_ = r.exporter.address;
  source_id_ = r.source_id;
  template_id_ = r.template_id;
}

char* WriteDefaultCsvColumns(const DecodedRecord& r, CsvIdentityText& identity, char* out) {
  // The same writers as the columns above, in kDefaultCsvColumns' order, inlined into one
  // function: no call per column, and the compiler schedules the stores of neighbouring
  // columns together.
  out = identity.Write(r, out);
  out = WriteTime(r.first_ms, out);
  *out++ = ',';
  out = WriteTime(r.last_ms, out);
  *out++ = ',';
  out = WriteUnsigned(r.ip_version, out);
  *out++ = ',';
  out = WriteUnsigned(r.protocol, out);
  *out++ = ',';
  out = WriteAddress(r.src_addr, out);
  *out++ = ',';
  out = WriteAddress(r.dst_addr, out);
  *out++ = ',';
  out = WriteUnsigned(r.src_port, out);
  *out++ = ',';
  out = WriteUnsigned(r.dst_port, out);
  *out++ = ',';
  out = WriteUnsigned(r.tos, out);
  *out++ = ',';
  out = WriteUnsigned(r.tcp_flags, out);
  *out++ = ',';
  out = WriteUnsigned(r.input_if, out);
  *out++ = ',';
  out = WriteUnsigned(r.output_if, out);
  *out++ = ',';
  out = WriteUnsigned(r.packets, out);
  *out++ = ',';
  out = WriteUnsigned(r.bytes, out);
  *out++ = ',';
  return WriteUnsigned(r.sampling, out);
}

const CsvColumnInfo* FindCsvColumn(absl::string_view name) {
  for (const CsvColumnInfo& c : kColumns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace nf
