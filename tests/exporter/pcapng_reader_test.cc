// Tests of the pcapng reader in nf::capture: hand-built files (both byte orders, several
// interfaces with different link types, timestamp resolutions and offsets, simple packet
// blocks, several sections, truncation) and a differential check against libpcap on every
// corpus pcapng file libpcap can read.
#include "capture/pcapng_reader.h"

#include <pcap/pcap.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capture/pcap_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/frame_builder.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using ::nf::testing::Bytes;

// Builds pcapng blocks in either byte order.
class NgWriter {
 public:
  explicit NgWriter(bool big_endian) : be_(big_endian) {}
  void U16(Bytes& b, uint16_t v) const {
    if (be_) {
      b.push_back(static_cast<uint8_t>(v >> 8));
      b.push_back(static_cast<uint8_t>(v));
    } else {
      b.push_back(static_cast<uint8_t>(v));
      b.push_back(static_cast<uint8_t>(v >> 8));
    }
  }
  void U32(Bytes& b, uint32_t v) const {
    if (be_) {
      U16(b, static_cast<uint16_t>(v >> 16));
      U16(b, static_cast<uint16_t>(v));
    } else {
      U16(b, static_cast<uint16_t>(v));
      U16(b, static_cast<uint16_t>(v >> 16));
    }
  }
  void Block(uint32_t type, const Bytes& body) {
    Bytes padded = body;
    while (padded.size() % 4) padded.push_back(0);
    const uint32_t len = static_cast<uint32_t>(padded.size() + 12);
    U32(out, type);
    U32(out, len);
    out.insert(out.end(), padded.begin(), padded.end());
    U32(out, len);
  }
  void Section() {
    Bytes b;
    U32(b, 0x1A2B3C4D);
    U16(b, 1);
    U16(b, 0);
    U32(b, 0xffffffff);
    U32(b, 0xffffffff);
    Block(0x0A0D0D0A, b);
  }
  void Interface(uint16_t dlt, uint32_t snaplen, int tsresol = -1, int64_t tsoffset = 0) {
    Bytes b;
    U16(b, dlt);
    U16(b, 0);
    U32(b, snaplen);
    if (tsresol >= 0) {
      U16(b, 9);
      U16(b, 1);
      b.push_back(static_cast<uint8_t>(tsresol));
      b.resize(b.size() + 3, 0);
    }
    if (tsoffset != 0) {
      U16(b, 14);
      U16(b, 8);
      const uint64_t v = static_cast<uint64_t>(tsoffset);
      if (be_) {
        U32(b, static_cast<uint32_t>(v >> 32));
        U32(b, static_cast<uint32_t>(v));
      } else {
        U32(b, static_cast<uint32_t>(v));
        U32(b, static_cast<uint32_t>(v >> 32));
      }
    }
    U16(b, 0);
    U16(b, 0);
    Block(1, b);
  }
  void Enhanced(uint32_t itf, uint64_t ts, const Bytes& data, uint32_t wire = 0) {
    Bytes b;
    U32(b, itf);
    U32(b, static_cast<uint32_t>(ts >> 32));
    U32(b, static_cast<uint32_t>(ts));
    U32(b, static_cast<uint32_t>(data.size()));
    U32(b, wire != 0 ? wire : static_cast<uint32_t>(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    Block(6, b);
  }
  void Simple(const Bytes& data) {
    Bytes b;
    U32(b, static_cast<uint32_t>(data.size()));
    b.insert(b.end(), data.begin(), data.end());
    Block(3, b);
  }
  Bytes out;

 private:
  bool be_;
};

std::string WriteFile(const ::nf::testing::TempDir& dir, const std::string& name,
                      const Bytes& bytes) {
  const std::string path = dir.File(name);
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

TEST(PcapngReaderTest, InterfacesResolutionsAndByteOrders) {
  for (bool be : {false, true}) {
    SCOPED_TRACE(be ? "big endian" : "little endian");
    NgWriter w(be);
    w.Section();
    w.Interface(1, 65535);                   // Ethernet, microseconds
    w.Interface(113, 262144, 9);             // SLL, nanoseconds
    w.Interface(101, 1500, 0x80 | 20, 100);  // raw IP, 2^-20 s, +100 s offset
    w.Enhanced(0, 1'700'000'000'123'456ull, Bytes(60, 1));
    w.Enhanced(1, 1'700'000'000'123'456'789ull, Bytes(40, 2), 1000);
    w.Enhanced(2, (uint64_t{1'700'000'000} << 20) | (1u << 19), Bytes(20, 3));
    w.Block(5, Bytes(16, 0));  // interface statistics: skipped
    w.Simple(Bytes(30, 4));
    w.Section();  // a new section resets the interfaces
    w.Interface(0, 65535);
    w.Enhanced(0, 5, Bytes(8, 5));
    ::nf::testing::TempDir dir;
    const std::string path = WriteFile(dir, "t.pcapng", w.out);
    ASSERT_TRUE(PcapngReader::IsPcapng(path));
    auto r = PcapngReader::Open(path);
    ASSERT_TRUE(r.ok());
    PcapngPacket p;
    ASSERT_TRUE(*(*r)->Next(p));
    EXPECT_EQ(p.dlt, 1);
    EXPECT_EQ(p.caplen, 60u);
    EXPECT_EQ(p.time_us, 1'700'000'000'123'456);
    ASSERT_TRUE(*(*r)->Next(p));
    EXPECT_EQ(p.dlt, 113);
    EXPECT_EQ(p.caplen, 40u);
    EXPECT_EQ(p.wire_len, 1000u);
    EXPECT_EQ(p.data[0], 2);
    EXPECT_EQ(p.time_us, 1'700'000'000'123'456);
    ASSERT_TRUE(*(*r)->Next(p));
    EXPECT_EQ(p.dlt, 101);
    EXPECT_EQ(p.time_us, (1'700'000'000 + 100) * int64_t{1'000'000} + 500'000);
    ASSERT_TRUE(*(*r)->Next(p));  // simple packet block: interface 0
    EXPECT_EQ(p.dlt, 1);
    EXPECT_EQ(p.caplen, 30u);
    ASSERT_TRUE(*(*r)->Next(p));
    EXPECT_EQ(p.dlt, 0);
    EXPECT_EQ(p.interface, 0u);
    EXPECT_FALSE(*(*r)->Next(p));
  }
}

TEST(PcapngReaderTest, MalformedFilesAreErrorsNotCrashes) {
  NgWriter w(false);
  w.Section();
  w.Interface(1, 65535);
  w.Enhanced(0, 1, Bytes(60, 1));
  w.Enhanced(3, 1, Bytes(60, 1));  // undeclared interface
  ::nf::testing::TempDir dir;
  {
    auto r = PcapngReader::Open(WriteFile(dir, "a.pcapng", w.out));
    PcapngPacket p;
    ASSERT_TRUE(*(*r)->Next(p));
    absl::StatusOr<bool> bad = (*r)->Next(p);
    ASSERT_FALSE(bad.ok());
    EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("undeclared"));
  }
  // Every truncation of a valid file ends in an error or a clean end, never a crash.
  NgWriter ok(true);
  ok.Section();
  ok.Interface(1, 65535, 9);
  for (int i = 0; i < 3; ++i) ok.Enhanced(0, 1000 * i, Bytes(50 + i, 7));
  for (size_t n = 0; n < ok.out.size(); n += 7) {
    Bytes cut(ok.out.begin(), ok.out.begin() + static_cast<ptrdiff_t>(n));
    auto r = PcapngReader::Open(WriteFile(dir, "cut.pcapng", cut));
    ASSERT_TRUE(r.ok());
    PcapngPacket p;
    for (int guard = 0; guard < 10; ++guard) {
      absl::StatusOr<bool> more = (*r)->Next(p);
      if (!more.ok() || !*more) break;
    }
  }
}

TEST(PcapngReaderTest, PcapSourceCountsUnsupportedInterfaces) {
  NgWriter w(false);
  w.Section();
  w.Interface(1, 65535);
  w.Interface(253, 65535);  // netlink
  w.Enhanced(0, 1,
             ::nf::testing::Eth(0x0800, ::nf::testing::Ipv4(1, 2, 17, ::nf::testing::Udp(1, 2))));
  w.Enhanced(1, 2, Bytes(20, 0));
  ::nf::testing::TempDir dir;
  auto src = PcapSource::OpenOffline({WriteFile(dir, "m.pcapng", w.out)}, "udp");
  ASSERT_TRUE(src.ok()) << src.status();
  int supported = 0;
  int unsupported = 0;
  absl::StatusOr<int> n = (*src)->Dispatch(
      100, [&](const RawPacket& p) { (p.link_supported ? supported : unsupported)++; });
  // The Ethernet UDP frame passes the filter; the netlink frame is either filtered out or,
  // when "udp" cannot compile for netlink, delivered to be counted as unsupported.
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(supported, 1);
  EXPECT_EQ(supported + unsupported, *n);
  auto bad = PcapSource::OpenOffline({dir.File("m.pcapng")}, "tcp port nope");
  EXPECT_FALSE(bad.ok());
}

TEST(PcapngReaderCorpusTest, AgreesWithLibpcap) {
  NF_REQUIRE_CORPUS();
  size_t compared = 0;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(::nf::testing::CorpusDir() + "/traffic")) {
    if (!e.is_regular_file() || !PcapngReader::IsPcapng(e.path())) continue;
    SCOPED_TRACE(e.path().string());
    char err[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(e.path().c_str(), err);
    ASSERT_NE(p, nullptr);
    auto r = PcapngReader::Open(e.path());
    ASSERT_TRUE(r.ok());
    pcap_pkthdr* h;
    const u_char* data;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
      PcapngPacket pkt;
      absl::StatusOr<bool> more = (*r)->Next(pkt);
      ASSERT_TRUE(more.ok() && *more);
      EXPECT_EQ(pkt.caplen, h->caplen);
      EXPECT_EQ(pkt.wire_len, h->len);
      EXPECT_EQ(pkt.time_us, int64_t{h->ts.tv_sec} * 1000000 + h->ts.tv_usec);
      EXPECT_EQ(std::memcmp(pkt.data, data, h->caplen), 0);
      ++compared;
    }
    if (rc == -2 || rc == PCAP_ERROR_BREAK) {
      PcapngPacket pkt;
      EXPECT_FALSE(*(*r)->Next(pkt));  // both at the end
    }
    pcap_close(p);
  }
  EXPECT_GT(compared, 1000u);
}

}  // namespace
}  // namespace nf
