// The NetFlow v5 wire format: a 24-byte header and fixed 48-byte IPv4 records. Shared by the v5
// encoder and the collector's decoder. Header decoding is inline: the decoder reads one per
// datagram and the record offsets once per record.
#ifndef NF_WIRE_V5_H_
#define NF_WIRE_V5_H_

#include <cstddef>
#include <cstdint>

#include "common/byte_reader.h"

namespace nf {

inline constexpr uint16_t kNetflowV5Version = 5;
inline constexpr size_t kV5HeaderBytes = 24;
inline constexpr size_t kV5RecordBytes = 48;
// Cisco's limit per datagram (24 + 30 * 48 = 1464 bytes fits a 1500-byte MTU).
inline constexpr size_t kV5MaxRecords = 30;
// The header's sampling interval has 14 bits.
inline constexpr uint32_t kV5MaxSamplingInterval = 0x3FFF;

struct V5Header {
  uint16_t version = kNetflowV5Version;
  uint16_t count = 0;  // records in the datagram
  uint32_t sys_uptime_ms = 0;
  uint32_t unix_secs = 0;
  uint32_t unix_nsecs = 0;
  uint32_t sequence = 0;  // flows sent before this datagram
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  uint16_t sampling = 0;  // 2-bit mode, 14-bit interval (kV5MaxSamplingInterval)

  // engine_type and engine_id together: the v5 stand-in for a v9 source ID.
  uint32_t source_id() const { return (uint32_t{engine_type} << 8) | engine_id; }
  uint32_t sampling_interval() const { return sampling & kV5MaxSamplingInterval; }

  // Reads the header from `p`, which must hold kV5HeaderBytes (the caller checks the size).
  static V5Header Decode(const uint8_t* p) {
    V5Header h;
    h.version = ByteReader::LoadBe16(p);
    h.count = ByteReader::LoadBe16(p + 2);
    h.sys_uptime_ms = ByteReader::LoadBe32(p + 4);
    h.unix_secs = ByteReader::LoadBe32(p + 8);
    h.unix_nsecs = ByteReader::LoadBe32(p + 12);
    h.sequence = ByteReader::LoadBe32(p + 16);
    h.engine_type = p[20];
    h.engine_id = p[21];
    h.sampling = ByteReader::LoadBe16(p + 22);
    return h;
  }
};

// Byte offsets of the fields of one 48-byte record (multi-byte fields big-endian).
namespace v5_record {
inline constexpr size_t kSrcAddr = 0;   // 4 bytes
inline constexpr size_t kDstAddr = 4;   // 4
inline constexpr size_t kNextHop = 8;   // 4
inline constexpr size_t kInputIf = 12;  // 2
inline constexpr size_t kOutputIf = 14;  // 2
inline constexpr size_t kPackets = 16;  // 4
inline constexpr size_t kBytes = 20;    // 4
inline constexpr size_t kFirst = 24;    // 4, sysUptime ms
inline constexpr size_t kLast = 28;     // 4, sysUptime ms
inline constexpr size_t kSrcPort = 32;  // 2
inline constexpr size_t kDstPort = 34;  // 2
inline constexpr size_t kTcpFlags = 37;  // 1 (36 is padding)
inline constexpr size_t kProtocol = 38;  // 1
inline constexpr size_t kTos = 39;      // 1
inline constexpr size_t kSrcAs = 40;    // 2
inline constexpr size_t kDstAs = 42;    // 2
inline constexpr size_t kSrcMask = 44;  // 1
inline constexpr size_t kDstMask = 45;  // 1 (46-47 are padding)
}  // namespace v5_record

}  // namespace nf

#endif  // NF_WIRE_V5_H_
