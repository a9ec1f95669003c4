#include "collector/output/csv/csv_writer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>

#include "absl/hash/hash.h"
#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/time_format.h"

namespace nf {

namespace {
constexpr size_t kFlushBytes = 1 << 20;
}

namespace {
// "0".."255" for fast dotted quads.
struct OctetTable {
  char text[256][4];
  uint8_t len[256];
  constexpr OctetTable() : text{}, len{} {
    for (int i = 0; i < 256; ++i) {
      int n = 0;
      if (i >= 100) text[i][n++] = static_cast<char>('0' + i / 100);
      if (i >= 10) text[i][n++] = static_cast<char>('0' + (i / 10) % 10);
      text[i][n++] = static_cast<char>('0' + i % 10);
      len[i] = static_cast<uint8_t>(n);
    }
  }
};
constexpr OctetTable kOctets;

inline char* Two(unsigned v, char* p) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// "HH:MM:SS.mmmZ" for a millisecond of the day.
char* WriteTimeOfDay(unsigned msd, char* out) {
  out = Two(msd / 3600000, out);
  *out++ = ':';
  out = Two((msd / 60000) % 60, out);
  *out++ = ':';
  out = Two((msd / 1000) % 60, out);
  *out++ = '.';
  const unsigned ms = msd % 1000;
  *out++ = static_cast<char>('0' + ms / 100);
  out = Two(ms % 100, out);
  *out++ = 'Z';
  return out;
}
}  // namespace

char* WriteUnsigned(uint64_t v, char* out) {
  if (v < 10) {  // flags, masks, ports of 0, most packet counts of tiny flows
    *out = static_cast<char>('0' + v);
    return out + 1;
  }
  return std::to_chars(out, out + 20, v).ptr;
}

namespace {

char* WriteDottedQuad(const uint8_t* b, char* out) {
  for (size_t i = 0; i < 4; ++i) {
    if (i) *out++ = '.';
    std::memcpy(out, kOctets.text[b[i]], 4);
    out += kOctets.len[b[i]];
  }
  return out;
}

// The same text as glibc's inet_ntop(AF_INET6) (RFC 5952 style: lowercase hex without leading
// zeros, the first longest run of two or more zero groups as "::", and the last 32 bits as a
// dotted quad for IPv4-compatible ::a.b.c.d and IPv4-mapped ::ffff:a.b.c.d), without its
// sprintf calls.
char* WriteIpv6(const uint8_t* b, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>((b[2 * i] << 8) | b[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *out++ = ':';
      continue;
    }
    if (i != 0) *out++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
      return WriteDottedQuad(b + 12, out);
    }
    const uint16_t v = w[i];
    if (v >= 0x1000) *out++ = kHex[v >> 12];
    if (v >= 0x100) *out++ = kHex[(v >> 8) & 0xf];
    if (v >= 0x10) *out++ = kHex[(v >> 4) & 0xf];
    *out++ = kHex[v & 0xf];
  }
  if (best >= 0 && best + best_len == 8) *out++ = ':';
  return out;
}

}  // namespace

char* WriteAddress(const IpAddress& a, char* out) {
  if (a.version == 4) return WriteDottedQuad(a.bytes.data(), out);
  if (a.version == 6) return WriteIpv6(a.bytes.data(), out);
  return out;
}

char* WriteIso8601Ms(int64_t unix_ms, char* out) {
  const int64_t days = unix_ms >= 0 ? unix_ms / 86400000 : -((-unix_ms + 86399999) / 86400000);
  const int64_t ms_of_day = unix_ms - days * 86400000;
  // Flows of one run share a handful of days: keep the last date's text ("YYYY-MM-DDT") per
  // thread instead of redoing the calendar arithmetic for every time column.
  thread_local int64_t cached_days = std::numeric_limits<int64_t>::min();
  thread_local char cached_date[11];
  if (days == cached_days) {
    std::memcpy(out, cached_date, 11);
    return WriteTimeOfDay(static_cast<unsigned>(ms_of_day), out + 11);
  }
  // Howard Hinnant's civil_from_days.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
  if (y < 0 || y > 9999) {
    // Outside four-digit years: the slow general path (never seen from sane exporters).
    std::string s;
    AppendIso8601Ms(unix_ms, s);
    const size_t n = std::min(s.size(), kMaxCsvColumnChars);
    std::memcpy(out, s.data(), n);
    return out + n;
  }
  const unsigned yy = static_cast<unsigned>(y);
  char* const date = out;
  out = Two(yy / 100, out);
  out = Two(yy % 100, out);
  *out++ = '-';
  out = Two(m, out);
  *out++ = '-';
  out = Two(d, out);
  *out++ = 'T';
  std::memcpy(cached_date, date, 11);
  cached_days = days;
  return WriteTimeOfDay(static_cast<unsigned>(ms_of_day), out);
}

void AppendUnsigned(uint64_t v, std::string& out) {
  char buf[24];
  out.append(buf, WriteUnsigned(v, buf));
}

void AppendAddress(const IpAddress& a, std::string& out) {
  char buf[kMaxCsvColumnChars];
  out.append(buf, WriteAddress(a, buf));
}

void AppendColumn(const CsvColumnInfo& column, const DecodedRecord& r, std::string& out) {
  char buf[kMaxCsvColumnChars];
  out.append(buf, column.write(r, buf));
}

void AppendCsvField(absl::string_view field, std::string& out) {
  if (field.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out.append(field.data(), field.size());
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

namespace {

char* WriteTime(int64_t ms, char* out) {
  return ms == kNoTime ? out : WriteIso8601Ms(ms, out);
}

// Group keys (CsvColumnInfo::key): a number as its 8 bytes; an address as the count of bytes
// WriteAddress prints (4, 16 or 0) and then those bytes, so bytes an address does not use
// never split a group, and the count keeps a list of keys unambiguous.
char* KeyNumber(uint64_t v, char* out) {
  std::memcpy(out, &v, sizeof(v));
  return out + sizeof(v);
}
char* KeyAddress(const IpAddress& a, char* out) {
  const size_t n = a.version == 4 ? 4 : a.version == 6 ? 16 : 0;
  *out++ = static_cast<char>(n);
  std::memcpy(out, a.bytes.data(), n);
  return out + n;
}
// The text of a time column is empty for kNoTime and otherwise a function of the ms alone.
char* KeyTime(int64_t ms, char* out) { return KeyNumber(static_cast<uint64_t>(ms), out); }

// `bits`: CsvColumnInfo::key_bits (0 = any 64-bit number).
#define NF_UINT_COLUMN_BITS(name, expr, bits, desc)                        \
  {name, desc, false, false,                                               \
   [](const DecodedRecord& r, char* out) {                                 \
     return WriteUnsigned(static_cast<uint64_t>(expr), out);               \
   },                                                                      \
   [](const DecodedRecord& r, char* out) {                                 \
     return KeyNumber(static_cast<uint64_t>(expr), out);                   \
   }, bits}
#define NF_UINT_COLUMN(name, expr, desc) NF_UINT_COLUMN_BITS(name, expr, 0, desc)
#define NF_COUNTER_COLUMN(name, expr, desc)                                \
  {name, desc, false, true, [](const DecodedRecord& r, char* out) {         \
     return WriteUnsigned(static_cast<uint64_t>(expr), out);                \
   }, nullptr}
#define NF_ADDR_COLUMN(name, expr, desc)                                   \
  {name, desc, true, false,                                                \
   [](const DecodedRecord& r, char* out) { return WriteAddress(expr, out); }, \
   [](const DecodedRecord& r, char* out) { return KeyAddress(expr, out); }}

const CsvColumnInfo kColumns[] = {
    NF_ADDR_COLUMN("exporter", r.exporter.address, "exporter address (UDP source)"),
    NF_UINT_COLUMN("source_id", r.source_id,
                   "v9 source ID / IPFIX observation domain / v5 engine type<<8|engine id"),
    NF_UINT_COLUMN("template_id", r.template_id, "template ID (0 for v5)"),
    {"first", "flow start, ISO 8601 UTC with ms (empty when unknown)", false, false,
     [](const DecodedRecord& r, char* out) { return WriteTime(r.first_ms, out); },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.first_ms, out); }},
    {"last", "flow end, ISO 8601 UTC with ms (empty when unknown)", false, false,
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
    NF_UINT_COLUMN_BITS("version", r.version, 8, "export protocol: 5, 9 or 10 (IPFIX)"),
    NF_UINT_COLUMN_BITS("exporter_port", r.exporter.port, 16, "exporter UDP source port"),
    {"receive_time", "when the datagram was received (capture time with -r)", false, false,
     [](const DecodedRecord& r, char* out) {
       return WriteIso8601Ms(r.receive_time_us / 1000, out);
     },
     [](const DecodedRecord& r, char* out) { return KeyTime(r.receive_time_us / 1000, out); }},
    NF_UINT_COLUMN_BITS("src_mask", r.src_mask, 8, "source prefix length"),
    NF_UINT_COLUMN_BITS("dst_mask", r.dst_mask, 8, "destination prefix length"),
    NF_UINT_COLUMN("src_as", r.src_as, "source AS"),
    NF_UINT_COLUMN("dst_as", r.dst_as, "destination AS"),
    NF_ADDR_COLUMN("next_hop", r.next_hop, "next-hop address"),
    NF_UINT_COLUMN_BITS("direction", r.direction, 8, "0 ingress, 1 egress"),
    NF_UINT_COLUMN_BITS("vlan", r.vlan, 16, "VLAN ID"),
    NF_UINT_COLUMN_BITS("flow_end_reason", r.flow_end_reason, 8, "IPFIX flowEndReason"),
    NF_COUNTER_COLUMN("out_packets", r.out_packets, "OUT_PKTS (IE 24), not in packets"),
    NF_COUNTER_COLUMN("out_bytes", r.out_bytes, "OUT_BYTES (IE 23), not in bytes"),
    {"duration_ms", "last - first in ms (empty when unknown)", false, false,
     [](const DecodedRecord& r, char* out) {
       if (r.first_ms != kNoTime && r.last_ms != kNoTime && r.last_ms >= r.first_ms) {
         out = WriteUnsigned(static_cast<uint64_t>(r.last_ms - r.first_ms), out);
       }
       return out;
     },
     [](const DecodedRecord& r, char* out) {
       const bool known = r.first_ms != kNoTime && r.last_ms != kNoTime && r.last_ms >= r.first_ms;
       return KeyNumber(known ? static_cast<uint64_t>(r.last_ms - r.first_ms) : ~uint64_t{0}, out);
     }},
    NF_UINT_COLUMN_BITS("early", r.from_early_buffer ? 1 : 0, 1,
                   "1 when decoded from data buffered before its template arrived"),
};

#undef NF_UINT_COLUMN
#undef NF_UINT_COLUMN_BITS
#undef NF_COUNTER_COLUMN
#undef NF_ADDR_COLUMN

}  // namespace

std::span<const CsvColumnInfo> AllCsvColumns() { return kColumns; }

const CsvColumnInfo* FindCsvColumn(absl::string_view name) {
  for (const CsvColumnInfo& c : kColumns) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

absl::StatusOr<CsvFormatter> CsvFormatter::Create(absl::string_view columns) {
  if (columns.empty()) columns = kDefaultCsvColumns;
  CsvFormatter f;
  for (absl::string_view name : absl::StrSplit(columns, ',')) {
    name = absl::StripAsciiWhitespace(name);
    const CsvColumnInfo* c = FindCsvColumn(name);
    if (c == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown column '", name, "' (see --list-columns)"));
    }
    f.columns_.push_back(c);
    if (f.columns_.size() > 1024) return absl::InvalidArgumentError("too many columns");
  }
  return f;
}

void CsvFormatter::AppendRow(const DecodedRecord& r, std::string& out) const {
  std::string row(max_row_length(), '\0');
  out.append(row.data(), WriteRow(r, row.data()));
}

void CsvFormatter::AppendHeader(std::string& out) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i != 0) out.push_back(',');
    AppendCsvField(columns_[i]->name, out);
  }
  out.push_back('\n');
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Aggregator>> Aggregator::Create(const AggregateOptions& options) {
  std::unique_ptr<Aggregator> a(new Aggregator(options));
  for (absl::string_view spec : absl::StrSplit(options.keys, ',', absl::SkipEmpty())) {
    spec = absl::StripAsciiWhitespace(spec);
    int prefix = -1;
    absl::string_view name = spec;
    if (size_t slash = spec.find('/'); slash != absl::string_view::npos) {
      name = spec.substr(0, slash);
      if (!absl::SimpleAtoi(spec.substr(slash + 1), &prefix) || prefix < 0 || prefix > 128) {
        return absl::InvalidArgumentError(absl::StrCat("bad prefix mask in '", spec, "'"));
      }
    }
    const CsvColumnInfo* c = FindCsvColumn(name);
    if (c == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown aggregation key '", name, "'"));
    }
    if (c->is_counter || c->key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is a counter and cannot be an aggregation key"));
    }
    if (prefix >= 0 && !c->is_address) {
      return absl::InvalidArgumentError(
          absl::StrCat("a prefix mask needs an address column, not '", name, "'"));
    }
    const IpAddress& (*address)(const DecodedRecord&) = nullptr;
    if (prefix >= 0) {
      if (c->name == "src_addr") {
        address = [](const DecodedRecord& d) -> const IpAddress& { return d.src_addr; };
      } else if (c->name == "dst_addr") {
        address = [](const DecodedRecord& d) -> const IpAddress& { return d.dst_addr; };
      } else if (c->name == "next_hop") {
        address = [](const DecodedRecord& d) -> const IpAddress& { return d.next_hop; };
      } else {
        address = [](const DecodedRecord& d) -> const IpAddress& { return d.exporter.address; };
      }
    }
    a->keys_.push_back(Key{c, prefix, address});
  }
  if (a->keys_.empty()) return absl::InvalidArgumentError("-A needs at least one key column");
  // Bin, then each key.
  a->key_bytes_.resize((a->keys_.size() + 1) * kMaxGroupKeyBytes);
  if (options.bin_seconds < 0) return absl::InvalidArgumentError("-t must be >= 0");
  if (options.bin_seconds == 0 && options.direct_index) {
    int bits = 0;
    for (const Key& k : a->keys_) {
      bits = k.prefix >= 0 || k.column->key_bits == 0 ? kMaxDirectKeyBits + 1
                                                       : bits + k.column->key_bits;
    }
    if (bits <= kMaxDirectKeyBits) {
      a->direct_bits_ = bits;
      a->direct_.resize(size_t{1} << bits);
    }
  }
  return a;
}

Aggregator::Group* Aggregator::FindGroup(absl::string_view key, uint32_t hash) {
  if (index_.empty()) return nullptr;
  const size_t mask = index_.size() - 1;
  for (size_t pos = hash & mask;; pos = (pos + 1) & mask) {
    const IndexSlot& slot = index_[pos];
    if (slot.group_plus1 == 0) return nullptr;
    if (slot.hash == hash && KeyOf(slot.group_plus1 - 1) == key) {
      return &groups_[slot.group_plus1 - 1];
    }
  }
}

void Aggregator::IndexGroup(uint32_t group) {
  if (2 * (groups_.size() + 1) > index_.size()) {
    // Grow (or create): at most half full keeps probes short. Slots carry their hash, so
    // moving them reads no group.
    std::vector<IndexSlot> old = std::move(index_);
    index_.assign(std::max<size_t>(64, old.size() * 2), IndexSlot{});
    const size_t mask = index_.size() - 1;
    for (const IndexSlot& slot : old) {
      if (slot.group_plus1 == 0) continue;
      size_t pos = slot.hash & mask;
      while (index_[pos].group_plus1 != 0) pos = (pos + 1) & mask;
      index_[pos] = slot;
    }
  }
  const uint32_t hash = groups_[group].hash;
  const size_t mask = index_.size() - 1;
  size_t pos = hash & mask;
  while (index_[pos].group_plus1 != 0) pos = (pos + 1) & mask;
  index_[pos] = IndexSlot{group + 1, hash};
}

Aggregator::Group* Aggregator::NewGroup(const DecodedRecord& r, int64_t bin,
                                         absl::string_view key, uint32_t hash) {
  if (groups_.size() >= options_.max_groups) {
    ++overflow_records_;
    return nullptr;
  }
  Group& g = groups_.emplace_back();
  g.bin = bin;
  g.hash = hash;
  g.key_length = static_cast<uint32_t>(key.size());
  if (key.empty()) {
    // Direct groups have no key bytes (and key.data() may be null, which memcpy must not see).
  } else if (key.size() <= sizeof(g.short_key)) {
    std::memcpy(g.short_key, key.data(), key.size());
  } else {
    g.key_offset = key_arena_.size();
    key_arena_.append(key.data(), key.size());
  }
  // The text: bin and key columns, each followed by a comma.
  g.text_offset = text_arena_.size();
  char buf[kMaxCsvColumnChars];
  if (options_.bin_seconds > 0) {
    text_arena_.append(buf, WriteIso8601Ms(bin, buf));
    text_arena_.push_back(',');
  }
  for (const Key& k : keys_) {
    if (k.address != nullptr) {
      // Every address column prints with WriteAddress.
      text_arena_.append(buf, WriteAddress(MaskAddress(k.address(r), k.prefix), buf));
    } else {
      text_arena_.append(buf, k.column->write(r, buf));
    }
    text_arena_.push_back(',');
  }
  g.text_length = static_cast<uint32_t>(text_arena_.size() - g.text_offset);
  return &g;
}

bool Aggregator::AddDirect(const DecodedRecord& r) {
  uint64_t index = 0;
  for (const Key& k : keys_) {
    char buf[kMaxGroupKeyBytes];
    k.column->key(r, buf);
    uint64_t v;
    std::memcpy(&v, buf, sizeof(v));  // KeyNumber's bytes
    if ((v >> k.column->key_bits) != 0) return false;  // not as narrow as declared: hash it
    index = (index << k.column->key_bits) | v;
  }
  uint32_t& slot = direct_[index];
  if (slot == 0) {
    if (NewGroup(r, 0, {}, 0) == nullptr) return true;
    slot = static_cast<uint32_t>(groups_.size());
    direct_used_.push_back(static_cast<uint32_t>(index));
  }
  Group& g = groups_[slot - 1];
  ++g.flows;
  g.packets += r.packets;
  g.bytes += r.bytes;
  return true;
}

void Aggregator::Add(const DecodedRecord& r) {
  if (direct_bits_ > 0 && AddDirect(r)) return;
  int64_t bin = 0;
  // The group key is binary (CsvColumnInfo::key), written into a fixed buffer: no text
  // formatting and no allocation per record for an existing group; a new group formats its
  // text once (NewGroup).
  char* const start = key_bytes_.data();
  char* out = start;
  if (options_.bin_seconds > 0) {
    const int64_t t = r.first_ms != kNoTime ? r.first_ms : r.receive_time_us / 1000;
    const int64_t width = options_.bin_seconds * 1000;
    bin = (t >= 0 ? t / width : (t - width + 1) / width) * width;
    std::memcpy(out, &bin, sizeof(bin));
    out += sizeof(bin);
  }
  for (const Key& k : keys_) {
    if (k.address != nullptr) {
      out = KeyAddress(MaskAddress(k.address(r), k.prefix), out);
    } else {
      out = k.column->key(r, out);  // every column that can be a key has one (Create)
    }
  }
  const absl::string_view key(start, static_cast<size_t>(out - start));
  const uint32_t hash = static_cast<uint32_t>(absl::Hash<absl::string_view>{}(key));
  Group* g = FindGroup(key, hash);
  if (g == nullptr) {
    g = NewGroup(r, bin, key, hash);
    if (g == nullptr) return;
    IndexGroup(static_cast<uint32_t>(groups_.size() - 1));
  }
  ++g->flows;
  g->packets += r.packets;
  g->bytes += r.bytes;
}

void Aggregator::AppendHeader(std::string& out) const {
  if (options_.bin_seconds > 0) out += "bin_start,";
  for (const Key& k : keys_) {
    out.append(k.column->name.data(), k.column->name.size());
    if (k.prefix >= 0) absl::StrAppend(&out, "/", k.prefix);
    out.push_back(',');
  }
  out += "flows,packets,bytes\n";
}

void Aggregator::AppendRowsAndClear(std::string& out) {
  // Sorted on copies of what the order needs, so comparisons rarely touch the groups.
  // Ties (common: many groups have the same counts) go by text; its first 16 bytes, as a
  // big-endian number, settle most of them without reading the text.
  struct Row {
    int64_t bin;
    uint64_t metric;
    absl::uint128 prefix;
    uint32_t group;
  };
  std::vector<Row> rows;
  rows.reserve(groups_.size());
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group& g = groups_[i];
    const uint64_t metric = options_.order_by == OrderBy::kPackets ? g.packets
                            : options_.order_by == OrderBy::kFlows ? g.flows
                                                                   : g.bytes;
    uint8_t head[16] = {};
    const absl::string_view text = TextOf(g);
    std::memcpy(head, text.data(), std::min(text.size(), sizeof(head)));
    uint64_t hi = 0, lo = 0;
    for (int k = 0; k < 8; ++k) {
      hi = (hi << 8) | head[k];
      lo = (lo << 8) | head[8 + k];
    }
    rows.push_back(Row{g.bin, metric, absl::MakeUint128(hi, lo), static_cast<uint32_t>(i)});
  }
  std::sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (a.bin != b.bin) return a.bin < b.bin;
    if (a.metric != b.metric) return a.metric > b.metric;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return TextOf(groups_[a.group]) < TextOf(groups_[b.group]);  // deterministic ties
  });
  size_t in_bin = 0;
  int64_t current_bin = 0;
  constexpr size_t kAhead = 8;  // rows are in sorted order, groups are not: fetch ahead
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i + kAhead < rows.size()) {
      const Group& next = groups_[rows[i + kAhead].group];
      __builtin_prefetch(&next);
      __builtin_prefetch(text_arena_.data() + next.text_offset);
    }
    const Group& g = groups_[rows[i].group];
    if (i == 0 || g.bin != current_bin) {
      current_bin = g.bin;
      in_bin = 0;
    }
    if (options_.top > 0 && in_bin >= options_.top) continue;
    ++in_bin;
    const absl::string_view text = TextOf(g);
    out.append(text.data(), text.size());
    AppendUnsigned(g.flows, out);
    out.push_back(',');
    AppendUnsigned(g.packets, out);
    out.push_back(',');
    AppendUnsigned(g.bytes, out);
    out.push_back('\n');
  }
  groups_.clear();
  key_arena_.clear();
  text_arena_.clear();
  // Freed, not kept: the next interval may need far fewer groups.
  std::vector<IndexSlot>().swap(index_);
  for (uint32_t i : direct_used_) direct_[i] = 0;
  direct_used_.clear();
}

// ---------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<CsvSink>> CsvSink::Create(const CsvSinkOptions& options) {
  std::unique_ptr<CsvSink> s(new CsvSink(options));
  if (!options.aggregate.keys.empty()) {
    auto agg = Aggregator::Create(options.aggregate);
    if (!agg.ok()) return agg.status();
    s->aggregator_ = std::move(*agg);
  } else {
    auto f = CsvFormatter::Create(options.columns);
    if (!f.ok()) return f.status();
    s->formatter_ = std::make_unique<CsvFormatter>(std::move(*f));
  }
  if (!options.directory.empty()) {
    if (options.rotate_seconds <= 0) return absl::InvalidArgumentError("--rotate must be > 0");
    if (::access(options.directory.c_str(), W_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("output directory ", options.directory, ": ", std::strerror(errno)));
    }
  } else {
    // A single output is opened now so a bad path fails at start-up, not at the first record.
    absl::Status st = s->file_.Open(options.output);
    if (!st.ok()) return st;
    s->header_written_ = false;
  }
  if (s->formatter_) {
    s->rows_cap_ = kFlushBytes + s->formatter_->max_row_length();
    s->rows_buffer_ = std::make_unique<char[]>(s->rows_cap_);
  }
  return s;
}

CsvSink::~CsvSink() {
  if (!closed_) file_.Abort();
}

absl::Status CsvSink::OpenFor(TimeUs t) {
  const int64_t width = options_.rotate_seconds * 1'000'000;
  interval_start_us_ = (t >= 0 ? t / width : (t - width + 1) / width) * width;
  std::string name = "flows-";
  std::string iso;
  AppendIso8601Ms(interval_start_us_ / 1000, iso);
  // 2024-01-31T12:00:00.000Z -> 20240131T120000Z (no ':' in file names)
  for (char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') name.push_back(c);
  }
  header_written_ = false;
  file_failed_ = false;
  rows_in_file_ = 0;
  // A restart within the same interval must not replace the file the previous run wrote:
  // flows-...Z.csv, then flows-...Z-1.csv, -2, ...
  std::string path = absl::StrCat(options_.directory, "/", name, "Z.csv");
  struct stat st;
  for (int n = 1; n < 10000 && ::stat(path.c_str(), &st) == 0; ++n) {
    path = absl::StrCat(options_.directory, "/", name, "Z-", n, ".csv");
  }
  return file_.Open(path);
}

void CsvSink::FailFile(const absl::Status& st) {
  file_.Abort();
  buffer_.clear();
  rows_len_ = 0;
  rows_lost_ += rows_in_file_;
  rows_in_file_ = 0;
  ++files_failed_;
  file_failed_ = true;
  if (status_.ok()) status_ = st;
  if (options_.on_error) options_.on_error(st);
}

absl::Status CsvSink::FinishFile() {
  if (file_failed_ || !file_.is_open()) return absl::OkStatus();
  if (!header_written_) {
    if (aggregator_) {
      aggregator_->AppendHeader(buffer_);
    } else {
      formatter_->AppendHeader(buffer_);
    }
    header_written_ = true;
  }
  if (aggregator_) {
    const size_t before = std::count(buffer_.begin(), buffer_.end(), '\n');
    aggregator_->AppendRowsAndClear(buffer_);
    const size_t n = std::count(buffer_.begin(), buffer_.end(), '\n') - before;
    rows_ += n;
    rows_in_file_ += n;
  }
  absl::Status st = file_.Write(buffer_);
  if (st.ok()) st = file_.Write(absl::string_view(rows_buffer_.get(), rows_len_));
  buffer_.clear();
  rows_len_ = 0;
  if (st.ok()) st = file_.Commit();
  if (!st.ok()) {
    FailFile(st);
    return st;
  }
  rows_in_file_ = 0;
  ++files_;
  return absl::OkStatus();
}

void CsvSink::FlushIfLarge() {
  if (rows_len_ < kFlushBytes) return;
  // The header (if any) is in buffer_ and precedes the rows.
  absl::Status st = file_.Write(buffer_);
  if (st.ok()) st = file_.Write(absl::string_view(rows_buffer_.get(), rows_len_));
  buffer_.clear();
  rows_len_ = 0;
  if (!st.ok()) FailFile(st);
}

void CsvSink::OnRecord(const DecodedRecord& r) {
  if (closed_) return;
  if (!options_.directory.empty()) {
    const int64_t width = options_.rotate_seconds * 1'000'000;
    if (!file_.is_open() || r.receive_time_us >= interval_start_us_ + width) {
      if (file_.is_open()) (void)FinishFile();  // a failure is counted by FailFile
      absl::Status st = OpenFor(r.receive_time_us);
      if (!st.ok()) FailFile(st);
    }
  }
  if (file_failed_) {
    ++rows_lost_;  // the output of this interval (-w) or run (-o) is gone: count, do not store
    return;
  }
  if (!header_written_) {
    if (aggregator_) {
      // The aggregated header is written when the rows are (at the end of the file).
    } else {
      formatter_->AppendHeader(buffer_);
      header_written_ = true;
    }
  }
  if (aggregator_) {
    aggregator_->Add(r);
    return;
  }
  rows_len_ = static_cast<size_t>(formatter_->WriteRow(r, rows_buffer_.get() + rows_len_) -
                                  rows_buffer_.get());
  ++rows_;
  ++rows_in_file_;
  FlushIfLarge();
}

absl::Status CsvSink::Tick(TimeUs now) {
  if (closed_ || options_.directory.empty() || !file_.is_open()) return absl::OkStatus();
  if (now >= interval_start_us_ + options_.rotate_seconds * 1'000'000) {
    return FinishFile();  // a failure is counted and kept in status_ by FailFile
  }
  return absl::OkStatus();
}

absl::Status CsvSink::Close() {
  if (closed_) return status_;
  closed_ = true;
  if (options_.directory.empty() || file_.is_open()) (void)FinishFile();
  return status_;
}

}  // namespace nf
