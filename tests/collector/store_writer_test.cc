// The raw flow store: datagrams from v9, IPFIX and v5 exporters (IPv4, IPv6, IPv4-mapped) are
// written across rotation intervals, read back with the capture code and checked byte for
// byte; every file must decode alone (its template datagrams first); retention by age and
// size, leftover temporary files, a restart within an interval, full-disk failures (a small
// tmpfs when root may mount one, a file size limit otherwise), file selection by time, time
// arguments, and tshark's reading of a store file.
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "collector/decode/decoder.h"
#include "collector/store/store_files.h"
#include "collector/store/store_writer.h"
#include "collector/store/template_tracker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"

namespace nf {
namespace {

using ::nf::testing::HaveTool;
using ::nf::testing::RunCommand;
using ::nf::testing::TempDir;
using ::nf::testing::TsharkProblems;

constexpr TimeUs kSec = 1'000'000;
// 2025-12-02T13:05:00Z, a multiple of 60 s (and of 300 s).
constexpr TimeUs kT0 = 1'764'680'700 * kSec;

// --- datagram builders -----------------------------------------------------------------------

class Buf {
 public:
  Buf& U8(uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Buf& U16(uint16_t v) { return U8(static_cast<uint8_t>(v >> 8)).U8(static_cast<uint8_t>(v)); }
  Buf& U32(uint32_t v) {
    return U16(static_cast<uint16_t>(v >> 16)).U16(static_cast<uint16_t>(v));
  }
  Buf& U64(uint64_t v) {
    return U32(static_cast<uint32_t>(v >> 32)).U32(static_cast<uint32_t>(v));
  }
  Buf& Bytes(const std::vector<uint8_t>& v) {
    b_.insert(b_.end(), v.begin(), v.end());
    return *this;
  }
  Buf& Append(const Buf& o) { return Bytes(o.b_); }
  size_t size() const { return b_.size(); }
  void Patch16(size_t at, uint16_t v) {
    b_[at] = static_cast<uint8_t>(v >> 8);
    b_[at + 1] = static_cast<uint8_t>(v);
  }
  const std::vector<uint8_t>& bytes() const { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// A set / FlowSet: id, length, body, padded to 4 bytes when asked (v9).
Buf Set(uint16_t id, const Buf& body, bool pad) {
  Buf s;
  s.U16(id).U16(0).Append(body);
  while (pad && s.size() % 4 != 0) s.U8(0);
  s.Patch16(2, static_cast<uint16_t>(s.size()));
  return s;
}

ExporterId Exporter(const std::string& address, uint16_t port) {
  absl::StatusOr<IpAddress> a = ParseIpAddress(address);
  EXPECT_TRUE(a.ok()) << address;
  return ExporterId{a.ok() ? *a : IpAddress{}, port};
}

// One datagram as sent, with what decoding it must yield.
struct Sent {
  std::vector<uint8_t> bytes;
  ExporterId exporter;
  TimeUs time = 0;
  size_t flows = 0;  // flow records a decoder delivers
};

// A NetFlow v9 exporter: data template 256 (IPv4 5-tuple, counters, times) and options
// template 257 (sampling interval per system).
class V9Exporter {
 public:
  V9Exporter(ExporterId id, uint32_t source_id) : id_(id), source_id_(source_id) {}

  Sent Datagram(TimeUs t, bool templates, size_t flows, bool options_data) {
    Buf sets;
    uint16_t count = 0;
    if (templates) {
      Buf tpl;
      tpl.U16(256).U16(9);
      tpl.U16(8).U16(4).U16(12).U16(4).U16(7).U16(2).U16(11).U16(2).U16(4).U16(1);
      tpl.U16(2).U16(4).U16(1).U16(4).U16(22).U16(4).U16(21).U16(4);
      sets.Append(Set(kTemplateFlowSetId, tpl, true));
      Buf opt;
      opt.U16(257).U16(4).U16(8).U16(1).U16(4).U16(34).U16(4).U16(35).U16(1);
      sets.Append(Set(kOptionsTemplateFlowSetId, opt, true));
      count += 2;
    }
    const uint32_t uptime = static_cast<uint32_t>((t - kT0) / 1000 + 500'000);
    if (flows > 0) {
      Buf data;
      for (size_t i = 0; i < flows; ++i) {
        data.U32(0x0a000001 + static_cast<uint32_t>(next_flow_)).U32(0xc0000207);
        data.U16(static_cast<uint16_t>(1024 + next_flow_)).U16(443).U8(6);
        data.U32(static_cast<uint32_t>(3 + i)).U32(static_cast<uint32_t>(1500 * (3 + i)));
        data.U32(uptime - 2000).U32(uptime - 100);
        ++next_flow_;
      }
      sets.Append(Set(256, data, true));
      count += static_cast<uint16_t>(flows);
    }
    if (options_data) {
      Buf data;
      data.U32(0).U32(100).U8(2);
      sets.Append(Set(257, data, true));
      count += 1;
    }
    Buf d;
    d.U16(9).U16(count).U32(uptime).U32(static_cast<uint32_t>(t / kSec)).U32(sequence_++);
    d.U32(source_id_).Append(sets);
    return Sent{d.bytes(), id_, t, flows};
  }

 private:
  ExporterId id_;
  uint32_t source_id_;
  uint32_t sequence_ = 1000;
  uint32_t next_flow_ = 0;
};

// An IPFIX exporter: template 300 (IPv6 flows with a variable-length interface name and an
// enterprise-specific reverse octet count), template 301 (IPv4, withdrawn later) and options
// template 302 (sampling interval per observation domain).
class IpfixExporter {
 public:
  IpfixExporter(ExporterId id, uint32_t domain) : id_(id), domain_(domain) {}

  Sent Message(TimeUs t, bool templates, size_t flows, bool options_data) {
    Buf sets;
    if (templates) {
      Buf tpl;
      tpl.U16(300).U16(11);
      tpl.U16(27).U16(16).U16(28).U16(16).U16(7).U16(2).U16(11).U16(2).U16(4).U16(1);
      tpl.U16(1).U16(8).U16(2).U16(8).U16(152).U16(8).U16(153).U16(8);
      tpl.U16(82).U16(65535);                               // interfaceName, variable
      tpl.U16(0x8000 | 1).U16(8).U32(29305);                // reverseOctetDeltaCount
      tpl.U16(301).U16(4).U16(8).U16(4).U16(12).U16(4).U16(2).U16(4).U16(1).U16(4);
      sets.Append(Set(kIpfixTemplateSetId, tpl, false));
      Buf opt;
      opt.U16(302).U16(2).U16(1).U16(149).U16(4).U16(34).U16(4);
      sets.Append(Set(kIpfixOptionsTemplateSetId, opt, false));
    }
    size_t records = 0;
    if (flows > 0) {
      Buf data;
      for (size_t i = 0; i < flows; ++i) {
        data.U32(0x20010db8).U32(0).U32(0).U32(static_cast<uint32_t>(0x100 + next_flow_));
        data.U32(0x20010db8).U32(0).U32(0).U32(0x53);
        data.U16(static_cast<uint16_t>(40000 + next_flow_)).U16(53).U8(17);
        data.U64(200 * (i + 1)).U64(2 * (i + 1));
        data.U64(static_cast<uint64_t>(t / 1000 - 3000)).U64(static_cast<uint64_t>(t / 1000));
        // Every third name takes the 3-byte length form (255, then 16 bits).
        const size_t name_length = next_flow_ % 3 == 2 ? 300 : 4 + next_flow_ % 5;
        if (name_length < 255) {
          data.U8(static_cast<uint8_t>(name_length));
        } else {
          data.U8(255).U16(static_cast<uint16_t>(name_length));
        }
        for (size_t c = 0; c < name_length; ++c) data.U8(static_cast<uint8_t>('a' + c % 26));
        data.U64(100 * (i + 1));
        ++next_flow_;
      }
      sets.Append(Set(300, data, false));
      records += flows;
    }
    if (options_data) {
      Buf data;
      data.U32(domain_).U32(64);
      sets.Append(Set(302, data, false));
      records += 1;
    }
    return Finish(t, sets, records, flows);
  }

  // Withdraws template 301: a template-only message, which does not advance the sequence.
  Sent Withdraw301(TimeUs t) {
    Buf w;
    w.U16(301).U16(0);
    return Finish(t, Set(kIpfixTemplateSetId, w, false), 0, 0);
  }

 private:
  Sent Finish(TimeUs t, const Buf& sets, size_t records, size_t flows) {
    Buf d;
    d.U16(10).U16(0).U32(static_cast<uint32_t>(t / kSec)).U32(sequence_).U32(domain_);
    d.Append(sets);
    d.Patch16(2, static_cast<uint16_t>(d.size()));
    sequence_ += static_cast<uint32_t>(records);
    return Sent{d.bytes(), id_, t, flows};
  }

  ExporterId id_;
  uint32_t domain_;
  uint32_t sequence_ = 5000;
  uint32_t next_flow_ = 0;
};

class V5Exporter {
 public:
  explicit V5Exporter(ExporterId id) : id_(id) {}
  Sent Datagram(TimeUs t, size_t flows) {
    const uint32_t uptime = static_cast<uint32_t>((t - kT0) / 1000 + 900'000);
    Buf d;
    d.U16(5).U16(static_cast<uint16_t>(flows)).U32(uptime).U32(static_cast<uint32_t>(t / kSec));
    d.U32(static_cast<uint32_t>(t % kSec) * 1000).U32(sequence_).U8(0).U8(0).U16(0);
    for (size_t i = 0; i < flows; ++i) {
      d.U32(0xc6336401).U32(0xc0000201 + static_cast<uint32_t>(i)).U32(0);
      d.U16(1).U16(2).U32(10).U32(5000).U32(uptime - 5000).U32(uptime - 1000);
      d.U16(5353).U16(80).U8(0).U8(0x18).U8(6).U8(0).U16(0).U16(0).U8(24).U8(24).U16(0);
    }
    sequence_ += static_cast<uint32_t>(flows);
    return Sent{d.bytes(), id_, t, flows};
  }

 private:
  ExporterId id_;
  uint32_t sequence_ = 70;
};

// --- reading store files back ----------------------------------------------------------------

struct ReadPacket {
  TimeUs time = 0;
  IpAddress src;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t ttl = 0;
  std::vector<uint8_t> payload;
};

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteWhole(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The zstd stream (all its frames) decompressed, or an error message.
bool Decompress(const std::string& in, std::string& out, std::string& error) {
  ZSTD_DStream* ds = ZSTD_createDStream();
  ZSTD_initDStream(ds);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  std::vector<char> chunk(1 << 20);
  size_t last = 0;
  while (src.pos < src.size) {
    ZSTD_outBuffer dst{chunk.data(), chunk.size(), 0};
    last = ZSTD_decompressStream(ds, &dst, &src);
    if (ZSTD_isError(last)) {
      error = ZSTD_getErrorName(last);
      ZSTD_freeDStream(ds);
      return false;
    }
    out.append(chunk.data(), dst.pos);
  }
  ZSTD_freeDStream(ds);
  if (last != 0) {
    error = "the stream ends inside a frame";
    return false;
  }
  return true;
}

// Every packet of a store file (decompressed first when it is a .zst), read with the capture
// code flowcollect -r uses.
std::vector<ReadPacket> ReadStoreFile(const std::string& path) {
  std::vector<ReadPacket> out;
  std::string pcap_path = path;
  TempDir scratch;
  if (absl::EndsWith(path, ".zst")) {
    std::string plain, error;
    EXPECT_TRUE(Decompress(ReadWhole(path), plain, error)) << path << ": " << error;
    pcap_path = scratch.File("plain.pcap");
    WriteWhole(pcap_path, plain);
  }
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({pcap_path});
  EXPECT_TRUE(src.ok()) << path << ": " << src.status();
  if (!src.ok()) return out;
  for (;;) {
    absl::StatusOr<int> n = (*src)->Dispatch(256, [&](const RawPacket& p) {
      PacketMeta meta;
      ASSERT_EQ(ParsePacket(p.data, p.caplen, p.wire_len, p.link, meta), ParseResult::kOk);
      ASSERT_EQ(meta.protocol, 17);
      ASSERT_EQ(size_t{meta.payload_offset} + meta.payload_length, p.caplen);
      ReadPacket r;
      r.time = p.time_us;
      r.src = meta.src;
      r.src_port = meta.src_port;
      r.dst_port = meta.dst_port;
      r.ttl = meta.ttl;
      r.payload.assign(p.data + meta.payload_offset, p.data + p.caplen);
      out.push_back(std::move(r));
    });
    if (!n.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(n.status())) << path << ": " << n.status();
      break;
    }
  }
  return out;
}

// The hidden temporary name the writer uses for a store file.
std::string TempPathLike(const std::string& final_path) {
  const size_t slash = final_path.rfind('/');
  return final_path.substr(0, slash + 1) + "." + final_path.substr(slash + 1) + ".tmp";
}

std::vector<StoreFile> Files(const std::string& dir) {
  absl::StatusOr<std::vector<StoreFile>> files = ListStoreFiles(dir);
  EXPECT_TRUE(files.ok()) << files.status();
  return files.ok() ? *files : std::vector<StoreFile>{};
}

class CountSink : public RecordSink {
 public:
  void OnRecord(const DecodedRecord&) override { ++records; }
  size_t records = 0;
};

// Decodes one file alone, as a reader of the store does: template datagrams teach templates,
// the rest decode.
struct FileDecode {
  size_t records = 0;
  ExporterStats totals;
};
FileDecode DecodeAlone(const std::vector<ReadPacket>& packets) {
  Decoder decoder{DecoderOptions{}};
  CountSink sink;
  for (const ReadPacket& p : packets) {
    const ExporterId exporter{p.src, p.src_port};
    if (IsTemplateReplay(p.ttl)) {
      decoder.LearnTemplatesOnly(p.payload, exporter, p.time, sink);
    } else {
      decoder.DecodeDatagram(p.payload, exporter, p.time, sink);
    }
  }
  return FileDecode{sink.records, decoder.Totals()};
}

// Template IDs carried by a synthetic template datagram.
std::set<uint16_t> ReplayTemplateIds(const std::vector<uint8_t>& d) {
  std::set<uint16_t> ids;
  const bool v9 = d[1] == 9;
  size_t pos = v9 ? kV9HeaderSize : kIpfixMessageHeaderSize;
  while (pos + 4 <= d.size()) {
    const uint16_t id = static_cast<uint16_t>(d[pos] << 8 | d[pos + 1]);
    const uint16_t len = static_cast<uint16_t>(d[pos + 2] << 8 | d[pos + 3]);
    if (len < 4 || pos + len > d.size()) break;
    std::span<const uint8_t> body(d.data() + pos + 4, len - 4u);
    auto add = [&](TemplateRecord&& t) { ids.insert(t.template_id); };
    if (v9) {
      EXPECT_EQ(id == 0 ? ParseV9TemplateFlowSet(body, add)
                        : ParseV9OptionsTemplateFlowSet(body, add),
                TemplateParseError::kNone);
    } else {
      EXPECT_EQ(ParseIpfixTemplateSet(id, body, 1024, add, [](uint16_t, bool) {},
                                      [](IpfixTemplateError) {}),
                IpfixTemplateError::kNone);
    }
    pos += len;
  }
  return ids;
}

// --- the main scenario -----------------------------------------------------------------------

struct Scenario {
  std::vector<std::vector<Sent>> intervals;  // datagrams per file, in order
  std::vector<Sent> all;
};

// Four exporters over three files (an idle interval between the second and the third):
// templates only in the first interval, a withdrawal in the second.
class StoreScenarioTest : public ::testing::TestWithParam<bool> {
 protected:
  Scenario Run(const std::string& dir, StoreCounters* counters_out = nullptr) {
    return Run(dir, GetParam(), counters_out);
  }
  Scenario Run(const std::string& dir, bool compress, StoreCounters* counters_out) {
    V9Exporter a(Exporter("192.0.2.1", 5000), 1);
    IpfixExporter b(Exporter("2001:db8::2", 6000), 7);
    V9Exporter c(Exporter("::ffff:198.51.100.3", 5001), 2);
    V5Exporter d(Exporter("203.0.113.4", 7000));
    Scenario s;
    s.intervals.resize(3);
    s.intervals[0] = {a.Datagram(kT0 + 1 * kSec, true, 3, true),
                      b.Message(kT0 + 2 * kSec, true, 4, true),
                      c.Datagram(kT0 + 3 * kSec, true, 2, false),
                      d.Datagram(kT0 + 4 * kSec, 5),
                      a.Datagram(kT0 + 30 * kSec, false, 4, false)};
    s.intervals[1] = {b.Message(kT0 + 61 * kSec, false, 3, false),
                      a.Datagram(kT0 + 62 * kSec, false, 2, true),
                      b.Withdraw301(kT0 + 63 * kSec),
                      c.Datagram(kT0 + 90 * kSec, false, 1, false),
                      d.Datagram(kT0 + 91 * kSec, 2)};
    s.intervals[2] = {a.Datagram(kT0 + 185 * kSec, false, 1, false),
                      b.Message(kT0 + 186 * kSec + 250, false, 2, false),
                      c.Datagram(kT0 + 187 * kSec, false, 1, false)};
    StoreOptions o;
    o.directory = dir;
    o.rotate_seconds = 60;
    o.compress = compress;
    std::vector<std::string> errors;
    o.on_error = [&](const absl::Status& st) { errors.push_back(st.ToString()); };
    absl::StatusOr<std::unique_ptr<StoreWriter>> w = StoreWriter::Create(o);
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return s;
    for (size_t i = 0; i < s.intervals.size(); ++i) {
      for (const Sent& x : s.intervals[i]) {
        (*w)->Append(x.bytes, x.exporter, x.time);
        s.all.push_back(x);
      }
      if (i == 1) (*w)->Tick(kT0 + 125 * kSec);  // completes the second file on time
    }
    EXPECT_TRUE((*w)->Close().ok());
    EXPECT_TRUE((*w)->Close().ok());  // idempotent
    EXPECT_THAT(errors, ::testing::IsEmpty());
    EXPECT_EQ((*w)->last_error(), "");
    const StoreCounters& k = (*w)->counters();
    EXPECT_EQ(k.datagrams.load(), s.all.size());
    EXPECT_EQ(k.files.load(), 3u);
    EXPECT_EQ(k.datagrams_lost.load(), 0u);
    EXPECT_EQ(k.write_errors.load(), 0u);
    // Files 2 and 3 each begin with one template datagram per template-bearing stream.
    EXPECT_EQ(k.template_datagrams.load(), 6u);
    EXPECT_GT(k.bytes.load(), 0u);
    if (counters_out != nullptr) counters_out->bytes = k.bytes.load();
    return s;
  }
};

TEST_P(StoreScenarioTest, FilesHoldEveryDatagramAndDecodeAlone) {
  TempDir dir;
  StoreCounters counters;
  const Scenario s = Run(dir.path(), &counters);
  const bool compressed = GetParam();
  const std::vector<StoreFile> files = Files(dir.path());
  ASSERT_EQ(files.size(), 3u);
  const TimeUs starts[] = {kT0, kT0 + 60 * kSec, kT0 + 180 * kSec};
  uint64_t bytes_on_disk = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    SCOPED_TRACE(files[f].path);
    EXPECT_EQ(files[f].start_us, starts[f]);
    EXPECT_EQ(files[f].compressed, compressed);
    EXPECT_EQ(files[f].path, StoreFilePath(dir.path(), starts[f], compressed));
    bytes_on_disk += files[f].size;
    const std::vector<ReadPacket> packets = ReadStoreFile(files[f].path);

    // Template datagrams first, then the received datagrams byte for byte, in order.
    size_t replays = 0;
    while (replays < packets.size() && IsTemplateReplay(packets[replays].ttl)) ++replays;
    const std::vector<Sent>& want = s.intervals[f];
    ASSERT_EQ(packets.size() - replays, want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const ReadPacket& p = packets[replays + i];
      EXPECT_EQ(p.ttl, 64);
      EXPECT_EQ(p.payload, want[i].bytes) << i;
      EXPECT_EQ(p.src, want[i].exporter.address.Unmapped()) << i;
      EXPECT_EQ(p.src_port, want[i].exporter.port);
      EXPECT_EQ(p.time, want[i].time);
      EXPECT_EQ(p.dst_port, want[i].bytes[1] == 10 ? 4739 : 2055);
    }

    // The first file has nothing to replay; the later ones replay every template-bearing
    // stream: A and C (v9) and B (IPFIX), B without the withdrawn 301 after the withdrawal.
    std::map<std::string, std::set<uint16_t>> replayed;
    for (size_t i = 0; i < replays; ++i) {
      EXPECT_LE(packets[i].time, want.front().time);
      EXPECT_GE(packets[i].time, starts[f]);
      for (uint16_t id : ReplayTemplateIds(packets[i].payload)) {
        replayed[absl::StrCat(packets[i].src.ToString(), ":", packets[i].src_port)].insert(id);
      }
    }
    if (f == 0) {
      EXPECT_EQ(replays, 0u);
    } else {
      const std::set<uint16_t> v9_ids = {256, 257};
      const std::set<uint16_t> ipfix_ids =
          f == 1 ? std::set<uint16_t>{300, 301, 302} : std::set<uint16_t>{300, 302};
      EXPECT_EQ(replayed, (std::map<std::string, std::set<uint16_t>>{
                              {"192.0.2.1:5000", v9_ids},
                              {"198.51.100.3:5001", v9_ids},
                              {"2001:db8::2:6000", ipfix_ids}}));
    }

    // Alone, the file decodes completely: no data waits for a template, nothing is an error,
    // and the template datagrams count as neither traffic nor sequence numbers.
    size_t flows = 0;
    for (const Sent& x : want) flows += x.flows;
    const FileDecode d = DecodeAlone(packets);
    EXPECT_EQ(d.records, flows);
    EXPECT_EQ(d.totals.early_sets_buffered, 0u);
    EXPECT_EQ(d.totals.ErrorTotal(), 0u);
    EXPECT_EQ(d.totals.sequence_lost, 0u);
    EXPECT_EQ(d.totals.restarts, 0u);
    EXPECT_EQ(d.totals.datagrams, want.size());
  }
  EXPECT_EQ(counters.bytes.load(), bytes_on_disk);
  // No temporary file is left, and the idle interval left no file.
  std::string listing;
  RunCommand("find " + dir.path() + " -name '.*'", &listing);
  EXPECT_EQ(listing, "");
}

// `zstd -d` turns a compressed file into the pcap the same run writes without compression.
class StoreZstdCliTest : public StoreScenarioTest {};

TEST_P(StoreZstdCliTest, DecompressesToThePlainFile) {
  if (!HaveTool("zstd")) GTEST_SKIP() << "zstd is not installed";
  TempDir dir, plain_dir;
  Run(dir.path());
  Run(plain_dir.path(), false, nullptr);
  const std::vector<StoreFile> compressed = Files(dir.path());
  const std::vector<StoreFile> plain = Files(plain_dir.path());
  ASSERT_EQ(compressed.size(), plain.size());
  for (size_t i = 0; i < compressed.size(); ++i) {
    const std::string out = dir.File("cli.pcap");
    ASSERT_EQ(RunCommand("zstd -q -d -f -o " + out + " " + compressed[i].path), 0);
    // The same pcap as the same run without compression, byte for byte.
    EXPECT_EQ(ReadWhole(out), ReadWhole(plain[i].path)) << compressed[i].path;
    EXPECT_EQ(ReadWhole(out).substr(0, 4), std::string("\xd4\xc3\xb2\xa1", 4));
  }
}

INSTANTIATE_TEST_SUITE_P(Zstd, StoreZstdCliTest, ::testing::Values(true));
INSTANTIATE_TEST_SUITE_P(PlainAndZstd, StoreScenarioTest, ::testing::Bool(),
                         [](const auto& param_info) {
                           return param_info.param ? "zstd" : "plain";
                         });

// --- writer behaviour --------------------------------------------------------------------------

std::unique_ptr<StoreWriter> MakeWriter(StoreOptions o) {
  absl::StatusOr<std::unique_ptr<StoreWriter>> w = StoreWriter::Create(o);
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? std::move(*w) : nullptr;
}

std::vector<uint8_t> Payload(size_t size, uint32_t seed, size_t random_prefix = SIZE_MAX) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(size, 0);
  v[1] = 5;  // a v5 version field: no templates to track in random bytes
  for (size_t i = 2; i < size && i < random_prefix; ++i) v[i] = static_cast<uint8_t>(rng());
  return v;
}

TEST(StoreWriterTest, CreateRefusesBadOptionsAndUnwritableDirectories) {
  TempDir dir;
  StoreOptions o;
  o.directory = "";
  EXPECT_TRUE(absl::IsInvalidArgument(StoreWriter::Create(o).status()));
  o.directory = dir.path();
  o.rotate_seconds = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(StoreWriter::Create(o).status()));
  o.rotate_seconds = 60;
  o.compress = true;
  o.zstd_level = 99;
  EXPECT_TRUE(absl::IsInvalidArgument(StoreWriter::Create(o).status()));
  o.compress = false;
  // A path through a regular file cannot become a folder.
  WriteWhole(dir.File("file"), "x");
  o.directory = dir.File("file") + "/store";
  absl::Status st = StoreWriter::Create(o).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  // mkdir -p of a fresh path works.
  o.directory = dir.File("a/b/c");
  EXPECT_TRUE(StoreWriter::Create(o).ok());
  struct stat sb;
  EXPECT_EQ(stat(dir.File("a/b/c").c_str(), &sb), 0);
}

TEST(StoreWriterTest, UnwritableDirectoryIsFailedPrecondition) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes through permissions";
  TempDir dir;
  ASSERT_EQ(mkdir(dir.File("ro").c_str(), 0500), 0);
  StoreOptions o;
  o.directory = dir.File("ro");
  EXPECT_TRUE(absl::IsFailedPrecondition(StoreWriter::Create(o).status()));
}

TEST(StoreWriterTest, TickWritesOldBuffersAndCompletesIdleFiles) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 300;
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  const ExporterId e = Exporter("192.0.2.9", 2055);
  w->Append(Payload(100, 1), e, kT0 + kSec);
  const std::string temp =
      dir.File("2025/12/02/.flows-20251202130500.pcap.tmp");
  struct stat st;
  ASSERT_EQ(stat(temp.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // buffered
  w->Tick(kT0 + 5 * kSec);
  EXPECT_EQ(w->counters().datagrams.load(), 0u);
  w->Tick(kT0 + 11 * kSec);  // the oldest buffered record is 10 s old: written
  ASSERT_EQ(stat(temp.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 24 + 16 + 20 + 8 + 100);
  EXPECT_EQ(w->counters().datagrams.load(), 1u);
  EXPECT_TRUE(Files(dir.path()).empty());  // not complete yet
  w->Tick(kT0 + 300 * kSec);  // the interval is over: completed without another datagram
  EXPECT_NE(stat(temp.c_str(), &st), 0);
  ASSERT_EQ(Files(dir.path()).size(), 1u);
  EXPECT_EQ(w->counters().files.load(), 1u);
  // A straggler stamped in the completed interval goes into the next file, not a reopened one.
  w->Append(Payload(50, 2), e, kT0 + 299 * kSec);
  ASSERT_TRUE(w->Close().ok());
  const std::vector<StoreFile> files = Files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[1].start_us, kT0 + 300 * kSec);
  const std::vector<ReadPacket> p = ReadStoreFile(files[1].path);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].time, kT0 + 299 * kSec);
}

TEST(StoreWriterTest, RestartWithinAnIntervalContinuesItsFile) {
  for (const bool compress : {false, true}) {
    SCOPED_TRACE(compress ? "zstd" : "plain");
    TempDir dir;
    StoreOptions o;
    o.directory = dir.path();
    o.rotate_seconds = 300;
    o.compress = compress;
    const ExporterId e = Exporter("2001:db8::77", 9999);
    V9Exporter v9(e, 3);
    std::vector<Sent> sent;
    {
      std::unique_ptr<StoreWriter> w = MakeWriter(o);
      sent.push_back(v9.Datagram(kT0 + kSec, true, 2, false));
      w->Append(sent.back().bytes, e, sent.back().time);
    }  // destroyed: Close
    ASSERT_EQ(Files(dir.path()).size(), 1u);
    {
      std::unique_ptr<StoreWriter> w = MakeWriter(o);
      sent.push_back(v9.Datagram(kT0 + 2 * kSec, false, 1, false));
      w->Append(sent.back().bytes, e, sent.back().time);
      ASSERT_TRUE(w->Close().ok());
    }
    const std::vector<StoreFile> files = Files(dir.path());
    ASSERT_EQ(files.size(), 1u);
    const std::vector<ReadPacket> p = ReadStoreFile(files[0].path);
    ASSERT_EQ(p.size(), 2u);  // the second run had no templates to replay
    EXPECT_EQ(p[0].payload, sent[0].bytes);
    EXPECT_EQ(p[1].payload, sent[1].bytes);
    EXPECT_EQ(p[1].src.ToString(), "2001:db8::77");
    EXPECT_EQ(DecodeAlone(p).records, 3u);
  }
}

TEST(StoreWriterTest, ZeroDatagramFilesAreNotKept) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  // Larger than an IPv6 packet of 65535 bytes can carry: counted lost, no file.
  std::vector<uint8_t> huge(65500, 0);
  w->Append(huge, Exporter("2001:db8::1", 1), kT0);
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(w->counters().datagrams_lost.load(), 1u);
  EXPECT_TRUE(Files(dir.path()).empty());
  std::string listing;
  RunCommand("find " + dir.path() + " -type f", &listing);
  EXPECT_EQ(listing, "");
}

// --- retention ---------------------------------------------------------------------------------

TEST(StoreRetentionTest, ByAgeAfterRotationRemovesFilesAndEmptyFolders) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 86400;
  o.retention_seconds = 2 * 86400;
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  const ExporterId e = Exporter("192.0.2.1", 5);
  // 2026-01-30 .. 2026-02-03, one datagram a day.
  const TimeUs jan30 = TimeUs{1'769'731'200} * kSec;
  for (int day = 0; day < 5; ++day) w->Append(Payload(64, day), e, jan30 + day * 86400 * kSec);
  ASSERT_TRUE(w->Close().ok());
  // The last rotation (into Feb 3) removed what started before Feb 1.
  const std::vector<StoreFile> files = Files(dir.path());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].start_us, jan30 + 2 * 86400 * kSec);
  EXPECT_EQ(w->counters().files_removed.load(), 2u);
  struct stat st;
  EXPECT_NE(stat(dir.File("2026/01").c_str(), &st), 0);  // January's folders went with them
  EXPECT_EQ(stat(dir.File("2026/02/01").c_str(), &st), 0);
}

TEST(StoreRetentionTest, IdleCollectorStillAgesFilesOut) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 60;
  o.retention_seconds = 600;
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  w->Append(Payload(64, 1), Exporter("192.0.2.1", 5), kT0);
  w->Tick(kT0 + 60 * kSec);  // completes the file
  ASSERT_EQ(Files(dir.path()).size(), 1u);
  w->Tick(kT0 + 600 * kSec);
  EXPECT_EQ(Files(dir.path()).size(), 1u);  // started 600 s ago: not older than that
  w->Tick(kT0 + 660 * kSec);
  EXPECT_TRUE(Files(dir.path()).empty());
  EXPECT_EQ(w->counters().files_removed.load(), 1u);
}

TEST(StoreRetentionTest, AtCreateByAge) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  {
    std::unique_ptr<StoreWriter> w = MakeWriter(o);
    w->Append(Payload(64, 1), Exporter("192.0.2.1", 5), TimeUs{1'577'836'800} * kSec);  // 2020
    ASSERT_TRUE(w->Close().ok());
  }
  ASSERT_EQ(Files(dir.path()).size(), 1u);
  o.retention_seconds = 30 * 86400;
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  EXPECT_EQ(w->counters().files_removed.load(), 1u);
  EXPECT_TRUE(Files(dir.path()).empty());
  struct stat st;
  EXPECT_NE(stat(dir.File("2020").c_str(), &st), 0);
}

TEST(StoreRetentionTest, BySizeKeepsTheNewest) {
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 60;
  const ExporterId e = Exporter("192.0.2.1", 5);
  // Every file: header 24 + one record of 16 + 28 + 932 = 1000 bytes.
  std::unique_ptr<StoreWriter> w;
  o.retention_bytes = 3500;
  w = MakeWriter(o);
  for (int i = 0; i < 6; ++i) w->Append(Payload(932, i), e, kT0 + i * 60 * kSec);
  ASSERT_TRUE(w->Close().ok());
  // Rotation before the 6th file left three (3000 <= 3500); Close adds the 6th.
  std::vector<StoreFile> files = Files(dir.path());
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files[0].size, 1000u);
  EXPECT_EQ(files[0].start_us, kT0 + 2 * 60 * kSec);
  EXPECT_EQ(w->counters().files_removed.load(), 2u);
  // At start, and never the newest file even beyond the limit.
  o.retention_bytes = 10;
  w = MakeWriter(o);
  files = Files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].start_us, kT0 + 5 * 60 * kSec);
}

// --- leftovers of a crashed run ------------------------------------------------------------------

TEST(StoreRecoveryTest, LeftoverTemporaryFilesAreCutAndRenamed) {
  for (const bool compress : {false, true}) {
    SCOPED_TRACE(compress ? "zstd" : "plain");
    TempDir dir;
    StoreOptions o;
    o.directory = dir.path();
    o.rotate_seconds = 60;
    o.compress = compress;
    const ExporterId e = Exporter("192.0.2.1", 5);
    {
      std::unique_ptr<StoreWriter> w = MakeWriter(o);
      for (int i = 0; i < 400; ++i) w->Append(Payload(1000, i, 200), e, kT0 + i * 100'000);
      w->Append(Payload(1000, 999), e, kT0 + 60 * kSec);  // a second file
      ASSERT_TRUE(w->Close().ok());
    }
    std::vector<StoreFile> files = Files(dir.path());
    ASSERT_EQ(files.size(), 2u);
    const std::string whole = ReadWhole(files[0].path);
    const std::string second = ReadWhole(files[1].path);
    // Crash images: the first file under its temporary name with a cut record / frame after
    // its whole ones; the second with only part of its header.
    const std::string temp0 = TempPathLike(files[0].path);
    WriteWhole(temp0, whole + (compress ? second.substr(0, second.size() - 7)
                                        : whole.substr(24, 100)));
    ASSERT_EQ(unlink(files[0].path.c_str()), 0);
    const std::string temp1 = TempPathLike(files[1].path);
    WriteWhole(temp1, second.substr(0, 10));
    ASSERT_EQ(unlink(files[1].path.c_str()), 0);

    std::vector<std::string> errors;
    o.on_error = [&](const absl::Status& st) { errors.push_back(st.ToString()); };
    std::unique_ptr<StoreWriter> w = MakeWriter(o);
    EXPECT_THAT(errors, ::testing::IsEmpty());
    EXPECT_EQ(w->counters().files_recovered.load(), 1u);
    files = Files(dir.path());
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(ReadWhole(files[0].path), whole);
    EXPECT_EQ(ReadStoreFile(files[0].path).size(), 400u);
    struct stat st;
    EXPECT_NE(stat(temp0.c_str(), &st), 0);
    EXPECT_NE(stat(temp1.c_str(), &st), 0);  // nothing whole in it: removed
  }
}

// --- write errors --------------------------------------------------------------------------------

// Writes interval 0 (small), interval 1 (more than the space left), interval 2 (small), and
// checks what a full disk must leave: complete earlier files, the cut file valid up to its last
// whole record or frame, errors reported once per file, the losses counted.
// `done_writing` runs after Close, before the files are read back.
void RunFullDisk(const std::string& store, bool compress,
                 const std::function<void()>& done_writing = [] {}) {
  StoreOptions o;
  o.directory = store;
  o.rotate_seconds = 60;
  o.compress = compress;
  std::vector<std::string> errors;
  o.on_error = [&](const absl::Status& st) { errors.push_back(st.ToString()); };
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  ASSERT_NE(w, nullptr);
  const ExporterId e = Exporter("192.0.2.1", 5);
  std::vector<std::vector<uint8_t>> first, second;
  for (int i = 0; i < 10; ++i) {
    first.push_back(Payload(1000, i));
    w->Append(first.back(), e, kT0 + i * kSec);
  }
  w->Tick(kT0 + 60 * kSec);
  ASSERT_EQ(w->counters().files.load(), 1u);
  // Compressible payloads for zstd (a quarter random), so several frames fit before the end.
  for (int i = 0; i < 1000; ++i) {
    second.push_back(Payload(1400, 100 + i, compress ? 350 : SIZE_MAX));
    w->Append(second.back(), e, kT0 + 60 * kSec + i * 1000);
  }
  EXPECT_EQ(w->counters().write_errors.load(), 1u);
  EXPECT_GT(w->counters().datagrams_lost.load(), 0u);
  for (int i = 0; i < 3; ++i) w->Append(Payload(500, 5000 + i), e, kT0 + 120 * kSec + i);
  const absl::Status closed = w->Close();
  done_writing();
  EXPECT_FALSE(closed.ok());
  EXPECT_THAT(std::string(closed.message()), ::testing::HasSubstr("cannot write"));
  EXPECT_FALSE(w->last_error().empty());
  const StoreCounters& k = w->counters();
  EXPECT_EQ(k.write_errors.load(), errors.size());
  EXPECT_GE(errors.size(), 1u);
  EXPECT_LE(errors.size(), 2u);  // interval 2 may fail too: once
  EXPECT_EQ(k.datagrams.load() + k.datagrams_lost.load(), 1013u);

  const std::vector<StoreFile> files = Files(store);
  ASSERT_GE(files.size(), 1u);
  // The first file is intact.
  std::vector<ReadPacket> p = ReadStoreFile(files[0].path);
  ASSERT_EQ(p.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(p[i].payload, first[i]);
  // Whatever else exists reads as a valid capture: a prefix of what was sent.
  size_t stored = p.size();
  for (size_t f = 1; f < files.size(); ++f) {
    p = ReadStoreFile(files[f].path);
    stored += p.size();
    if (files[f].start_us == kT0 + 60 * kSec) {
      ASSERT_LE(p.size(), second.size());
      EXPECT_GT(p.size(), 0u);
      for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i].payload, second[i]) << i;
    }
  }
  EXPECT_EQ(stored, k.datagrams.load());
  std::string listing;
  RunCommand("find " + store + " -name '.*'", &listing);
  EXPECT_EQ(listing, "");
}

class FullDiskTest : public ::testing::TestWithParam<bool> {};

TEST_P(FullDiskTest, SmallTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  TempDir dir;
  const std::string mnt = dir.File("mnt");
  ASSERT_EQ(mkdir(mnt.c_str(), 0700), 0);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                 << "): a container without CAP_SYS_ADMIN";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  RunFullDisk(mnt + "/store", GetParam());
}

// The same without root: a file size limit (EFBIG) stands in for the full disk.
TEST_P(FullDiskTest, FileSizeLimit) {
  TempDir dir;
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit small = old;
  small.rlim_cur = 240 << 10;
  if (old.rlim_max != RLIM_INFINITY && old.rlim_max < small.rlim_cur) GTEST_SKIP();
  signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  RunFullDisk(dir.File("store"), GetParam(), [&] { setrlimit(RLIMIT_FSIZE, &old); });
  setrlimit(RLIMIT_FSIZE, &old);
}

INSTANTIATE_TEST_SUITE_P(PlainAndZstd, FullDiskTest, ::testing::Bool(),
                         [](const auto& param_info) {
                           return param_info.param ? "zstd" : "plain";
                         });

// --- the template tracker ------------------------------------------------------------------------

struct Emitted {
  IpAddress address;
  uint16_t port = 0;
  std::vector<uint8_t> bytes;
};
std::vector<Emitted> ReplayAll(store_internal::TemplateTracker& t, TimeUs now) {
  std::vector<Emitted> out;
  t.Replay(now, [&](const IpAddress& a, uint16_t port, std::span<const uint8_t> d) {
    out.push_back(Emitted{a, port, std::vector<uint8_t>(d.begin(), d.end())});
  });
  return out;
}

uint32_t Be32(const std::vector<uint8_t>& d, size_t at) {
  return uint32_t{d[at]} << 24 | uint32_t{d[at + 1]} << 16 | uint32_t{d[at + 2]} << 8 | d[at + 3];
}

// A v9 template with `fields` fields of 4 bytes (types 1..fields, all IANA).
Buf V9Template(uint16_t id, uint16_t fields, uint16_t first_type = 1) {
  Buf t;
  t.U16(id).U16(fields);
  for (uint16_t f = 0; f < fields; ++f) t.U16(static_cast<uint16_t>(first_type + f)).U16(4);
  return t;
}

Buf V9Header(uint16_t count, uint32_t seq, uint32_t source_id) {
  Buf d;
  d.U16(9).U16(count).U32(1000).U32(1'764'680'700).U32(seq).U32(source_id);
  return d;
}

TEST(TemplateTrackerTest, LargeTemplateSetsSplitUnder65000AndDecode) {
  store_internal::TemplateTracker tracker({});
  const ExporterId e = Exporter("192.0.2.1", 2055);
  // 300 templates of 60 fields (244 bytes each): 73 KB, sent in datagrams of 50 templates.
  uint32_t seq = 77;
  for (uint16_t first = 0; first < 300; first += 50) {
    Buf set;
    for (uint16_t id = first; id < first + 50; ++id) set.Append(V9Template(256 + id, 60));
    Buf d = V9Header(50, seq++, 3);
    d.Append(Set(kTemplateFlowSetId, set, true));
    tracker.Note(d.bytes(), e.address, e.port, kT0);
  }
  EXPECT_EQ(tracker.templates(), 300u);
  const std::vector<Emitted> out = ReplayAll(tracker, kT0 + 5 * kSec);
  ASSERT_EQ(out.size(), 2u);
  size_t count = 0;
  std::set<uint16_t> ids;
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_LT(out[i].bytes.size(), 65000u);
    count += static_cast<size_t>(out[i].bytes[2] << 8 | out[i].bytes[3]);
    for (uint16_t id : ReplayTemplateIds(out[i].bytes)) ids.insert(id);
    EXPECT_EQ(Be32(out[i].bytes, 4), 1000u + 5000u);  // uptime moves with the clock
    EXPECT_EQ(Be32(out[i].bytes, 16), 3u);
  }
  // The last synthetic datagram carries the exporter's last sequence number.
  EXPECT_EQ(Be32(out[0].bytes, 12), seq - 2);
  EXPECT_EQ(Be32(out[1].bytes, 12), seq - 1);
  EXPECT_EQ(count, 300u);
  EXPECT_EQ(ids.size(), 300u);
  // A decoder that learns them decodes data of the last template at once.
  Decoder decoder{DecoderOptions{}};
  CountSink sink;
  for (const Emitted& x : out) decoder.LearnTemplatesOnly(x.bytes, e, kT0, sink);
  Buf data;
  for (int i = 0; i < 60; ++i) data.U32(static_cast<uint32_t>(i));
  Buf d = V9Header(1, seq, 3);
  d.Append(Set(256 + 299, data, true));
  decoder.DecodeDatagram(d.bytes(), e, kT0, sink);
  EXPECT_EQ(sink.records, 1u);
  EXPECT_EQ(decoder.Totals().ErrorTotal(), 0u);
}

TEST(TemplateTrackerTest, RedefinitionReplacesAndBoundsCount) {
  store_internal::TemplateTracker tracker({/*max_templates=*/2, /*max_bytes=*/1 << 20});
  const ExporterId e = Exporter("192.0.2.1", 2055);
  auto send = [&](const Buf& tpl) {
    Buf d = V9Header(1, 1, 0);
    d.Append(Set(kTemplateFlowSetId, tpl, true));
    tracker.Note(d.bytes(), e.address, e.port, kT0);
  };
  send(V9Template(256, 3));
  send(V9Template(257, 3));
  send(V9Template(258, 3));  // over the bound
  EXPECT_EQ(tracker.templates(), 2u);
  EXPECT_EQ(tracker.untracked(), 1u);
  send(V9Template(256, 5, 10));  // a redefinition is not a new template
  EXPECT_EQ(tracker.untracked(), 1u);
  const std::vector<Emitted> out = ReplayAll(tracker, kT0);
  ASSERT_EQ(out.size(), 1u);
  const Buf want = V9Template(256, 5, 10);
  const std::vector<uint8_t>& got = out[0].bytes;
  EXPECT_NE(std::search(got.begin(), got.end(), want.bytes().begin(), want.bytes().end()),
            got.end());
  // Unchanged resends cost nothing and change nothing.
  send(V9Template(257, 3));
  EXPECT_EQ(tracker.templates(), 2u);
}

TEST(TemplateTrackerTest, MostRecentPortReplaysLast) {
  store_internal::TemplateTracker tracker({});
  const ExporterId old_port = Exporter("192.0.2.1", 40001);
  const ExporterId new_port = Exporter("192.0.2.1", 30000);  // sorts first by port
  Buf d = V9Header(1, 1, 0);
  d.Append(Set(kTemplateFlowSetId, V9Template(256, 3), true));
  tracker.Note(d.bytes(), old_port.address, old_port.port, kT0);
  Buf d2 = V9Header(1, 1, 0);
  d2.Append(Set(kTemplateFlowSetId, V9Template(256, 4), true));
  tracker.Note(d2.bytes(), new_port.address, new_port.port, kT0 + kSec);
  const std::vector<Emitted> out = ReplayAll(tracker, kT0 + 2 * kSec);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].port, 40001);
  EXPECT_EQ(out[1].port, 30000);
}

TEST(TemplateTrackerTest, WithdrawAllAndGarbage) {
  store_internal::TemplateTracker tracker({});
  const ExporterId e = Exporter("2001:db8::9", 4739);
  IpfixExporter b(e, 1);
  tracker.Note(b.Message(kT0, true, 1, false).bytes, e.address, e.port, kT0);
  EXPECT_EQ(tracker.templates(), 3u);
  // Withdraw every data template (ID 2 in set 2): the options template stays.
  Buf w;
  w.U16(2).U16(0);
  Buf m;
  m.U16(10).U16(0).U32(0).U32(0).U32(1).Append(Set(kIpfixTemplateSetId, w, false));
  m.Patch16(2, static_cast<uint16_t>(m.size()));
  tracker.Note(m.bytes(), e.address, e.port, kT0);
  EXPECT_EQ(tracker.templates(), 1u);
  std::vector<Emitted> out = ReplayAll(tracker, kT0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(ReplayTemplateIds(out[0].bytes), std::set<uint16_t>{302});

  // Random bytes behind v9 and IPFIX headers: no crash, and whatever was taken for a template
  // replays as sets the wire parsers accept.
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> d(28 + rng() % 200);
    for (uint8_t& x : d) x = static_cast<uint8_t>(rng());
    d[0] = 0;
    d[1] = i % 2 ? 9 : 10;
    // Plausible set headers now and then.
    const size_t at = i % 2 ? 20 : 16;
    d[at] = 0;
    d[at + 1] = static_cast<uint8_t>(i % 2 ? rng() % 2 : 2 + rng() % 2);
    d[at + 2] = 0;
    d[at + 3] = static_cast<uint8_t>(d.size() - at);  // the set runs to the end
    d[at + 6] = 0;  // a small field count
    d[at + 7] = static_cast<uint8_t>(rng() % 8);
    tracker.Note(d, e.address, static_cast<uint16_t>(rng() % 4), kT0);
  }
  EXPECT_GT(tracker.templates(), 10u);  // the walk did take some
  out = ReplayAll(tracker, kT0);
  for (const Emitted& x : out) ReplayTemplateIds(x.bytes);  // parsers accept every set
}

// --- file names and selection --------------------------------------------------------------------

TEST(StoreFilesTest, NamesAndPaths) {
  EXPECT_EQ(StoreFileStart("flows-20251202130500.pcap"), kT0);
  EXPECT_EQ(StoreFileStart("flows-20251202130500.pcap.zst"), kT0);
  EXPECT_EQ(StoreFileStart(".flows-20251202130500.pcap.tmp"), -1);
  EXPECT_EQ(StoreFileStart("flows-20251202130500.pcap.tmp"), -1);
  EXPECT_EQ(StoreFileStart("flows-2025120213050.pcap"), -1);
  EXPECT_EQ(StoreFileStart("flows-20251302130500.pcap"), -1);  // month 13
  EXPECT_EQ(StoreFileStart("flows-20250230000000.pcap"), -1);  // February 30
  EXPECT_EQ(StoreFileStart("flows-2025120213050x.pcap"), -1);
  EXPECT_EQ(StoreFileStart("nfcapd.202512021305"), -1);
  EXPECT_EQ(StoreFilePath("/var/flows", kT0, false),
            "/var/flows/2025/12/02/flows-20251202130500.pcap");
  EXPECT_EQ(StoreFilePath("/var/flows/", kT0 + 59 * kSec, true),
            "/var/flows/2025/12/02/flows-20251202130559.pcap.zst");
}

TEST(StoreFilesTest, RetentionIsAnAgeOrASize) {
  struct Case {
    const char* text;
    int64_t seconds;
    uint64_t bytes;
  };
  for (const Case& c : {Case{"30d", 30 * 86400, 0}, Case{"12h", 12 * 3600, 0},
                        Case{"90m", 90 * 60, 0}, Case{"3600s", 3600, 0},
                        Case{"2w", 14 * 86400, 0}, Case{"64k", 0, 64 << 10},
                        Case{"500M", 0, uint64_t{500} << 20}, Case{"200G", 0, uint64_t{200} << 30},
                        Case{"1T", 0, uint64_t{1} << 40}}) {
    int64_t seconds = 0;
    uint64_t bytes = 0;
    ASSERT_TRUE(ParseRetention(c.text, &seconds, &bytes).ok()) << c.text;
    EXPECT_EQ(seconds, c.seconds) << c.text;
    EXPECT_EQ(bytes, c.bytes) << c.text;
  }
  for (const char* bad : {"", "d", "30", "0d", "30x", "-1d", "+5d", "5 d", " 5d", "1.5G",
                          "99999999999999999999d", "2000000T"}) {
    int64_t seconds = 0;
    uint64_t bytes = 0;
    const absl::Status st = ParseRetention(bad, &seconds, &bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(st)) << bad;
    EXPECT_NE(st.message().find("--store-retention"), absl::string_view::npos) << bad;
  }
}

TEST(StoreFilesTest, ListSelectsByTime) {
  TempDir dir;
  const TimeUs m = 300 * kSec;
  std::vector<std::string> made;
  for (TimeUs start : {kT0, kT0 + m, kT0 + 2 * m, kT0 + 3 * m}) {
    const std::string path = StoreFilePath(dir.path(), start, false);
    RunCommand("mkdir -p $(dirname " + path + ") && printf 12345 > " + path);
  }
  // Same start in both forms (compression switched on within an interval), and noise.
  RunCommand("printf 1 > " + StoreFilePath(dir.path(), kT0 + m, true));
  RunCommand("touch " + dir.File("2025/12/02/.flows-20251202132000.pcap.tmp") + " " +
             dir.File("2025/12/02/notes.txt") + " " + dir.File("flows-x.pcap"));
  auto starts = [&](TimeUs from, TimeUs to) {
    std::vector<std::string> out;
    absl::StatusOr<std::vector<StoreFile>> f = ListStoreFiles(dir.path(), from, to);
    EXPECT_TRUE(f.ok()) << f.status();
    if (!f.ok()) return out;
    for (const StoreFile& s : *f) {
      out.push_back(absl::StrCat((s.start_us - kT0) / m, s.compressed ? "z" : ""));
    }
    return out;
  };
  using V = std::vector<std::string>;
  // The first files starting at or after `to` come too: a datagram that reached the writer
  // after its interval's file was completed is in the next file, with its earlier time.
  EXPECT_EQ(starts(0, kNoTimeLimit), (V{"0", "1", "1z", "2", "3"}));
  EXPECT_EQ(starts(kT0 + m + 1, kT0 + m + 2), (V{"1", "1z", "2"}));
  EXPECT_EQ(starts(kT0 + m, kT0 + 2 * m), (V{"1", "1z", "2"}));  // [from, to)
  EXPECT_EQ(starts(kT0 + m - 1, kT0 + 2 * m + 1), (V{"0", "1", "1z", "2", "3"}));
  EXPECT_EQ(starts(kT0 + 10 * m, kNoTimeLimit), (V{"3"}));         // the last runs on
  EXPECT_EQ(starts(0, kT0), (V{"0"}));
  EXPECT_EQ(starts(0, kT0 + 1), (V{"0", "1", "1z"}));
  absl::StatusOr<std::vector<StoreFile>> all = ListStoreFiles(dir.path());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ((*all)[0].size, 5u);
  EXPECT_EQ((*all)[0].path, StoreFilePath(dir.path(), kT0, false));

  absl::Status missing = ListStoreFiles(dir.File("nope")).status();
  EXPECT_TRUE(absl::IsNotFound(missing)) << missing;
  EXPECT_THAT(std::string(missing.message()), ::testing::HasSubstr(dir.File("nope")));
}

TEST(StoreFilesTest, ParseTimeArgument) {
  const TimeUs now = TimeUs{1'764'680'730} * kSec + 123;  // 2025-12-02T13:05:30.000123Z
  struct Case {
    const char* text;
    TimeUs want;
  };
  const TimeUs day = TimeUs{1'764'633'600} * kSec;  // 2025-12-02T00:00:00Z
  const Case cases[] = {
      {"2025-12-02", day},
      {"2025-12-02T13:05", day + (13 * 3600 + 5 * 60) * kSec},
      {"2025-12-02 13:05:30", day + (13 * 3600 + 5 * 60 + 30) * kSec},
      {"2025-12-02T13:05:30Z", day + (13 * 3600 + 5 * 60 + 30) * kSec},
      {"2025-12-02T13:05:30.25Z", day + (13 * 3600 + 5 * 60 + 30) * kSec + 250'000},
      {"2025-12-02T14:05+01:00", day + (13 * 3600 + 5 * 60) * kSec},
      {"2025-12-02T08:05-0500", day + (13 * 3600 + 5 * 60) * kSec},
      {"2025-12-02T13:05:30+00", day + (13 * 3600 + 5 * 60 + 30) * kSec},
      {"now", now},
      {" now ", now},
      {"-2h", now - 2 * 3600 * kSec},
      {"-30m", now - 30 * 60 * kSec},
      {"-90s", now - 90 * kSec},
      {"-1d", now - 86400 * kSec},
      {"-1w", now - 7 * 86400 * kSec},
      {"@1764680700", kT0},
      {"@1764680700.5", kT0 + 500'000},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TimeUs> t = ParseTimeArgument(c.text, now);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.status();
    EXPECT_EQ(*t, c.want) << c.text;
  }
  for (const char* bad : {"", "yesterday", "2025-13-01", "2025-02-30", "2025-12-02T25:00",
                          "2025-12-02T13", "2025-12-02T13:05:61", "2025-12-02X", "-2y", "-h",
                          "--2h", "@", "@12x", "2025-12-02T13:05+25:00", "12/02/2025",
                          "-99999999999999h"}) {
    absl::StatusOr<TimeUs> t = ParseTimeArgument(bad, now);
    EXPECT_TRUE(absl::IsInvalidArgument(t.status())) << bad;
    if (!t.ok() && *bad != '\0') {
      EXPECT_THAT(std::string(t.status().message()), ::testing::HasSubstr(bad));
    }
  }
}

// --- tshark -------------------------------------------------------------------------------------

// tshark reads a store file (v9, v5, IPFIX over IPv4 and IPv6, template datagrams first) with
// no malformed packet, no expert error or warning (sequence numbers included) and no data
// without its template.
TEST(StoreTsharkTest, StoreFilesDecodeCleanly) {
  if (!HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  TempDir dir;
  StoreOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 60;
  std::unique_ptr<StoreWriter> w = MakeWriter(o);
  V9Exporter a(Exporter("192.0.2.1", 5000), 1);
  IpfixExporter b(Exporter("2001:db8::2", 6000), 7);
  IpfixExporter b4(Exporter("192.0.2.5", 6001), 8);
  V5Exporter d(Exporter("203.0.113.4", 7000));
  std::vector<Sent> sent = {a.Datagram(kT0 + 1 * kSec, true, 3, true),
                            b.Message(kT0 + 2 * kSec, true, 4, true),
                            b4.Message(kT0 + 2 * kSec, true, 2, false),
                            d.Datagram(kT0 + 3 * kSec, 5),
                            a.Datagram(kT0 + 61 * kSec, false, 2, true),
                            b.Message(kT0 + 62 * kSec, false, 3, false),
                            b4.Message(kT0 + 62 * kSec, false, 1, true),
                            d.Datagram(kT0 + 63 * kSec, 2),
                            a.Datagram(kT0 + 64 * kSec, false, 1, false),
                            b.Message(kT0 + 65 * kSec, false, 2, true)};
  for (const Sent& s : sent) w->Append(s.bytes, s.exporter, s.time);
  ASSERT_TRUE(w->Close().ok());
  const std::vector<StoreFile> files = Files(dir.path());
  ASSERT_EQ(files.size(), 2u);
  for (const StoreFile& f : files) {
    SCOPED_TRACE(f.path);
    std::string verbose;
    ASSERT_EQ(RunCommand("tshark -n -r " + f.path + " -V 2>&1", &verbose), 0);
    EXPECT_THAT(verbose, ::testing::HasSubstr("Cisco NetFlow/IPFIX"));
    EXPECT_THAT(verbose, ::testing::HasSubstr("Version: 5"));
    EXPECT_THAT(verbose, ::testing::HasSubstr("Version: 9"));
    EXPECT_THAT(verbose, ::testing::HasSubstr("Version: 10"));
    EXPECT_THAT(TsharkProblems(verbose), ::testing::IsEmpty());
    // Every flow is decoded: tshark's packet counts add up to what was sent in this file.
    std::string fields;
    ASSERT_EQ(RunCommand("tshark -n -r " + f.path +
                             " -T fields -E occurrence=a -E aggregator=, -e cflow.packets"
                             " -e ip.ttl -e ipv6.hlim 2>/dev/null",
                         &fields),
              0);
    EXPECT_THAT(fields, ::testing::Not(::testing::IsEmpty()));
  }
  // The second file starts with the templates: tshark finds every data record's template.
  std::string expert;
  ASSERT_EQ(RunCommand("tshark -n -r " + files[1].path + " -q -z expert 2>&1", &expert), 0);
  EXPECT_THAT(expert, ::testing::Not(::testing::HasSubstr("Error")));
  EXPECT_THAT(expert, ::testing::Not(::testing::HasSubstr("Warning")));
}

}  // namespace
}  // namespace nf
