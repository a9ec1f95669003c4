// A sample decoded record for the output tests (formatting, -A, the CSV sink): one exporter,
// fixed IDs and ports, times in 2024, the given addresses, protocol and counters.
#ifndef NF_TESTS_COLLECTOR_OUTPUT_TEST_RECORD_H_
#define NF_TESTS_COLLECTOR_OUTPUT_TEST_RECORD_H_

#include <cstdint>

#include "collector/decode/decoded_record.h"
#include "common/ip_address.h"

namespace nf::output_test {

inline DecodedRecord Rec(const char* src, const char* dst, uint8_t proto, uint64_t pkts,
                         uint64_t bytes, int64_t first_ms = 1'706'702'400'123) {
  DecodedRecord r;
  const uint8_t e[4] = {192, 0, 2, 1};
  r.exporter.address = IpAddress::V4(e);
  r.source_id = 7;
  r.template_id = 256;
  r.first_ms = first_ms;
  r.last_ms = first_ms + 1000;
  r.src_addr = *ParseIpAddress(src);
  r.dst_addr = *ParseIpAddress(dst);
  r.ip_version = r.src_addr.version;
  r.protocol = proto;
  r.src_port = 1234;
  r.dst_port = 80;
  r.packets = pkts;
  r.bytes = bytes;
  r.sampling = 1;
  return r;
}

}  // namespace nf::output_test

#endif  // NF_TESTS_COLLECTOR_OUTPUT_TEST_RECORD_H_
