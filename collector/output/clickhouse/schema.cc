#include "collector/output/clickhouse/schema.h"

#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nf::clickhouse {
namespace {

constexpr Column kColumns[] = {
    {"batch_id", "UInt64", "insert batch the row came from (idempotent re-sends)"},
    {"receive_time", "DateTime", "when the datagram was received (capture time with -r)"},
    {"exporter", "FixedString(16)", "exporter address (IPv4-mapped for IPv4)"},
    {"exporter_port", "UInt16", "exporter UDP source port"},
    {"version", "UInt8", "export protocol: 5, 9, 10 (IPFIX) or 105 (sFlow v5)"},
    {"source_id", "UInt32", "v9 source ID / IPFIX observation domain / v5 engine"},
    {"template_id", "UInt16", "template ID (0 for v5)"},
    {"first", "DateTime", "flow start, Unix seconds (0 when the record has none)"},
    {"first_msec", "UInt16", "milliseconds part of first"},
    {"last", "DateTime", "flow end, Unix seconds (0 when the record has none)"},
    {"last_msec", "UInt16", "milliseconds part of last"},
    {"ip_version", "UInt8", "4 or 6 (0 when the record has no address)"},
    {"protocol", "UInt8", "IP protocol number"},
    {"src_addr", "FixedString(16)", "source address (IPv4-mapped for IPv4)"},
    {"dst_addr", "FixedString(16)", "destination address (IPv4-mapped for IPv4)"},
    {"src_port", "UInt16", "source port"},
    {"dst_port", "UInt16", "destination port; ICMP type*256+code"},
    {"tos", "UInt8", "IP ToS / traffic class byte"},
    {"tcp_flags", "UInt16", "OR of TCP flags"},
    {"input_if", "UInt32", "input interface index"},
    {"output_if", "UInt32", "output interface index"},
    {"packets", "UInt64", "packets (IN_PKTS / IE 2)"},
    {"bytes", "UInt64", "layer-3 bytes (IN_BYTES / IE 1)"},
    {"sampling", "UInt32", "sampling interval 1-in-N; 0 = not announced"},
    {"src_mask", "UInt8", "source prefix length"},
    {"dst_mask", "UInt8", "destination prefix length"},
    {"src_as", "UInt32", "source AS"},
    {"dst_as", "UInt32", "destination AS"},
    {"next_hop", "FixedString(16)", "next-hop address (IPv4-mapped for IPv4)"},
    {"direction", "UInt8", "0 ingress, 1 egress"},
    {"vlan", "UInt16", "VLAN ID"},
    {"flow_end_reason", "UInt8", "IPFIX flowEndReason"},
    {"out_packets", "UInt64", "OUT_PKTS (IE 24), not in packets"},
    {"out_bytes", "UInt64", "OUT_BYTES (IE 23), not in bytes"},
    {"early", "UInt8", "1 when decoded from data buffered before its template arrived"},
    {"src_country", "FixedString(2)", "source country, ISO 3166 (--geo-db; zero bytes = unknown)"},
    {"dst_country", "FixedString(2)", "destination country, ISO 3166 (--geo-db)"},
    {"input_if_name", "String", "input interface name (--interfaces; empty = unknown)"},
    {"output_if_name", "String", "output interface name (--interfaces; empty = unknown)"},
};

template <typename T>
inline void Put(T v, std::string& out) {
  // RowBinary is little-endian; so is every platform this project builds on (x86-64, arm64).
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

inline void PutAddress(const IpAddress& a, std::string& out) {
  char b[16] = {};
  if (a.is_v4()) {
    b[10] = static_cast<char>(0xff);
    b[11] = static_cast<char>(0xff);
    std::memcpy(b + 12, a.bytes.data(), 4);
  } else if (a.is_v6()) {
    std::memcpy(b, a.bytes.data(), 16);
  }
  out.append(b, 16);
}

// RowBinary String: LEB128 length, then the bytes.
inline void PutString(absl::string_view text, std::string& out) {
  size_t n = text.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(text.data(), text.size());
}

inline uint32_t ClampSeconds(int64_t seconds) {
  if (seconds < 0) return 0;
  if (seconds > 0xffffffffLL) return 0xffffffffU;
  return static_cast<uint32_t>(seconds);
}

// Appends DateTime seconds and the UInt16 millisecond part.
inline void PutTimeMs(int64_t ms, std::string& out) {
  if (ms == kNoTime || ms < 0) {
    Put<uint32_t>(0, out);
    Put<uint16_t>(0, out);
    return;
  }
  Put<uint32_t>(ClampSeconds(ms / 1000), out);
  Put<uint16_t>(static_cast<uint16_t>(ms % 1000), out);
}

bool ValidIdentifier(absl::string_view s) {
  if (s.empty() || !(absl::ascii_isalpha(s[0]) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_')) return false;
  }
  return true;
}

}  // namespace

std::span<const Column> Columns() { return kColumns; }

std::string ColumnList() {
  std::string out;
  for (const Column& c : kColumns) {
    if (!out.empty()) out.append(", ");
    out.append(c.name.data(), c.name.size());
  }
  return out;
}

absl::Status ValidateTableName(absl::string_view table) {
  std::vector<absl::string_view> parts = absl::StrSplit(table, '.');
  if (parts.size() > 2) {
    return absl::InvalidArgumentError(absl::StrCat("bad table name '", table, "': use [db.]name"));
  }
  for (absl::string_view p : parts) {
    if (!ValidIdentifier(p)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad table name '", table, "': letters, digits and _ only, as [db.]name"));
    }
  }
  return absl::OkStatus();
}

std::string CreateTableSql(absl::string_view table) {
  std::string out = absl::StrCat("CREATE TABLE IF NOT EXISTS ", table, "\n(\n");
  size_t width = 0;
  for (const Column& c : kColumns) width = std::max(width, c.name.size());
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    const Column& c = kColumns[i];
    std::string type = absl::StrCat(c.type, i + 1 < std::size(kColumns) ? "," : "");
    absl::StrAppend(&out, "    ", c.name, std::string(width + 1 - c.name.size(), ' '), type,
                    std::string(type.size() < 19 ? 19 - type.size() : 1, ' '), "-- ",
                    c.description, "\n");
  }
  absl::StrAppend(&out,
                  ")\n"
                  "ENGINE = MergeTree()\n"
                  "PARTITION BY toYYYYMMDD(receive_time)\n"
                  "ORDER BY (receive_time, exporter)\n"
                  "SETTINGS index_granularity = 8192;\n");
  return out;
}

std::string CreateDistributedTableSql(absl::string_view table, absl::string_view cluster,
                                      absl::string_view local_table) {
  std::string db = "currentDatabase()";
  absl::string_view local_name = local_table;
  if (size_t dot = local_table.find('.'); dot != absl::string_view::npos) {
    db = std::string(local_table.substr(0, dot));
    local_name = local_table.substr(dot + 1);
  }
  return absl::StrCat("CREATE TABLE IF NOT EXISTS ", table, " AS ", local_table,
                      "\nENGINE = Distributed(", cluster, ", ", db, ", ", local_name,
                      ", batch_id);\n");
}

uint32_t ReceiveSeconds(const DecodedRecord& r) {
  return ClampSeconds(r.receive_time_us / 1'000'000);
}

void AppendRowBinary(const DecodedRecord& r, uint64_t batch_id, std::string& out) {
  Put<uint64_t>(batch_id, out);
  Put<uint32_t>(ReceiveSeconds(r), out);
  PutAddress(r.exporter.address, out);
  Put<uint16_t>(r.exporter.port, out);
  Put<uint8_t>(r.version, out);
  Put<uint32_t>(r.source_id, out);
  Put<uint16_t>(r.template_id, out);
  PutTimeMs(r.first_ms, out);
  PutTimeMs(r.last_ms, out);
  Put<uint8_t>(r.ip_version, out);
  Put<uint8_t>(r.protocol, out);
  PutAddress(r.src_addr, out);
  PutAddress(r.dst_addr, out);
  Put<uint16_t>(r.src_port, out);
  Put<uint16_t>(r.dst_port, out);
  Put<uint8_t>(r.tos, out);
  Put<uint16_t>(r.tcp_flags, out);
  Put<uint32_t>(r.input_if, out);
  Put<uint32_t>(r.output_if, out);
  Put<uint64_t>(r.packets, out);
  Put<uint64_t>(r.bytes, out);
  Put<uint32_t>(r.sampling, out);
  Put<uint8_t>(r.src_mask, out);
  Put<uint8_t>(r.dst_mask, out);
  Put<uint32_t>(r.src_as, out);
  Put<uint32_t>(r.dst_as, out);
  PutAddress(r.next_hop, out);
  Put<uint8_t>(r.direction, out);
  Put<uint16_t>(r.vlan, out);
  Put<uint8_t>(r.flow_end_reason, out);
  Put<uint64_t>(r.out_packets, out);
  Put<uint64_t>(r.out_bytes, out);
  Put<uint8_t>(r.from_early_buffer ? 1 : 0, out);
  out.append(r.src_country.data(), 2);
  out.append(r.dst_country.data(), 2);
  PutString(r.input_if_name, out);
  PutString(r.output_if_name, out);
}

}  // namespace nf::clickhouse
