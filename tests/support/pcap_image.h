// Byte-exact classic pcap images for the capture readers' tests: records with any caplen, wire
// length, byte order and timestamp precision (libpcap's writer only writes its own), written to
// a file as they are, so a reader can be compared with libpcap on the same bytes.
#ifndef NF_TESTS_SUPPORT_PCAP_IMAGE_H_
#define NF_TESTS_SUPPORT_PCAP_IMAGE_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf::testing {

// One record: `frac` is micro- or nanoseconds as the image's magic says; caplen is data.size().
struct PcapRecord {
  uint32_t sec;
  uint32_t frac;
  std::vector<uint8_t> data;
  uint32_t wire_len;
};

// Appends `v` in host byte order, or swapped.
inline void Put32(std::string& out, uint32_t v, bool swap) {
  if (swap) v = __builtin_bswap32(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}
inline void Put16(std::string& out, uint16_t v, bool swap) {
  if (swap) v = __builtin_bswap16(v);
  out.append(reinterpret_cast<const char*>(&v), 2);
}

// A classic pcap file image: `swap` writes the other byte order, `nano` the nanosecond magic.
inline std::string PcapImage(const std::vector<PcapRecord>& recs, bool swap, bool nano,
                             uint32_t snaplen, uint32_t linktype = 1) {
  std::string out;
  Put32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4, swap);
  Put16(out, 2, swap);
  Put16(out, 4, swap);
  Put32(out, 0, swap);
  Put32(out, 0, swap);
  Put32(out, snaplen, swap);
  Put32(out, linktype, swap);
  for (const PcapRecord& r : recs) {
    Put32(out, r.sec, swap);
    Put32(out, r.frac, swap);
    Put32(out, static_cast<uint32_t>(r.data.size()), swap);
    Put32(out, r.wire_len, swap);
    out.append(reinterpret_cast<const char*>(r.data.data()), r.data.size());
  }
  return out;
}

// `n` records of varied lengths and contents; wire lengths exceed some caplens.
inline std::vector<PcapRecord> SomePcapRecords(int n) {
  std::vector<PcapRecord> recs;
  for (int i = 0; i < n; ++i) {
    PcapRecord r;
    r.sec = 1700000000 + static_cast<uint32_t>(i);
    r.frac = static_cast<uint32_t>(i * 12345 % 1000000);
    r.data.resize(14 + static_cast<size_t>(i * 37 % 200));
    for (size_t j = 0; j < r.data.size(); ++j) r.data[j] = static_cast<uint8_t>(i + j);
    r.wire_len = static_cast<uint32_t>(r.data.size()) + static_cast<uint32_t>(i % 3) * 100;
    recs.push_back(r);
  }
  return recs;
}

// Writes `bytes` to `dir`/`name` and returns the path (a failure to open is a test failure).
inline std::string WriteFile(const TempDir& dir, const std::string& name,
                             const std::string& bytes) {
  const std::string path = dir.File(name);
  FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << path;
  if (f == nullptr) return path;
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
  return path;
}

}  // namespace nf::testing

#endif  // NF_TESTS_SUPPORT_PCAP_IMAGE_H_
