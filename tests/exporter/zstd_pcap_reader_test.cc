// Tests of the zstd-compressed classic pcap reader: every packet of the repository's and the
// shared corpus's captures, compressed here as one frame and as many (with buffers small enough
// that records straddle every refill), equals what ClassicPcapReader reads from the plain file;
// both byte orders and precisions against libpcap; truncated and corrupt streams are errors
// naming the file; files that are not zstd are left alone; and PcapSource reads zstd files
// (filters, progress, mixed with plain files).
#include "capture/zstd_pcap_reader.h"

#include <pcap/pcap.h>
#include <sys/stat.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "capture/classic_pcap_reader.h"
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
using testing::Put32;
using testing::SomePcapRecords;
using testing::WriteFile;

// ---- building files --------------------------------------------------------------------------

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// One zstd frame holding all of `plain`, with a content checksum (as `zstd` writes by default).
std::string Compress(const std::string& plain, int level = 1) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(plain.size()), '\0');
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), plain.data(), plain.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

// A skippable frame (which zstd readers must pass over), as some writers add for metadata.
std::string SkippableFrame(const std::string& payload) {
  std::string out;
  Put32(out, 0x184d2a5b, false);
  Put32(out, static_cast<uint32_t>(payload.size()), false);
  return out + payload;
}

// Concatenated frames of `chunk` plain bytes each, cut without regard to records, as a writer
// that ends a frame at every flush produces; a skippable frame after the first.
std::string CompressFrames(const std::string& plain, size_t chunk,
                           std::vector<size_t>* frame_ends = nullptr) {
  std::string out;
  for (size_t off = 0; off < plain.size(); off += chunk) {
    out += Compress(plain.substr(off, chunk));
    if (off == 0) out += SkippableFrame("flowtools test");
    if (frame_ends != nullptr) frame_ends->push_back(out.size());
  }
  return out;
}

// ---- reading files ---------------------------------------------------------------------------

struct ReadResult {
  std::vector<Seen> packets;
  absl::Status status;  // how reading ended: OK at the end of the file
};

template <typename Reader>
ReadResult ReadEvery(Reader& r) {
  ReadResult out;
  PcapPacket pkt;
  for (;;) {
    absl::StatusOr<bool> more = r.Next(pkt);
    if (!more.ok()) {
      out.status = more.status();
      return out;
    }
    if (!*more) return out;
    out.packets.push_back(Seen{pkt.caplen, pkt.wire_len, pkt.time_us,
                               std::string(reinterpret_cast<const char*>(pkt.data), pkt.caplen)});
  }
}

absl::StatusOr<ReadResult> ReadZstd(const std::string& path,
                                    const ZstdPcapReader::Options& options = {}) {
  absl::StatusOr<std::unique_ptr<ZstdPcapReader>> r = ZstdPcapReader::OpenIfZstd(path, options);
  if (!r.ok()) return r.status();
  if (*r == nullptr) return absl::NotFoundError("not taken");
  ReadResult out = ReadEvery(**r);
  // Reading after the end (or after an error) gives the same answer again.
  PcapPacket pkt;
  absl::StatusOr<bool> again = (*r)->Next(pkt);
  if (out.status.ok()) {
    EXPECT_TRUE(again.ok() && !*again);
    EXPECT_EQ((*r)->offset(), (*r)->size()) << path;  // the whole file was consumed
  } else {
    EXPECT_EQ(again.status(), out.status);
  }
  return out;
}

// Buffer sizes from tiny (every record straddles refills, and the output buffer must grow for
// large ones) to the defaults.
std::vector<ZstdPcapReader::Options> BufferSizes() {
  std::vector<ZstdPcapReader::Options> sizes;
  sizes.push_back({});
  sizes.push_back({.input_buffer_bytes = 4096, .output_buffer_bytes = 3001});
  sizes.push_back({.input_buffer_bytes = 7, .output_buffer_bytes = 40});
  return sizes;
}

// Reads `plain_path` with ClassicPcapReader and its zstd versions (one frame, many frames) with
// every buffer size; the packets and the way reading ends must agree.
void ExpectSameAsClassic(const testing::TempDir& dir, const std::string& plain_path,
                        bool small_buffers) {
  absl::StatusOr<std::unique_ptr<ClassicPcapReader>> classic =
      ClassicPcapReader::OpenIfClassic(plain_path);
  ASSERT_TRUE(classic.ok()) << classic.status();
  ASSERT_NE(*classic, nullptr) << plain_path;
  const ReadResult ref = ReadEvery(**classic);
  const std::string plain = ReadAll(plain_path);
  const std::string one = WriteFile(dir, "one.pcap.zst", Compress(plain));
  const std::string many = WriteFile(dir, "many.pcap.zst", CompressFrames(plain, 1000));
  for (const std::string& z : {one, many}) {
    for (const ZstdPcapReader::Options& o : BufferSizes()) {
      if (!small_buffers && o.output_buffer_bytes < 4096) continue;
      SCOPED_TRACE(plain_path + " as " + z + " buffers " + std::to_string(o.input_buffer_bytes) +
                   "/" + std::to_string(o.output_buffer_bytes));
      absl::StatusOr<ReadResult> got = ReadZstd(z, o);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->packets.size(), ref.packets.size());
      EXPECT_TRUE(got->packets == ref.packets);
      // Malformed corpus files fail the same way, with the same message.
      EXPECT_EQ(got->status.code(), ref.status.code()) << got->status << " vs " << ref.status;
      EXPECT_EQ(absl::StrReplaceAll(got->status.message(), {{z, "F"}}),
                absl::StrReplaceAll(ref.status.message(), {{plain_path, "F"}}));
    }
  }
}

// ---- tests -----------------------------------------------------------------------------------

TEST(ZstdPcapReaderTest, AgreesWithLibpcapInEveryByteOrderAndPrecision) {
  testing::TempDir dir;
  const std::vector<PcapRecord> recs = SomePcapRecords(300);
  for (bool swap : {false, true}) {
    for (bool nano : {false, true}) {
      SCOPED_TRACE(std::string("swap ") + (swap ? "1" : "0") + " nano " + (nano ? "1" : "0"));
      std::vector<PcapRecord> r = recs;
      if (nano) {
        for (PcapRecord& x : r) x.frac = x.frac * 1000 + 999;  // sub-microsecond part is dropped
      }
      const std::string image = PcapImage(r, swap, nano, 65535);
      const std::vector<Seen> ref = ReadWithLibpcap(WriteFile(dir, "f.pcap", image));
      ASSERT_EQ(ref.size(), recs.size());
      for (const std::string& z : {Compress(image), CompressFrames(image, 777)}) {
        for (const ZstdPcapReader::Options& o : BufferSizes()) {
          const std::string path = WriteFile(dir, "f.pcap.zst", z);
          absl::StatusOr<std::unique_ptr<ZstdPcapReader>> reader =
              ZstdPcapReader::OpenIfZstd(path, o);
          ASSERT_TRUE(reader.ok()) << reader.status();
          ASSERT_NE(*reader, nullptr);
          EXPECT_EQ((*reader)->link_type(), 1u);
          EXPECT_EQ((*reader)->snaplen(), 65535u);
          const ReadResult got = ReadEvery(**reader);
          ASSERT_TRUE(got.status.ok()) << got.status;
          EXPECT_TRUE(got.packets == ref);
        }
      }
    }
  }
}

TEST(ZstdPcapReaderTest, ClipsToSnaplenAndTakesTheLargestRecord) {
  testing::TempDir dir;
  std::vector<PcapRecord> recs = SomePcapRecords(20);
  PcapRecord big = recs[0];
  big.data.assign(262144, 0xab);  // libpcap's maximum capture length: still valid
  big.wire_len = 262144;
  recs.insert(recs.begin() + 5, big);
  for (uint32_t snaplen : {64u, 0u}) {  // 0: no limit, as libpcap reads it
    const std::string image = PcapImage(recs, false, false, snaplen);
    const std::vector<Seen> ref = ReadWithLibpcap(WriteFile(dir, "snap.pcap", image));
    ASSERT_EQ(ref.size(), recs.size());
    const std::string path = WriteFile(dir, "snap.pcap.zst", Compress(image));
    for (const ZstdPcapReader::Options& o : BufferSizes()) {
      absl::StatusOr<ReadResult> got = ReadZstd(path, o);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(got->status.ok()) << got->status;
      EXPECT_TRUE(got->packets == ref) << "snaplen " << snaplen;
    }
  }
}

TEST(ZstdPcapReaderTest, SameAsMappedReaderOnTheRepositoryCapture) {
  testing::TempDir dir;
  ExpectSameAsClassic(dir, std::string(NF_SOURCE_DIR) + "/pcaps/demo.pcap", /*small_buffers=*/true);
}

TEST(ZstdPcapReaderTest, SameAsMappedReaderOnTheTrafficCorpus) {
  NF_REQUIRE_CORPUS();
  testing::TempDir dir;
  int files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(testing::CorpusDir() + "/traffic")) {
    if (!entry.is_regular_file()) continue;
    absl::StatusOr<std::unique_ptr<ClassicPcapReader>> classic =
        ClassicPcapReader::OpenIfClassic(entry.path());
    if (!classic.ok() || *classic == nullptr) continue;  // pcapng and the like
    // The tiny buffers cost a decompression call per few bytes: keep them to smaller files.
    ExpectSameAsClassic(dir, entry.path(), /*small_buffers=*/entry.file_size() < (256 << 10));
    ++files;
  }
  EXPECT_GT(files, 100);
}

TEST(ZstdPcapReaderTest, TruncatedStreamsAreErrorsNamingTheFile) {
  testing::TempDir dir;
  const std::string image = PcapImage(SomePcapRecords(400), false, false, 65535);
  const std::string one = Compress(image);
  // Cut anywhere inside the single frame (after the pcap header's block is whole or not).
  for (size_t cut : {size_t{6}, size_t{20}, one.size() / 2, one.size() - 5, one.size() - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    const std::string path = WriteFile(dir, "cut.pcap.zst", one.substr(0, cut));
    absl::StatusOr<ReadResult> got = ReadZstd(path);
    const absl::Status st = got.ok() ? got->status : got.status();
    ASSERT_FALSE(st.ok());
    EXPECT_TRUE(absl::IsDataLoss(st)) << st;
    EXPECT_NE(st.message().find("truncated zstd stream"), std::string::npos) << st;
    EXPECT_NE(st.message().find(path), std::string::npos) << st;
  }
  // Cut between two frames: the zstd stream is whole, the pcap record inside is not.
  std::vector<size_t> ends;
  const std::string many = CompressFrames(image, 1000, &ends);
  ASSERT_GT(ends.size(), 3u);
  const std::string path = WriteFile(dir, "frames.pcap.zst", many.substr(0, ends[2]));
  absl::StatusOr<ReadResult> got = ReadZstd(path);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_FALSE(got->status.ok());
  EXPECT_NE(got->status.message().find("truncated dump file"), std::string::npos) << got->status;
  EXPECT_NE(got->status.message().find(path), std::string::npos);
  EXPECT_FALSE(got->packets.empty());  // what came before the cut was delivered
}

TEST(ZstdPcapReaderTest, CorruptStreamsAreErrorsNotCrashes) {
  testing::TempDir dir;
  const std::string image = PcapImage(SomePcapRecords(200), true, false, 65535);
  const std::vector<Seen> ref = ReadWithLibpcap(WriteFile(dir, "ok.pcap", image));
  for (const std::string& z : {Compress(image, 3), CompressFrames(image, 2000)}) {
    // Every byte after the magic, one at a time. The content checksum catches what decodes.
    for (size_t at = 4; at < z.size(); at += (at < 64 ? 1 : 13)) {
      std::string bad = z;
      bad[at] = static_cast<char>(bad[at] ^ 0x5a);
      const std::string path = WriteFile(dir, "bad.pcap.zst", bad);
      absl::StatusOr<ReadResult> got = ReadZstd(path, {.input_buffer_bytes = 512,
                                                       .output_buffer_bytes = 1000});
      const absl::Status st = got.ok() ? got->status : got.status();
      if (st.ok()) {
        // A flip that changes nothing decoded (the skippable frame's payload, a few entropy
        // table bits): the packets must be the right ones.
        EXPECT_TRUE(got->packets == ref) << "flip at " << at;
        continue;
      }
      EXPECT_NE(st.message().find(path), std::string::npos) << st;
    }
  }
  // Trailing bytes that are not a frame.
  const std::string path = WriteFile(dir, "tail.pcap.zst", Compress(image) + "garbage!");
  absl::StatusOr<ReadResult> got = ReadZstd(path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(got->status.message().find("corrupt zstd stream"), std::string::npos) << got->status;
  EXPECT_NE(got->status.message().find(path), std::string::npos);
}

TEST(ZstdPcapReaderTest, CorruptRecordsAreErrorsAsInTheMappedReader) {
  testing::TempDir dir;
  std::string huge = PcapImage(SomePcapRecords(3), false, false, 65535);
  const uint32_t lie = 262145;
  huge.replace(24 + 8, 4, reinterpret_cast<const char*>(&lie), 4);
  absl::StatusOr<ReadResult> got = ReadZstd(WriteFile(dir, "c.pcap.zst", Compress(huge)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_NE(got->status.message().find("invalid packet capture length 262145, bigger than maximum"),
            std::string::npos)
      << got->status;

  std::string header_cut =
      PcapImage(SomePcapRecords(2), false, false, 65535) + std::string(9, '\0');
  got = ReadZstd(WriteFile(dir, "b.pcap.zst", Compress(header_cut)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->packets.size(), 2u);
  EXPECT_NE(got->status.message().find("tried to read 16 header bytes, only got 9"),
            std::string::npos)
      << got->status;
}

TEST(ZstdPcapReaderTest, OpensOnlyZstdAndRefusesWhatIsNotAClassicPcap) {
  testing::TempDir dir;
  const std::string image = PcapImage(SomePcapRecords(3), false, false, 65535);
  // Not zstd (whatever the name): left to the other readers, not an error.
  for (const std::string& path :
       {WriteFile(dir, "plain.pcap.zst", image), WriteFile(dir, "short.zst", "\x28\xb5"),
        WriteFile(dir, "empty.zst", ""), dir.File("absent.pcap.zst")}) {
    absl::StatusOr<std::unique_ptr<ZstdPcapReader>> r = ZstdPcapReader::OpenIfZstd(path);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(*r, nullptr) << path;
  }
  const std::string fifo = dir.File("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  absl::StatusOr<std::unique_ptr<ZstdPcapReader>> r = ZstdPcapReader::OpenIfZstd(fifo);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, nullptr);  // and it did not block

  // A zstd file without a name hinting at it is still taken.
  r = ZstdPcapReader::OpenIfZstd(WriteFile(dir, "capture", Compress(image)));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(*r, nullptr);

  // zstd, but not a classic pcap inside: errors that say why and name the file.
  const struct {
    std::string name;
    std::string plain;
    std::string why;
  } cases[] = {
      {"ng.pcapng.zst", std::string("\x0a\x0d\x0d\x0a", 4) + std::string(40, '\0'), "pcapng"},
      {"text.zst", "this is not a capture file at all", "not a classic pcap"},
      {"tiny.zst", "\xd4\xc3\xb2\xa1", "too short"},
      {"nothing.zst", "", "too short"},
      {"version.zst", image.substr(0, 4) + std::string("\x09\x00", 2) + image.substr(6),
       "unsupported pcap savefile version 9.4"},
  };
  for (const auto& c : cases) {
    const std::string path = WriteFile(dir, c.name, Compress(c.plain));
    r = ZstdPcapReader::OpenIfZstd(path);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
    EXPECT_NE(r.status().message().find(c.why), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << r.status();
  }
  // A stream broken before the header is whole fails at open.
  const std::string z = Compress(image);
  r = ZstdPcapReader::OpenIfZstd(WriteFile(dir, "hdrcut.zst", z.substr(0, 8)));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated zstd stream"), std::string::npos) << r.status();
}

// Every packet PcapSource delivers for `files` with `filter`, checking BytesRead on the way.
absl::StatusOr<std::vector<Seen>> ReadSource(const std::vector<std::string>& files,
                                             const std::string& filter,
                                             LinkType* link = nullptr) {
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline(files, filter);
  if (!src.ok()) return src.status();
  std::vector<Seen> out;
  uint64_t last = 0;
  for (;;) {
    absl::StatusOr<int> n = (*src)->Dispatch(64, [&](const RawPacket& p) {
      out.push_back(Seen{p.caplen, p.wire_len, p.time_us,
                         std::string(reinterpret_cast<const char*>(p.data), p.caplen)});
      if (link != nullptr) *link = p.link;
    });
    EXPECT_GE((*src)->BytesRead(), last);  // progress only moves forward
    last = (*src)->BytesRead();
    if (!n.ok()) {
      if (!absl::IsOutOfRange(n.status())) return n.status();
      break;
    }
  }
  uint64_t total = 0;
  for (const std::string& f : files) total += std::filesystem::file_size(f);
  EXPECT_EQ(last, total);  // the compressed size for zstd files: what progress divides by
  return out;
}

TEST(ZstdPcapReaderTest, PcapSourceReadsAndFiltersZstdFiles) {
  testing::TempDir dir;
  const std::string image = PcapImage(UdpAndArp(), true, false, 65535);
  const std::string plain = WriteFile(dir, "f.pcap", image);
  const std::string z = WriteFile(dir, "f.pcap.zst", CompressFrames(image, 50));
  absl::StatusOr<std::vector<Seen>> all = ReadSource({z}, "");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 3u);
  absl::StatusOr<std::vector<Seen>> udp = ReadSource({z}, "udp");
  ASSERT_TRUE(udp.ok()) << udp.status();
  ASSERT_EQ(udp->size(), 2u);
  EXPECT_EQ((*udp)[0].time_us, TimeUs{1700000000} * 1000000 + 5);
  EXPECT_EQ(*udp, *ReadSource({plain}, "udp"));
  // Mixed with plain files, in the order given.
  absl::StatusOr<std::vector<Seen>> mixed = ReadSource({plain, z, plain}, "arp");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_EQ(mixed->size(), 3u);
  // A bad filter fails at open, as for plain files.
  absl::StatusOr<std::vector<Seen>> bad = ReadSource({z}, "udp port nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  // A corrupt zstd file fails at read with its name.
  std::string broken = ReadAll(z);
  broken.resize(broken.size() - 3);
  const std::string cut = WriteFile(dir, "cut.pcap.zst", broken);
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({cut});
  ASSERT_TRUE(src.ok()) << src.status();
  absl::Status end;
  for (int i = 0; i < 10 && end.ok(); ++i) {
    end = (*src)->Dispatch(64, [](const RawPacket&) {}).status();
  }
  EXPECT_TRUE(absl::IsDataLoss(end)) << end;
  EXPECT_NE(end.message().find(cut), std::string::npos) << end;
}

TEST(ZstdPcapReaderTest, PcapSourceFiltersRawIpAndRefusesUnknownLinkTypes) {
  testing::TempDir dir;
  // LINKTYPE_RAW (101), as the flow store writes: the filter compiles for DLT_RAW.
  std::vector<PcapRecord> recs = UdpAndArp();
  for (PcapRecord& r : recs) r.data.erase(r.data.begin(), r.data.begin() + 14);
  recs[1].data[9] = 6;  // TCP instead of an ARP frame
  const std::string image = PcapImage(recs, false, true, 65535, 101);
  const std::string plain = WriteFile(dir, "raw.pcap", image);
  const std::string z = WriteFile(dir, "raw.pcap.zst", Compress(image));
  LinkType link = LinkType::kEthernet;
  absl::StatusOr<std::vector<Seen>> udp = ReadSource({z}, "udp", &link);
  ASSERT_TRUE(udp.ok()) << udp.status();
  EXPECT_EQ(udp->size(), 2u);
  EXPECT_EQ(link, LinkType::kRawIp);
  EXPECT_EQ(*udp, *ReadSource({plain}, "udp"));
  EXPECT_EQ(ReadSource({z}, "tcp")->size(), 1u);

  // LINKTYPE_USER0: not a link type flowexport reads, refused at open as for a plain file.
  const std::string odd =
      WriteFile(dir, "odd.pcap.zst", Compress(PcapImage(recs, false, false, 65535, 147)));
  absl::StatusOr<std::vector<Seen>> refused = ReadSource({odd}, "");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsUnimplemented(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find(odd), std::string::npos);
}

TEST(ZstdPcapReaderTest, PcapSourceFiltersACorpusCaptureAsForThePlainFile) {
  testing::TempDir dir;
  const std::string plain = std::string(NF_SOURCE_DIR) + "/pcaps/demo.pcap";
  const std::string z = WriteFile(dir, "demo.pcap.zst", CompressFrames(ReadAll(plain), 65536));
  for (const char* filter : {"", "tcp", "udp and port 53", "ip6"}) {
    absl::StatusOr<std::vector<Seen>> want = ReadSource({plain}, filter);
    absl::StatusOr<std::vector<Seen>> got = ReadSource({z}, filter);
    ASSERT_TRUE(want.ok() && got.ok()) << filter;
    EXPECT_EQ(got->size(), want->size()) << filter;
    EXPECT_TRUE(*got == *want) << filter;
  }
}

TEST(ZstdPcapReaderTest, PcapSourceOpensManyZstdFilesUpFront) {
  // A store query passes every file of its time range at once; each must be cheap until read.
  testing::TempDir dir;
  const std::string z = Compress(PcapImage(SomePcapRecords(50), false, false, 65535));
  std::vector<std::string> files;
  for (int i = 0; i < 300; ++i) {
    files.push_back(WriteFile(dir, "f" + std::to_string(i) + ".pcap.zst", z));
  }
  absl::StatusOr<std::vector<Seen>> got = ReadSource(files, "");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 300u * 50u);
}

}  // namespace
}  // namespace nf
