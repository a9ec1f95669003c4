// Micro-benchmarks of the collector's per-record path (the decoding-speed target):
// NetFlow v9 (default template), IPFIX (default template) and v5 datagrams built by our own
// encoders, decoded (1) into a counting sink, (2) into the -A aggregator, (3) into CSV rows
// (the raw-output formatter, into a reusable buffer). Items are flow records, so
// items_per_second is records per second of one core. And IPv6 address text on its own.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "collector/output/aggregate/aggregator.h"
#include "collector/output/format/csv_format.h"
#include "collector/output/format/text.h"
#include "collector/decode/decoder.h"
#include "exporter/encode/ipfix_encoder.h"
#include "exporter/encode/v5_encoder.h"
#include "exporter/encode/v9_encoder.h"
#include "templates/template_spec.h"

namespace nf {
namespace {

constexpr size_t kRecords = 20'000;  // per pass: enough datagrams to leave the L1 cache
constexpr TimeUs kStart = 1'700'000'000'000'000;

// Varied records: IPv4 mostly (IPv6 every 8th), TCP/UDP/ICMP, many addresses and ports.
FlowRecord MakeRecord(size_t i) {
  FlowRecord r;
  uint64_t x = 0x9E3779B97F4A7C15ull * (i + 1);
  x ^= x >> 29;
  if (i % 8 == 7) {
    uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
    for (int b = 8; b < 16; ++b) a[b] = static_cast<uint8_t>(x >> (b * 4));
    r.key.src = IpAddress::V6(a);
    a[15] ^= 0x55;
    r.key.dst = IpAddress::V6(a);
  } else {
    r.key.src = IpAddress::V4(0x0a000000u | static_cast<uint32_t>(x & 0xffffff));
    r.key.dst = IpAddress::V4(0xc0a80000u | static_cast<uint32_t>((x >> 24) & 0xffff));
  }
  const int proto = static_cast<int>(x % 10);
  r.key.protocol = proto < 6 ? 6 : (proto < 9 ? 17 : 1);
  if (r.key.protocol != 1) {
    r.key.src_port = static_cast<uint16_t>(1024 + (x >> 40) % 60000);
    r.key.dst_port = static_cast<uint16_t>((x >> 20) % 2 ? 443 : 53);
  } else {
    r.key.dst_port = 0x0800;
  }
  r.key.tos = static_cast<uint8_t>(x >> 56);
  r.key.input_if = 3;
  r.output_if = 7;
  r.packets = 1 + (x >> 8) % 5000;
  r.bytes = r.packets * (40 + (x >> 16) % 1400);
  r.first_us = kStart + static_cast<TimeUs>(i) * 1000;
  r.last_us = r.first_us + static_cast<TimeUs>((x >> 12) % 60'000'000);
  r.tcp_flags = r.key.protocol == 6 ? 0x1b : 0;
  r.end_reason = EndReason::kIdleTimeout;
  return r;
}

std::vector<std::vector<uint8_t>> MakeDatagrams(int version) {
  std::vector<std::vector<uint8_t>> out;
  auto sink = [&out](std::span<const uint8_t> d) { out.emplace_back(d.begin(), d.end()); };
  const TimeUs end = kStart + static_cast<TimeUs>(kRecords) * 1000 + 60'000'000;
  absl::StatusOr<TemplateSpec> spec = LoadTemplate("default");
  if (!spec.ok()) return out;
  if (version == 9) {
    V9EncoderOptions o;
    o.boot_us = kStart - 1'000'000;
    auto enc = V9Encoder::Create(o, *spec, sink);
    if (!enc.ok()) return out;
    for (size_t i = 0; i < kRecords; ++i) (*enc)->Add(MakeRecord(i), end);
    (*enc)->Flush(end);
  } else if (version == 10) {
    IpfixEncoderOptions o;
    auto enc = IpfixEncoder::Create(o, *spec, sink);
    if (!enc.ok()) return out;
    (*enc)->SetBootTime(kStart - 1'000'000);
    for (size_t i = 0; i < kRecords; ++i) (*enc)->Add(MakeRecord(i), end);
    (*enc)->Flush(end);
  } else {
    V5EncoderOptions o;
    o.boot_us = kStart - 1'000'000;
    auto enc = V5Encoder::Create(o, sink);
    if (!enc.ok()) return out;
    for (size_t i = 0; i < kRecords; ++i) {
      FlowRecord r = MakeRecord(i);
      if (r.key.src.version == 6) r.key.src = IpAddress::V4(0x0a0a0a0a);  // v5: IPv4 only
      if (r.key.dst.version == 6) r.key.dst = IpAddress::V4(0x0a0a0a0b);
      (*enc)->Add(r, end);
    }
    (*enc)->Flush(end);
  }
  return out;
}

class CountingSink : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override {
    ++records;
    bytes += r.bytes;
  }
  uint64_t records = 0;
  uint64_t bytes = 0;
};

class AggregateSink : public RecordSink {
 public:
  explicit AggregateSink(std::unique_ptr<Aggregator> a) : aggregator(std::move(a)) {}
  void OnRecord(const DecodedRecord& r) override {
    ++records;
    aggregator->Add(r);
  }
  std::unique_ptr<Aggregator> aggregator;
  uint64_t records = 0;
};

// Formats every row into one reusable buffer (what CsvSink does before its write()).
class CsvRowSink : public RecordSink {
 public:
  explicit CsvRowSink(CsvFormatter f)
      : formatter(std::move(f)), buffer(kRows * formatter.max_row_length()) {}
  void OnRecord(const DecodedRecord& r) override {
    ++records;
    if (buffer.size() - used < formatter.max_row_length()) {
      chars += used;
      used = 0;
    }
    used = static_cast<size_t>(formatter.WriteRow(r, buffer.data() + used) - buffer.data());
  }
  static constexpr size_t kRows = 4096;
  CsvFormatter formatter;
  std::vector<char> buffer;
  size_t used = 0;
  uint64_t chars = 0;
  uint64_t records = 0;
};

// Decodes every datagram once per iteration. The decoder (and its template cache) persists
// across iterations, as in a running collector.
template <typename Sink>
void Run(benchmark::State& state, int version, Sink& sink, uint64_t& records) {
  const std::vector<std::vector<uint8_t>> datagrams = MakeDatagrams(version);
  if (datagrams.empty()) {
    state.SkipWithError("encoder failed");
    return;
  }
  Decoder decoder{DecoderOptions{}};
  const ExporterId exporter{IpAddress::V4(0x7f000001), 40000};
  TimeUs now = kStart + 120'000'000;
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const std::vector<uint8_t>& d : datagrams) {
      decoder.DecodeDatagram(d, exporter, now, sink);
      bytes += d.size();
    }
    now += 1000;
  }
  state.SetItemsProcessed(static_cast<int64_t>(records));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["records_per_pass"] =
      static_cast<double>(records) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["datagrams"] = static_cast<double>(datagrams.size());
}

void BM_DecodeOnly(benchmark::State& state) {
  CountingSink sink;
  Run(state, static_cast<int>(state.range(0)), sink, sink.records);
  benchmark::DoNotOptimize(sink.bytes);
}
BENCHMARK(BM_DecodeOnly)->Arg(9)->Arg(10)->Arg(5)->ArgName("version");

void BM_DecodeAggregate(benchmark::State& state) {
  AggregateOptions o;
  o.keys = state.range(1) == 0 ? "protocol" : "src_addr/24,dst_addr,dst_port";
  auto a = Aggregator::Create(o);
  if (!a.ok()) {
    state.SkipWithError("aggregator");
    return;
  }
  AggregateSink sink(std::move(*a));
  Run(state, static_cast<int>(state.range(0)), sink, sink.records);
  state.SetLabel(o.keys);
}
BENCHMARK(BM_DecodeAggregate)->Args({9, 0})->Args({9, 1})->Args({10, 0})->Args({5, 0})
    ->ArgNames({"version", "keys"});

void BM_DecodeCsv(benchmark::State& state) {
  auto f = CsvFormatter::Create("");
  if (!f.ok()) {
    state.SkipWithError("formatter");
    return;
  }
  CsvRowSink sink(std::move(*f));
  Run(state, static_cast<int>(state.range(0)), sink, sink.records);
  benchmark::DoNotOptimize(sink.chars);
}
BENCHMARK(BM_DecodeCsv)->Arg(9)->Arg(10)->Arg(5)->ArgName("version");

// IPv6 text alone, on two mixes of 4,096 addresses: regular (one /64 prefix with random
// interface IDs, and servers 2001:db8:2::N: every address of a kind has the same shape) and
// varied (each group zero, 1, 2 or 3 hex digits or random, some IPv4-mapped and -compatible:
// the shapes of real traffic, where per-digit branches mispredict). Items are addresses.
void BM_WriteIpv6(benchmark::State& state) {
  const bool varied = state.range(0) != 0;
  std::vector<IpAddress> addresses;
  std::mt19937_64 next(7);
  for (int i = 0; i < 4096; ++i) {
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    if (!varied) {
      const uint64_t r = next();
      if (i % 2 == 0) {
        b[5] = 1;
        std::memcpy(b + 8, &r, 8);
      } else {
        b[5] = 2;
        b[14] = static_cast<uint8_t>((r >> 8) & 0x0f);
        b[15] = static_cast<uint8_t>(r);
      }
    } else {
      for (int g = 0; g < 8; ++g) {
        const uint64_t r = next();
        const uint16_t v = static_cast<uint16_t>(
            r % 4 == 0 ? 0 : r % 4 == 1 ? (r >> 8) % 16 : r % 4 == 2 ? (r >> 8) % 4096 : r >> 16);
        b[2 * g] = static_cast<uint8_t>(v >> 8);
        b[2 * g + 1] = static_cast<uint8_t>(v);
      }
      if (i % 50 == 0) {  // ::ffff:a.b.c.d
        std::memset(b, 0, 10);
        b[10] = b[11] = 0xff;
      }
      if (i % 51 == 0) std::memset(b, 0, 12);  // ::a.b.c.d
    }
    addresses.push_back(IpAddress::V6(b));
  }
  char out[kMaxCsvColumnChars];
  size_t chars = 0;
  for (auto _ : state) {
    for (const IpAddress& a : addresses) chars += static_cast<size_t>(WriteAddress(a, out) - out);
    benchmark::ClobberMemory();
  }
  benchmark::DoNotOptimize(chars);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * addresses.size()));
}
BENCHMARK(BM_WriteIpv6)->Arg(0)->Arg(1)->ArgName("varied");

}  // namespace
}  // namespace nf
