// nf-trafgen: writes a synthetic Ethernet pcap with known per-flow truth (see tools/trafgen/trafgen.h).
#include <cmath>
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tools/trafgen/trafgen.h"

namespace {

// "1704110400", "1704110400.25" or RFC 3339 ("2024-01-01T12:00:00Z", fractions allowed).
bool ParseStart(const std::string& text, nf::TimeUs* out, std::string* error) {
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds) && std::isfinite(seconds)) {
    *out = static_cast<nf::TimeUs>(std::llround(seconds * 1e6));
    return true;
  }
  absl::Time t;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, error)) return false;
  *out = absl::ToUnixMicros(t);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  nf::trafgen::Options o;
  std::string output;
  std::string truth;
  std::string start;
  int64_t max_gap_ms = o.max_gap_us / 1000;
  int64_t max_duration_s = o.max_flow_duration_us / 1'000'000;
  bool quiet = false;

  CLI::App app{
      "Writes a synthetic Ethernet pcap (valid IPv4/IPv6 TCP/UDP/ICMP frames, heavy-tailed flow "
      "sizes, optional 802.1Q tags) and its per-flow truth as CSV. The same options and seed "
      "always give the same bytes.",
      "nf-trafgen"};
  app.add_option("-o,--output", output, "pcap file to write")->required();
  app.add_option("--truth", truth, "truth CSV to write (default: <output>.truth.csv)");
  app.add_option("-n,--packets", o.packets, "number of packets")->capture_default_str();
  app.add_option("-f,--flows", o.flows, "number of flows (each gets at least one packet)")
      ->capture_default_str();
  app.add_option("-s,--seed", o.seed, "PRNG seed")->capture_default_str();
  app.add_option("--ipv6-ratio", o.ipv6_ratio, "fraction of flows that are IPv6")
      ->capture_default_str();
  app.add_option("--tcp", o.tcp_weight, "relative weight of TCP flows")->capture_default_str();
  app.add_option("--udp", o.udp_weight, "relative weight of UDP flows")->capture_default_str();
  app.add_option("--icmp", o.icmp_weight, "relative weight of ICMP/ICMPv6 (echo) flows")
      ->capture_default_str();
  app.add_option("--vlan-ratio", o.vlan_ratio, "fraction of flows carried in an 802.1Q tag")
      ->capture_default_str();
  app.add_option("--vlans", o.vlan_count, "number of distinct VLAN IDs (100, 101, ...)")
      ->capture_default_str();
  app.add_option("--pareto-alpha", o.pareto_alpha,
                 "Pareto shape of the flow-size mix (smaller = heavier tail)")
      ->capture_default_str();
  app.add_option("--max-flow-packets", o.max_flow_packets, "largest flow in packets (0 = no cap)")
      ->capture_default_str();
  app.add_option("--start", start,
                 "time of the first packet: Unix seconds or RFC 3339 (default "
                 "2024-01-01T12:00:00Z)");
  app.add_option("-r,--rate", o.rate_pps, "packets per second of capture time")
      ->capture_default_str();
  app.add_option("--concurrency", o.concurrency,
                 "flows active at once, interleaved (0 = min(flows, 1024))")
      ->capture_default_str();
  app.add_option("--snaplen", o.snaplen,
                 "cut frames to this many bytes, keeping IP total lengths (0 = whole frames)")
      ->capture_default_str();
  app.add_option("--max-gap-ms", max_gap_ms,
                 "fail if a flow would pause longer than this (exporters would split it; 0 = "
                 "no check)")
      ->capture_default_str();
  app.add_option("--max-flow-duration-s", max_duration_s,
                 "fail if a flow would last longer than this (active timeout; 0 = no check)")
      ->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "print nothing on success");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (!start.empty()) {
    std::string error;
    if (!ParseStart(start, &o.start_us, &error)) {
      std::fprintf(stderr, "nf-trafgen: bad --start '%s': %s\n", start.c_str(), error.c_str());
      return 2;
    }
  }
  o.max_gap_us = max_gap_ms * 1000;
  o.max_flow_duration_us = max_duration_s * 1'000'000;
  if (truth.empty()) truth = nf::trafgen::DefaultTruthPath(output);

  auto summary = nf::trafgen::Generate(o, output, truth);
  if (!summary.ok()) {
    std::fprintf(stderr, "nf-trafgen: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  if (!quiet) {
    const nf::trafgen::Summary& s = *summary;
    std::printf(
        "%s: %llu packets, %llu flows (IPv4 %llu, IPv6 %llu; TCP %llu, UDP %llu, ICMP %llu; "
        "VLAN %llu), %llu IP bytes, largest flow %llu packets, %.3f s of traffic\n"
        "truth: %s\n",
        output.c_str(), static_cast<unsigned long long>(s.packets),
        static_cast<unsigned long long>(s.flows), static_cast<unsigned long long>(s.ipv4_flows),
        static_cast<unsigned long long>(s.ipv6_flows), static_cast<unsigned long long>(s.tcp_flows),
        static_cast<unsigned long long>(s.udp_flows), static_cast<unsigned long long>(s.icmp_flows),
        static_cast<unsigned long long>(s.vlan_flows), static_cast<unsigned long long>(s.l3_bytes),
        static_cast<unsigned long long>(s.largest_flow), (s.last_us - s.first_us) / 1e6,
        truth.c_str());
  }
  return 0;
}
