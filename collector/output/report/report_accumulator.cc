#include "collector/output/report/report_accumulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/hash/hash.h"

namespace nf::report {
namespace {

// Stored bin widths in ms. Each divides the next, so coarsening merges whole bins exactly.
constexpr int64_t kLadderMs[] = {
    100,         500,         1'000,         5'000,          10'000,         30'000,
    60'000,      300'000,     600'000,       1'800'000,      3'600'000,      10'800'000,
    21'600'000,  43'200'000,  86'400'000,    604'800'000,    2'419'200'000,  31'449'600'000,
    314'496'000'000};
constexpr size_t kLadderSteps = sizeof(kLadderMs) / sizeof(kLadderMs[0]);

// Widths people read easily; the display uses the smallest that is a multiple of the stored
// width and fits kMaxDisplayBins.
constexpr int64_t kDisplayMs[] = {
    100,           200,           500,           1'000,          2'000,          5'000,
    10'000,        15'000,        20'000,        30'000,         60'000,         120'000,
    300'000,       600'000,       900'000,       1'200'000,      1'800'000,      3'600'000,
    7'200'000,     10'800'000,    14'400'000,    21'600'000,     43'200'000,     86'400'000,
    172'800'000,   604'800'000,   1'209'600'000, 2'419'200'000,  7'862'400'000,  31'449'600'000,
    62'899'200'000, 314'496'000'000};

__extension__ using Uint128 = unsigned __int128;  // bytes * milliseconds overflows 64 bits

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

uint64_t Mix(uint64_t x) {
  // splitmix64 finaliser: HyperLogLog needs every bit of the hash well mixed.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

struct FlowKey {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t protocol;
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    return H::combine(std::move(h), k.src, k.dst, k.src_port, k.dst_port, k.protocol);
  }
};

}  // namespace

ProtocolClass ClassifyProtocol(uint8_t protocol) {
  switch (protocol) {
    case 6: return ProtocolClass::kTcp;
    case 17: return ProtocolClass::kUdp;
    case 1: return ProtocolClass::kIcmp;
    case 58: return ProtocolClass::kIcmpv6;
    default: return ProtocolClass::kOther;
  }
}

const char* ProtocolClassName(ProtocolClass c) {
  switch (c) {
    case ProtocolClass::kTcp: return "TCP";
    case ProtocolClass::kUdp: return "UDP";
    case ProtocolClass::kIcmp: return "ICMP";
    case ProtocolClass::kIcmpv6: return "ICMPv6";
    case ProtocolClass::kOther: return "other";
  }
  return "other";
}

bool IpAddressLess::operator()(const IpAddress& a, const IpAddress& b) const {
  if (a.version != b.version) return a.version < b.version;
  return std::memcmp(a.bytes.data(), b.bytes.data(), a.bytes.size()) < 0;
}

PortKey PortKeyFor(const DecodedRecord& r) {
  switch (r.protocol) {
    case 1: case 6: case 17: case 33: case 58: case 132: case 136:
      return PortKey{r.protocol, r.dst_port};
    default:
      return PortKey{r.protocol, 0};
  }
}

void DistinctCounter::AddHash(uint64_t hash) {
  hash = Mix(hash);
  const size_t index = hash >> (64 - kBits);
  const uint64_t rest = hash << kBits;
  // Position of the first 1 bit in the remaining 52 bits (53 when they are all zero).
  const uint8_t rank =
      rest == 0 ? static_cast<uint8_t>(64 - kBits + 1)
                : static_cast<uint8_t>(__builtin_clzll(rest) + 1);
  if (rank > registers_[index]) registers_[index] = rank;
}

uint64_t DistinctCounter::Estimate() const {
  constexpr double m = static_cast<double>(size_t{1} << kBits);
  double sum = 0;
  size_t zeros = 0;
  for (uint8_t r : registers_) {
    sum += std::ldexp(1.0, -static_cast<int>(r));
    if (r == 0) ++zeros;
  }
  if (zeros == registers_.size()) return 0;
  const double alpha = 0.7213 / (1 + 1.079 / m);
  double e = alpha * m * m / sum;
  if (e <= 2.5 * m && zeros > 0) e = m * std::log(m / static_cast<double>(zeros));
  return static_cast<uint64_t>(std::llround(e));
}

ReportAccumulator::ReportAccumulator(const ReportOptions& options)
    : options_(options),
      bins_(new ProtocolBytes[kMaxStoredBins]()),
      scratch_(new ProtocolBytes[kMaxStoredBins]()),
      sources_(options.top_capacity),
      destinations_(options.top_capacity),
      ports_(options.top_capacity),
      src_as_(options.top_capacity),
      dst_as_(options.top_capacity),
      src_countries_(options.country_capacity),
      dst_countries_(options.country_capacity) {
  options_.max_exporters = std::max<size_t>(options_.max_exporters, 1);
  exporters_.reserve(options_.max_exporters);
  exporter_index_.reserve(options_.max_exporters);
}

int64_t ReportAccumulator::stored_bin_width_ms() const { return kLadderMs[ladder_step_]; }

ProtocolBytes& ReportAccumulator::Slot(int64_t abs_bin) {
  int64_t i = abs_bin % static_cast<int64_t>(kMaxStoredBins);
  if (i < 0) i += static_cast<int64_t>(kMaxStoredBins);
  return bins_[static_cast<size_t>(i)];
}

void ReportAccumulator::Coarsen() {
  const int64_t ratio = kLadderMs[ladder_step_ + 1] / kLadderMs[ladder_step_];
  const int64_t new_lo = FloorDiv(lo_bin_, ratio);
  const int64_t new_hi = FloorDiv(hi_bin_, ratio);
  std::swap(bins_, scratch_);  // bins_ is now all zeros; scratch_ holds the old ring
  for (int64_t b = lo_bin_; b <= hi_bin_; ++b) {
    int64_t i = b % static_cast<int64_t>(kMaxStoredBins);
    if (i < 0) i += static_cast<int64_t>(kMaxStoredBins);
    ProtocolBytes& from = scratch_[static_cast<size_t>(i)];
    ProtocolBytes& to = Slot(FloorDiv(b, ratio));
    for (size_t p = 0; p < kProtocolClasses; ++p) to[p] += from[p];
    from = ProtocolBytes{};  // keep the spare ring all zeros
  }
  ++ladder_step_;
  lo_bin_ = new_lo;
  hi_bin_ = new_hi;
}

bool ReportAccumulator::Cover(int64_t first_ms, int64_t last_ms) {
  for (;;) {
    const int64_t w = kLadderMs[ladder_step_];
    const int64_t a = FloorDiv(first_ms, w);
    const int64_t b = FloorDiv(last_ms, w);
    const int64_t lo = have_bins_ ? std::min(lo_bin_, a) : a;
    const int64_t hi = have_bins_ ? std::max(hi_bin_, b) : b;
    // Written so that absurd spans cannot overflow the subtraction.
    if (hi >= lo && static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) <
                        static_cast<uint64_t>(kMaxStoredBins)) {
      lo_bin_ = lo;
      hi_bin_ = hi;
      have_bins_ = true;
      return true;
    }
    if (ladder_step_ + 1 >= kLadderSteps) return false;
    if (have_bins_) {
      Coarsen();
    } else {
      ++ladder_step_;
    }
  }
}

void ReportAccumulator::AddToBins(int64_t first_ms, int64_t last_ms, size_t proto,
                                  uint64_t bytes) {
  const int64_t w = kLadderMs[ladder_step_];
  const int64_t a = FloorDiv(first_ms, w);
  // The flow covers [first, last): a flow ending exactly on a bin edge puts nothing after it.
  const int64_t b = last_ms > first_ms ? FloorDiv(last_ms - 1, w) : a;
  if (a == b || bytes == 0) {
    Slot(a)[proto] += bytes;
    return;
  }
  // Spread evenly over the flow's duration. Each bin gets the difference of the rounded-down
  // cumulative shares at its edges, so the bins sum to exactly the record's bytes.
  const int64_t duration = last_ms - first_ms;
  uint64_t before = 0;
  for (int64_t bin = a; bin <= b; ++bin) {
    const int64_t end = std::min(last_ms, (bin + 1) * w);
    const uint64_t upto = static_cast<uint64_t>(static_cast<Uint128>(bytes) *
                                                static_cast<uint64_t>(end - first_ms) /
                                                static_cast<uint64_t>(duration));
    Slot(bin)[proto] += upto - before;
    before = upto;
  }
}

void ReportAccumulator::OnRecord(const DecodedRecord& r) {
  ++totals_.records;
  totals_.packets += r.packets;
  totals_.bytes += r.bytes;
  const size_t proto = static_cast<size_t>(ClassifyProtocol(r.protocol));
  totals_.protocol_bytes[proto] += r.bytes;
  totals_.protocol_packets[proto] += r.packets;
  ++totals_.protocol_records[proto];

  // When: the flow's own interval if it is plausible, else the datagram's arrival.
  int64_t first = r.first_ms;
  int64_t last = r.last_ms;
  if (first == kNoTime) first = last;
  if (last == kNoTime) last = first;
  if (first > last) std::swap(first, last);
  // Times outside 1970..2500 are garbage whatever the arrival (IPFIX carries 64-bit
  // milliseconds); keeping them out also keeps every bin computation far from overflow.
  auto sane = [](int64_t ms) { return ms >= 0 && ms <= kLatestPlausibleMs; };
  const int64_t arrival_ms = FloorDiv(r.receive_time_us, 1000);
  const bool have_arrival = r.receive_time_us != 0 && sane(arrival_ms);
  const bool plausible =
      first != kNoTime && sane(first) && sane(last) &&
      (!have_arrival || (last <= arrival_ms + kMaxClockSkewMs && last >= arrival_ms - kMaxClockSkewMs));
  if (!plausible) {
    first = last = have_arrival ? arrival_ms : 0;
    ++totals_.timed_by_arrival;
  } else if (last - first > kMaxClockSkewMs) {
    first = last;  // a day-long "flow" is a clock problem more often than a flow
  }
  if (!Cover(first, last)) {
    // Beyond thousands of years of bins: pin to the nearest edge of what is covered.
    ++totals_.time_clamped;
    const int64_t w = kLadderMs[ladder_step_];
    const int64_t edge = first < lo_bin_ * w ? lo_bin_ * w : hi_bin_ * w;
    first = last = edge;
  }
  if (totals_.records == 1) {
    totals_.first_ms = first;
    totals_.last_ms = last;
  } else {
    totals_.first_ms = std::min(totals_.first_ms, first);
    totals_.last_ms = std::max(totals_.last_ms, last);
  }
  AddToBins(first, last, proto, r.bytes);

  sources_.Add(r.src_addr, r.bytes);
  destinations_.Add(r.dst_addr, r.bytes);
  ports_.Add(PortKeyFor(r), r.bytes);
  if (r.src_as != 0) src_as_.Add(r.src_as, r.bytes);
  if (r.dst_as != 0) dst_as_.Add(r.dst_as, r.bytes);
  if (r.src_country[0] != 0) src_countries_.Add(CountryKeyOf(r.src_country), r.bytes);
  if (r.dst_country[0] != 0) dst_countries_.Add(CountryKeyOf(r.dst_country), r.bytes);

  auto it = exporter_index_.find(r.exporter.address);
  ExporterTotals* e = nullptr;
  if (it != exporter_index_.end()) {
    e = &exporters_[it->second];
  } else if (exporters_.size() < options_.max_exporters) {
    exporter_index_.emplace(r.exporter.address, static_cast<uint32_t>(exporters_.size()));
    exporters_.push_back(ExporterTotals{});
    e = &exporters_.back();
    e->address = r.exporter.address;
  } else {
    e = &other_exporters_;
  }
  ++e->records;
  e->packets += r.packets;
  e->bytes += r.bytes;
  if (r.version == 5) e->v5 = true;
  if (r.version == 9) e->v9 = true;
  if (r.version == 10) e->ipfix = true;

  absl::Hash<IpAddress> address_hash;
  distinct_sources_.AddHash(address_hash(r.src_addr));
  distinct_destinations_.AddHash(address_hash(r.dst_addr));
  flows_.AddHash(absl::Hash<FlowKey>()(
      FlowKey{r.src_addr, r.dst_addr, r.src_port, r.dst_port, r.protocol}));
}

std::vector<ExporterTotals> ReportAccumulator::Exporters() const { return exporters_; }

TimeSeries ReportAccumulator::Series() const {
  TimeSeries s;
  if (!have_bins_) return s;
  const int64_t stored = kLadderMs[ladder_step_];
  int64_t factor = 0;
  auto count_at = [&](int64_t f) { return FloorDiv(hi_bin_, f) - FloorDiv(lo_bin_, f) + 1; };
  for (int64_t d : kDisplayMs) {
    if (d < stored || d % stored != 0) continue;
    if (count_at(d / stored) <= static_cast<int64_t>(kMaxDisplayBins)) {
      factor = d / stored;
      break;
    }
  }
  if (factor == 0) {  // no readable width fits: any multiple that does
    factor = 1;
    while (count_at(factor) > static_cast<int64_t>(kMaxDisplayBins)) factor *= 2;
  }
  const int64_t first = FloorDiv(lo_bin_, factor);
  const int64_t last = FloorDiv(hi_bin_, factor);
  s.width_ms = stored * factor;
  s.start_ms = first * s.width_ms;
  s.bins.assign(static_cast<size_t>(last - first + 1), ProtocolBytes{});
  for (int64_t b = lo_bin_; b <= hi_bin_; ++b) {
    int64_t i = b % static_cast<int64_t>(kMaxStoredBins);
    if (i < 0) i += static_cast<int64_t>(kMaxStoredBins);
    const ProtocolBytes& from = bins_[static_cast<size_t>(i)];
    ProtocolBytes& to = s.bins[static_cast<size_t>(FloorDiv(b, factor) - first)];
    for (size_t p = 0; p < kProtocolClasses; ++p) to[p] += from[p];
  }
  return s;
}

}  // namespace nf::report
