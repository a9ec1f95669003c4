// Test helper: decodes every UDP datagram of a capture file of export traffic in-process, with
// the capture's source address and port as the exporter and its packet time as receive time.
#ifndef NF_TESTS_COLLECTOR_DECODE_CAPTURE_H_
#define NF_TESTS_COLLECTOR_DECODE_CAPTURE_H_

#include <string>
#include <vector>

#include "collector/decode/decoder.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf::testing {

inline void DecodeCapture(const std::string& path, Decoder& decoder, RecordSink& sink) {
  std::string error;
  for (const auto& d : ReadUdpDatagrams(path, &error)) {
    auto addr = ParseIpAddress(d.src);
    EXPECT_TRUE(addr.ok()) << d.src;
    decoder.DecodeDatagram(d.payload, ExporterId{addr.ok() ? *addr : IpAddress{}, d.src_port},
                           d.time_us, sink);
  }
  EXPECT_TRUE(error.empty()) << path << ": " << error;
}

// Keeps a copy of every record.
class KeepRecords : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  std::vector<DecodedRecord> records;
};

// The records of a capture, decoded by `decoder`.
inline std::vector<DecodedRecord> DecodeCaptureRecords(const std::string& path,
                                                       Decoder& decoder) {
  KeepRecords sink;
  DecodeCapture(path, decoder, sink);
  return sink.records;
}

}  // namespace nf::testing

#endif  // NF_TESTS_COLLECTOR_DECODE_CAPTURE_H_
