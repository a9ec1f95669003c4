// What `flowcollect --report FILE.html` remembers about the records it decodes, in bounded
// memory, so the page can be drawn at exit (or at each --rotate) however long the run was.
//
// Fed with every decoded record (it is a RecordSink), it keeps:
//   - traffic over time: bytes per time bin split into TCP / UDP / ICMP / ICMPv6 / other. Bins
//     live in a fixed ring of kMaxStoredBins; when the data spans more, the bin width steps up a
//     ladder in which every width divides the next (100 ms, 500 ms, 1 s, 5 s, ... 1 d, 7 d, ...)
//     and neighbours are merged exactly. A record's bytes are spread evenly over its flow's
//     [first, last) interval. Records without a plausible flow time (missing, outside
//     1970..2500, or more than a day away from when the datagram arrived) are placed at their
//     arrival time and counted.
//     Series() re-bins to a display width of 60-120 bins where the ladder allows.
//   - top source addresses, destination addresses and (protocol, destination port) by bytes:
//     weighted Space-Saving sketches (space_saving.h) of `top_capacity` keys each, exact until
//     a key is evicted, otherwise approximate with a known error bound;
//   - with enrichment (or exporters that fill them): top source and destination AS numbers and
//     countries by bytes, the same sketches over the records whose AS (country) is known;
//   - per exporter (by address) records, packets, bytes and NetFlow versions, for up to
//     `max_exporters` exporters (records of further exporters are summed as "other");
//   - HyperLogLog estimates of distinct flows (5-tuples), sources and destinations.
// Everything is allocated in the constructor: OnRecord() does not allocate.
//
// Not thread-safe: with several decode workers, feed it under one lock (flowcollect does).
#ifndef NF_COLLECTOR_OUTPUT_REPORT_REPORT_ACCUMULATOR_H_
#define NF_COLLECTOR_OUTPUT_REPORT_REPORT_ACCUMULATOR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "collector/decode/decoded_record.h"
#include "collector/output/report/space_saving.h"
#include "common/ip_address.h"

namespace nf::report {

enum class ProtocolClass : uint8_t { kTcp, kUdp, kIcmp, kIcmpv6, kOther };
inline constexpr size_t kProtocolClasses = 5;
ProtocolClass ClassifyProtocol(uint8_t protocol);
const char* ProtocolClassName(ProtocolClass c);  // "TCP", "UDP", "ICMP", "ICMPv6", "other"

using ProtocolBytes = std::array<uint64_t, kProtocolClasses>;

// Bins kept in memory; Series() shows at most kMaxDisplayBins of them (merged).
inline constexpr size_t kMaxStoredBins = 1024;
inline constexpr size_t kMaxDisplayBins = 120;
// A flow time further than this from the datagram's arrival is not trusted.
inline constexpr int64_t kMaxClockSkewMs = 24 * 3600 * 1000LL;
// Times after 2500-01-01 (or before 1970) are never plausible.
inline constexpr int64_t kLatestPlausibleMs = 16'725'225'600'000LL;

struct ReportOptions {
  size_t top_capacity = 4096;  // keys per ranking sketch
  size_t country_capacity = 1024;  // keys per country sketch: above every ISO 3166 code
  size_t max_exporters = 1024;
};

// Strict weak orders for deterministic ranking ties.
struct IpAddressLess {
  bool operator()(const IpAddress& a, const IpAddress& b) const;
};
struct PortKey {
  uint8_t protocol = 0;
  uint16_t port = 0;  // 0 for protocols without ports; ICMP: type * 256 + code
  friend bool operator==(const PortKey&, const PortKey&) = default;
  friend bool operator<(const PortKey& a, const PortKey& b) {
    return a.protocol != b.protocol ? a.protocol < b.protocol : a.port < b.port;
  }
  template <typename H>
  friend H AbslHashValue(H h, const PortKey& k) {
    return H::combine(std::move(h), k.protocol, k.port);
  }
};
// A country ranking's key: the two letters, first in the high byte (so keys sort as the codes
// do); 0 for unknown. CountryLabel turns it back into the code.
inline uint16_t CountryKeyOf(const std::array<char, 2>& c) {
  return static_cast<uint16_t>(static_cast<uint8_t>(c[0]) << 8 | static_cast<uint8_t>(c[1]));
}
// The port ranking's key for a record (ports kept for TCP, UDP, SCTP, DCCP, UDP-Lite, ICMP).
PortKey PortKeyFor(const DecodedRecord& r);

// HyperLogLog with 2^12 one-byte registers (4 KiB, ~1.6 % standard error), small-range
// corrected by linear counting so small counts are close to exact.
class DistinctCounter {
 public:
  void AddHash(uint64_t hash);
  uint64_t Estimate() const;

 private:
  static constexpr int kBits = 12;
  std::array<uint8_t, size_t{1} << kBits> registers_{};
};

struct ExporterTotals {
  IpAddress address;
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool v5 = false, v9 = false, ipfix = false;
};

struct ReportTotals {
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  ProtocolBytes protocol_bytes{};
  ProtocolBytes protocol_packets{};
  ProtocolBytes protocol_records{};
  int64_t first_ms = 0;  // span of the binned times (valid when records > 0)
  int64_t last_ms = 0;
  uint64_t timed_by_arrival = 0;  // records binned at arrival time (no plausible flow time)
  uint64_t time_clamped = 0;      // beyond the widest bin ladder (never with sane clocks)
};

// Traffic over time at the display width.
struct TimeSeries {
  int64_t start_ms = 0;  // start of bins[0] (aligned to width_ms)
  int64_t width_ms = 0;
  std::vector<ProtocolBytes> bins;
};

template <typename Key>
using TopEntry = typename SpaceSaving<Key>::Entry;

struct Ranking {
  size_t capacity = 0;
  uint64_t evictions = 0;
  uint64_t max_error = 0;
  bool exact = true;
};

class ReportAccumulator : public RecordSink {
 public:
  explicit ReportAccumulator(const ReportOptions& options = {});
  ReportAccumulator(const ReportAccumulator&) = delete;
  ReportAccumulator& operator=(const ReportAccumulator&) = delete;

  void OnRecord(const DecodedRecord& r) override;

  const ReportTotals& totals() const { return totals_; }
  // Bytes over time, merged to at most kMaxDisplayBins (empty without records).
  TimeSeries Series() const;
  int64_t stored_bin_width_ms() const;

  std::vector<SpaceSaving<IpAddress, IpAddressLess>::Entry> TopSources(size_t n) const {
    return sources_.Top(n);
  }
  std::vector<SpaceSaving<IpAddress, IpAddressLess>::Entry> TopDestinations(size_t n) const {
    return destinations_.Top(n);
  }
  std::vector<SpaceSaving<PortKey>::Entry> TopPorts(size_t n) const { return ports_.Top(n); }
  // AS numbers (0, unknown, never counted) and countries (CountryKeyOf) by bytes. Empty when no
  // record carried one.
  std::vector<SpaceSaving<uint32_t>::Entry> TopSourceAs(size_t n) const { return src_as_.Top(n); }
  std::vector<SpaceSaving<uint32_t>::Entry> TopDestinationAs(size_t n) const {
    return dst_as_.Top(n);
  }
  std::vector<SpaceSaving<uint16_t>::Entry> TopSourceCountries(size_t n) const {
    return src_countries_.Top(n);
  }
  std::vector<SpaceSaving<uint16_t>::Entry> TopDestinationCountries(size_t n) const {
    return dst_countries_.Top(n);
  }
  Ranking SourceAsRanking() const { return RankingOf(src_as_); }
  Ranking DestinationAsRanking() const { return RankingOf(dst_as_); }
  Ranking SourceCountryRanking() const { return RankingOf(src_countries_); }
  Ranking DestinationCountryRanking() const { return RankingOf(dst_countries_); }
  Ranking SourceRanking() const { return RankingOf(sources_); }
  Ranking DestinationRanking() const { return RankingOf(destinations_); }
  Ranking PortRanking() const { return RankingOf(ports_); }

  // Exporters in first-seen order; records of exporters beyond max_exporters are in
  // other_exporters() (address unset).
  std::vector<ExporterTotals> Exporters() const;
  const ExporterTotals& other_exporters() const { return other_exporters_; }
  uint64_t exporters_seen() const { return exporters_.size() + (other_exporters_.records ? 1 : 0); }

  uint64_t DistinctFlows() const { return flows_.Estimate(); }
  uint64_t DistinctSources() const { return distinct_sources_.Estimate(); }
  uint64_t DistinctDestinations() const { return distinct_destinations_.Estimate(); }

 private:
  template <typename S>
  static Ranking RankingOf(const S& s) {
    return Ranking{s.capacity(), s.evictions(), s.max_error(), s.exact()};
  }
  // Makes the ring cover absolute bins [lo, hi] at some width; false if it cannot.
  bool Cover(int64_t first_ms, int64_t last_ms);
  void Coarsen();
  ProtocolBytes& Slot(int64_t abs_bin);
  void AddToBins(int64_t first_ms, int64_t last_ms, size_t proto, uint64_t bytes);

  ReportOptions options_;
  ReportTotals totals_;

  // Time bins: a ring indexed by absolute bin number (time / width) modulo kMaxStoredBins.
  size_t ladder_step_ = 0;
  bool have_bins_ = false;
  int64_t lo_bin_ = 0;  // absolute bin numbers present, inclusive
  int64_t hi_bin_ = 0;
  std::unique_ptr<ProtocolBytes[]> bins_;
  std::unique_ptr<ProtocolBytes[]> scratch_;

  SpaceSaving<IpAddress, IpAddressLess> sources_;
  SpaceSaving<IpAddress, IpAddressLess> destinations_;
  SpaceSaving<PortKey> ports_;
  SpaceSaving<uint32_t> src_as_;
  SpaceSaving<uint32_t> dst_as_;
  SpaceSaving<uint16_t> src_countries_;
  SpaceSaving<uint16_t> dst_countries_;

  absl::flat_hash_map<IpAddress, uint32_t> exporter_index_;
  std::vector<ExporterTotals> exporters_;
  ExporterTotals other_exporters_;

  DistinctCounter flows_;
  DistinctCounter distinct_sources_;
  DistinctCounter distinct_destinations_;
};

}  // namespace nf::report

#endif  // NF_COLLECTOR_OUTPUT_REPORT_REPORT_ACCUMULATOR_H_
