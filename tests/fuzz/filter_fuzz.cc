// Fuzz target: the record filter compiler (nfdump's filter language, flowcollect -f).
// Compiling must end in a filter or an "at N: ..." error inside the text, never a crash, a hang
// or a deep recursion; what compiles must print a canonical form that compiles back to the same
// form and the same answers, and without flags terms `not (EXPR)` must answer the opposite.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "collector/filter/flow_filter.h"

namespace {

nf::IpAddress Ip(const char* text) { return *nf::ParseIpAddress(text); }

std::array<nf::DecodedRecord, 5> Records() {
  std::array<nf::DecodedRecord, 5> rs{};
  nf::DecodedRecord& tcp = rs[0];
  tcp.exporter.address = Ip("198.51.100.1");
  tcp.version = 10;
  tcp.source_id = 7;
  tcp.first_ms = 1700000000000;
  tcp.last_ms = 1700000002000;
  tcp.ip_version = 4;
  tcp.protocol = 6;
  tcp.tos = 32;
  tcp.src_mask = 24;
  tcp.dst_mask = 16;
  tcp.engine_type = 1;
  tcp.engine_id = 2;
  tcp.tcp_flags = 0x12;
  tcp.src_port = 40000;
  tcp.dst_port = 443;
  tcp.vlan = 100;
  tcp.input_if = 3;
  tcp.output_if = 4;
  tcp.src_as = 64500;
  tcp.dst_as = 15169;
  tcp.sampling = 1000;
  tcp.src_addr = Ip("10.0.0.1");
  tcp.dst_addr = Ip("192.0.2.10");
  tcp.next_hop = Ip("10.0.0.254");
  tcp.packets = 10;
  tcp.bytes = 15000;
  tcp.out_packets = 8;
  tcp.out_bytes = 900;
  tcp.src_country = {'D', 'E'};
  tcp.dst_country = {'U', 'S'};
  tcp.input_if_name = "eth0";
  tcp.output_if_name = "ge-0/0/1";

  nf::DecodedRecord& udp6 = rs[1];
  udp6 = tcp;
  udp6.exporter.address = Ip("::ffff:198.51.100.2");
  udp6.ip_version = 6;
  udp6.protocol = 17;
  udp6.tcp_flags = 0;
  udp6.src_port = 53;
  udp6.dst_port = 33000;
  udp6.src_addr = Ip("2001:db8::1");
  udp6.dst_addr = Ip("2001:db8:1::53");
  udp6.next_hop = Ip("fe80::1");
  udp6.direction = 1;
  udp6.src_country = {};
  udp6.output_if_name = {};

  nf::DecodedRecord& icmp = rs[2];
  icmp = tcp;
  icmp.protocol = 1;
  icmp.tcp_flags = 0;
  icmp.src_port = 0;
  icmp.dst_port = 3 * 256 + 1;
  icmp.last_ms = icmp.first_ms - 5;  // broken times

  nf::DecodedRecord& extreme = rs[3];
  extreme = tcp;
  extreme.tcp_flags = 0xffff;
  extreme.packets = ~uint64_t{0};
  extreme.bytes = ~uint64_t{0};
  extreme.last_ms = extreme.first_ms + 1;
  extreme.src_as = 0xffffffff;
  extreme.flows = 0xffffffff;

  // rs[4]: a record with nothing set.
  return rs;
}

// "at N: ..." with N within the text (its characters, plus one for the end).
void CheckError(const absl::Status& status, const std::string& text) {
  if (status.code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
  const absl::string_view m = status.message();
  if (!absl::StartsWith(m, "at ")) __builtin_trap();
  const size_t colon = m.find(':');
  uint64_t position = 0;
  if (colon == absl::string_view::npos || !absl::SimpleAtoi(m.substr(3, colon - 3), &position)) {
    __builtin_trap();
  }
  size_t chars = 0;
  for (unsigned char c : text) chars += (c & 0xc0) != 0x80;
  if (position < 1 || position > chars + 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::array<nf::DecodedRecord, 5> kRecords = Records();
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto filter = nf::FlowFilter::Compile(text);
  if (!filter.ok()) {
    CheckError(filter.status(), text);
    return 0;
  }
  bool results[kRecords.size()];
  for (size_t i = 0; i < kRecords.size(); ++i) results[i] = filter->Matches(kRecords[i]);

  // The canonical form compiles to itself and answers the same. It parenthesizes every and/or,
  // so an input near the nesting limit may print deeper than the limit: that alone is no bug.
  const std::string canonical = filter->DebugString();
  auto again = nf::FlowFilter::Compile(canonical);
  if (!again.ok()) {
    if (!absl::StrContains(again.status().message(), "nested deeper than")) __builtin_trap();
    return 0;
  }
  if (again->DebugString() != canonical) __builtin_trap();
  if (again->uses_country() != filter->uses_country() ||
      again->uses_interface_names() != filter->uses_interface_names()) {
    __builtin_trap();
  }
  for (size_t i = 0; i < kRecords.size(); ++i) {
    if (again->Matches(kRecords[i]) != results[i]) __builtin_trap();
  }

  // Negation is the complement, except for flags (any-of under `not`, as nfdump).
  if (!filter->matches_all() && !absl::StrContains(canonical, "flags ")) {
    auto negated = nf::FlowFilter::Compile("not (" + canonical + ")");
    if (negated.ok()) {
      for (size_t i = 0; i < kRecords.size(); ++i) {
        if (negated->Matches(kRecords[i]) == results[i]) __builtin_trap();
      }
    }
  }
  return 0;
}
