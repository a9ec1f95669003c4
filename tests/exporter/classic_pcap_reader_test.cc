// Tests of the buffered classic pcap reader against libpcap on the same files: both byte
// orders, micro- and nanosecond magics, files many times its buffer with records of every size
// up to the largest straddling its refills, snaplen clipping, truncated and corrupt records,
// the fallback for files it does not take, PcapSource's filter on the classic path, and the
// chunked reads (NextChunk, PcapSource::ReadFrames) of flowexport -r --threads N.
#include "capture/classic_pcap_reader.h"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "capture/pcap_source.h"
#include "gtest/gtest.h"
#include "tests/exporter/libpcap_reference.h"
#include "tests/support/pcap_image.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::PcapImage;
using testing::ReadWithLibpcap;
using testing::Seen;
using testing::UdpAndArp;
using testing::PcapRecord;
using testing::SomePcapRecords;
using testing::WriteFile;

absl::StatusOr<std::vector<Seen>> ReadClassic(const std::string& path) {
  absl::StatusOr<std::unique_ptr<ClassicPcapReader>> r = ClassicPcapReader::OpenIfClassic(path);
  if (!r.ok()) return r.status();
  if (*r == nullptr) return absl::NotFoundError("not taken");
  std::vector<Seen> out;
  PcapPacket pkt;
  for (;;) {
    absl::StatusOr<bool> more = (*r)->Next(pkt);
    if (!more.ok()) return more.status();
    if (!*more) break;
    out.push_back(Seen{pkt.caplen, pkt.wire_len, pkt.time_us,
                       std::string(reinterpret_cast<const char*>(pkt.data), pkt.caplen)});
  }
  return out;
}

// The same file through NextChunk into `capacity`-byte chunks: every record once, in order, as a
// view into its chunk; the chunk holds whole records only. The error, if any, comes after
// every record before it.
struct Chunked {
  std::vector<Seen> seen;
  absl::Status error;
  size_t chunks = 0;
};
Chunked ReadChunked(const std::string& path, size_t capacity) {
  Chunked out;
  absl::StatusOr<std::unique_ptr<ClassicPcapReader>> r = ClassicPcapReader::OpenIfClassic(path);
  if (!r.ok() || *r == nullptr) {
    out.error = absl::NotFoundError("not taken");
    return out;
  }
  std::vector<uint8_t> chunk(capacity);
  for (;;) {
    const uint8_t* last_end = chunk.data();
    absl::StatusOr<size_t> used =
        (*r)->NextChunk(chunk.data(), chunk.size(), [&](const PcapPacket& pkt) {
          EXPECT_EQ(pkt.data, last_end + 16) << "records are back to back in the chunk";
          last_end = pkt.data + pkt.caplen;
          out.seen.push_back(Seen{pkt.caplen, pkt.wire_len, pkt.time_us,
                                  std::string(reinterpret_cast<const char*>(pkt.data),
                                              pkt.caplen)});
        });
    if (!used.ok()) {
      out.error = used.status();
      return out;
    }
    if (*used == 0) return out;
    ++out.chunks;
  }
}

// About 6 MiB of records of every size: empty and tiny ones, common frame sizes, jumbo ones, and
// ones near the largest capture length (262144), in a pseudo-random order given by `seed`.
std::vector<PcapRecord> RecordsOfEverySize(uint64_t seed) {
  std::vector<PcapRecord> recs;
  uint64_t x = seed;
  for (uint32_t i = 0, bytes = 0; bytes < (6u << 20); ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    PcapRecord r;
    r.sec = 1700000000 + i;
    r.frac = (i * 7919) % 1000000;
    const size_t size = i % 37 == 0  ? 262144 - (x % 5)
                        : i % 5 == 0 ? x % 9000
                        : i % 3 == 0 ? x % 64
                                     : 40 + x % 1500;
    r.data.resize(size);
    for (size_t j = 0; j < size; j += 31) r.data[j] = static_cast<uint8_t>(x >> (j % 56));
    r.wire_len = static_cast<uint32_t>(size + i % 3);
    bytes += static_cast<uint32_t>(16 + size);
    recs.push_back(std::move(r));
  }
  return recs;
}

TEST(ClassicPcapReaderTest, AgreesWithLibpcapInEveryByteOrderAndPrecision) {
  testing::TempDir dir;
  const std::vector<PcapRecord> recs = SomePcapRecords(300);
  for (bool swap : {false, true}) {
    for (bool nano : {false, true}) {
      std::vector<PcapRecord> r = recs;
      if (nano) {
        for (PcapRecord& x : r) x.frac *= 1000;
      }
      const std::string path = WriteFile(dir, "f.pcap", PcapImage(r, swap, nano, 65535));
      absl::StatusOr<std::vector<Seen>> classic = ReadClassic(path);
      ASSERT_TRUE(classic.ok()) << classic.status();
      const std::vector<Seen> ref = ReadWithLibpcap(path);
      ASSERT_EQ(ref.size(), recs.size());
      EXPECT_TRUE(*classic == ref) << "swap " << swap << " nano " << nano;
    }
  }
}

// The reader refills a 1 MiB buffer: a file of several MiB, with small records, records near
// the largest capture length (262144) and everything between, puts records across every
// refill boundary, including a whole largest record arriving in one refill.
TEST(ClassicPcapReaderTest, AgreesWithLibpcapAcrossBufferRefills) {
  testing::TempDir dir;
  const std::vector<PcapRecord> recs = RecordsOfEverySize(0x243F6A8885A308D3ull);
  const std::string path = WriteFile(dir, "big.pcap", PcapImage(recs, false, false, 262144));
  absl::StatusOr<std::vector<Seen>> classic = ReadClassic(path);
  ASSERT_TRUE(classic.ok()) << classic.status();
  const std::vector<Seen> ref = ReadWithLibpcap(path);
  ASSERT_EQ(ref.size(), recs.size());
  ASSERT_EQ(classic->size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_TRUE((*classic)[i] == ref[i]) << "record " << i;
  // Cut inside the last record: everything before it is read, then the error.
  std::string image = PcapImage(recs, false, false, 262144);
  image.resize(image.size() - 10);
  absl::StatusOr<std::vector<Seen>> cut = ReadClassic(WriteFile(dir, "cut.pcap", image));
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find("truncated dump file"), absl::string_view::npos)
      << cut.status();
}

// NextChunk over a 6 MiB file of the same kind, with the smallest chunk (one largest record) and with
// 1 MiB ones: records straddle every chunk boundary and are carried to the next chunk whole.
TEST(ClassicPcapReaderTest, ChunksAgreeWithLibpcapAcrossChunkBoundaries) {
  testing::TempDir dir;
  std::vector<PcapRecord> recs = RecordsOfEverySize(0x13198A2E03707344ull);
  recs.back().data.assign(100, 0x5a);  // so the cuts below land in its data, then its header
  recs.back().wire_len = 100;
  size_t bytes = 0;
  for (const PcapRecord& r : recs) bytes += 16 + r.data.size();
  for (bool swap : {false, true}) {
    const std::string image = PcapImage(recs, swap, false, 262144);
    const std::string path = WriteFile(dir, "big.pcap", image);
    const std::vector<Seen> ref = ReadWithLibpcap(path);
    ASSERT_EQ(ref.size(), recs.size());
    for (size_t capacity : {ClassicPcapReader::kMinChunkBytes, size_t{1} << 20}) {
      SCOPED_TRACE(::testing::Message() << "swap " << swap << " capacity " << capacity);
      const Chunked c = ReadChunked(path, capacity);
      ASSERT_TRUE(c.error.ok()) << c.error;
      EXPECT_GE(c.chunks, bytes / capacity);
      ASSERT_EQ(c.seen.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) ASSERT_TRUE(c.seen[i] == ref[i]) << "record " << i;
    }
    // Cut inside the last record's data, then inside a record header: every whole record
    // first, then the error Next gives.
    for (size_t cut : {size_t{10}, 16 + recs.back().data.size() - 7}) {
      std::string part = image.substr(0, image.size() - cut);
      const Chunked c = ReadChunked(WriteFile(dir, "cut.pcap", part), size_t{1} << 20);
      EXPECT_EQ(c.seen.size(), recs.size() - 1);
      ASSERT_FALSE(c.error.ok());
      EXPECT_NE(c.error.message().find("truncated dump file"), absl::string_view::npos)
          << c.error;
      EXPECT_NE(c.error.message().find(cut == 10 ? "captured bytes" : "header bytes"),
                absl::string_view::npos)
          << c.error;
    }
  }
  // A capture length no record can have, in the middle: the records before it, then the error.
  std::string image = PcapImage(SomePcapRecords(50), false, false, 65535);
  std::vector<PcapRecord> head = SomePcapRecords(50);
  head.resize(20);
  const size_t at = PcapImage(head, false, false, 65535).size();
  const uint32_t lie = 0x7fffffff;
  image.replace(at + 8, 4, reinterpret_cast<const char*>(&lie), 4);
  const Chunked c = ReadChunked(WriteFile(dir, "lie.pcap", image), size_t{1} << 20);
  EXPECT_EQ(c.seen.size(), 20u);
  ASSERT_FALSE(c.error.ok());
  EXPECT_NE(c.error.message().find("bigger than maximum"), absl::string_view::npos) << c.error;
}

// PcapSource::ReadFrames: frame batches over several files, filtered, with the files' own
// link types; the same frames as Dispatch delivers.
TEST(ClassicPcapReaderTest, PcapSourceReadsFrameBatchesLikeDispatch) {
  testing::TempDir dir;
  const std::string a = WriteFile(dir, "a.pcap", PcapImage(UdpAndArp(), false, false, 65535));
  const std::string b = WriteFile(dir, "b.pcap", PcapImage(SomePcapRecords(3000), true, true, 65535));
  for (const std::string filter : {"", "udp"}) {
    SCOPED_TRACE(filter);
    absl::StatusOr<std::unique_ptr<PcapSource>> by_dispatch =
        PcapSource::OpenOffline({a, b, a}, filter);
    ASSERT_TRUE(by_dispatch.ok()) << by_dispatch.status();
    std::vector<Seen> want;
    for (;;) {
      absl::StatusOr<int> n = (*by_dispatch)->Dispatch(100, [&](const RawPacket& p) {
        want.push_back(Seen{p.caplen, p.wire_len, p.time_us,
                            std::string(reinterpret_cast<const char*>(p.data), p.caplen)});
      });
      if (!n.ok()) {
        ASSERT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
        break;
      }
    }
    absl::StatusOr<std::unique_ptr<PcapSource>> by_batch = PcapSource::OpenOffline({a, b, a}, filter);
    ASSERT_TRUE(by_batch.ok());
    ASSERT_TRUE((*by_batch)->ReadsFrameBatches());
    FrameBatch batch(ClassicPcapReader::kMinChunkBytes);
    std::vector<Seen> got;
    for (;;) {
      absl::StatusOr<size_t> n = (*by_batch)->ReadFrames(batch);
      if (!n.ok()) {
        ASSERT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
        break;
      }
      ASSERT_EQ(*n, batch.frames.size());
      EXPECT_EQ(batch.link, LinkType::kEthernet);
      for (const FrameRef& f : batch.frames) {
        ASSERT_LE(f.offset + f.caplen, batch.capacity);
        got.push_back(Seen{f.caplen, f.wire_len, f.time_us,
                           std::string(reinterpret_cast<const char*>(batch.bytes.get() + f.offset),
                                       f.caplen)});
      }
    }
    EXPECT_GT(want.size(), filter.empty() ? 3000u : 2u);
    EXPECT_TRUE(got == want) << got.size() << " frames, want " << want.size();
    EXPECT_EQ((*by_batch)->Stats().received, want.size());
  }
}

TEST(ClassicPcapReaderTest, ClipsCaptureLengthToSnaplenAsLibpcapDoes) {
  testing::TempDir dir;
  const std::string path =
      WriteFile(dir, "snap.pcap", PcapImage(SomePcapRecords(20), false, false, 64));
  absl::StatusOr<std::vector<Seen>> classic = ReadClassic(path);
  ASSERT_TRUE(classic.ok()) << classic.status();
  const std::vector<Seen> ref = ReadWithLibpcap(path);
  ASSERT_EQ(classic->size(), 20u);
  EXPECT_TRUE(*classic == ref);
  for (const Seen& s : *classic) EXPECT_LE(s.caplen, 64u);
}

TEST(ClassicPcapReaderTest, TruncatedAndCorruptRecordsAreErrors) {
  testing::TempDir dir;
  const std::string whole = PcapImage(SomePcapRecords(5), false, false, 65535);
  // Cut inside the last record's data, then inside a record header.
  const std::string in_data = WriteFile(dir, "a.pcap", whole.substr(0, whole.size() - 3));
  absl::StatusOr<std::vector<Seen>> r = ReadClassic(in_data);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated dump file"), std::string::npos);
  EXPECT_NE(r.status().message().find("a.pcap"), std::string::npos);

  std::string header_cut = PcapImage(SomePcapRecords(2), false, false, 65535);
  header_cut += std::string(9, '\0');  // 9 bytes of a 16-byte record header
  r = ReadClassic(WriteFile(dir, "b.pcap", header_cut));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("header bytes"), std::string::npos);

  std::string huge = PcapImage(SomePcapRecords(1), false, false, 65535);
  const uint32_t lie = 0x7fffffff;
  huge.replace(24 + 8, 4, reinterpret_cast<const char*>(&lie), 4);
  r = ReadClassic(WriteFile(dir, "c.pcap", huge));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bigger than maximum"), std::string::npos);
}

TEST(ClassicPcapReaderTest, LeavesOtherFilesToLibpcap) {
  testing::TempDir dir;
  // Header only: no packets, still taken (and at its end at once).
  absl::StatusOr<std::vector<Seen>> empty =
      ReadClassic(WriteFile(dir, "empty.pcap", PcapImage({}, false, false, 65535)));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  // pcapng, a short file and a FIFO are not taken.
  const std::string ng = WriteFile(dir, "x.pcapng", std::string("\x0a\x0d\x0d\x0a", 4) + std::string(40, '\0'));
  absl::StatusOr<std::unique_ptr<ClassicPcapReader>> r = ClassicPcapReader::OpenIfClassic(ng);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, nullptr);
  r = ClassicPcapReader::OpenIfClassic(WriteFile(dir, "short.pcap", "\xd4\xc3\xb2\xa1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, nullptr);
  // A FIFO must not even be opened (that would block until a writer comes, then hang up on it).
  const std::string fifo = dir.path() + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  r = ClassicPcapReader::OpenIfClassic(fifo);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, nullptr);
  r = ClassicPcapReader::OpenIfClassic(fifo + "-absent");
  EXPECT_FALSE(r.ok());  // a missing file is an error that names it
  EXPECT_NE(r.status().message().find("fifo-absent"), std::string::npos);
}

TEST(ClassicPcapReaderTest, PcapSourceFiltersOnTheClassicPath) {
  testing::TempDir dir;
  // IPv4/UDP, ARP, IPv4/UDP: "udp" must keep the first and the last.
  const std::string path = WriteFile(dir, "f.pcap", PcapImage(UdpAndArp(), true, false, 65535));
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({path}, "udp");
  ASSERT_TRUE(src.ok()) << src.status();
  int delivered = 0;
  for (int i = 0; i < 10; ++i) {
    absl::StatusOr<int> n = (*src)->Dispatch(256, [&](const RawPacket& p) {
      ++delivered;
      EXPECT_EQ(p.caplen, UdpAndArp()[0].data.size());
      EXPECT_EQ(p.time_us, TimeUs{1700000000} * 1000000 + 5);
    });
    if (!n.ok()) {
      EXPECT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
      break;
    }
  }
  EXPECT_EQ(delivered, 2);
}

}  // namespace
}  // namespace nf
