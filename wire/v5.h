// The NetFlow v5 wire format: a 24-byte header and fixed 48-byte IPv4 records. Shared by the v5
// encoder and the collector's decoder.
#ifndef NF_WIRE_V5_H_
#define NF_WIRE_V5_H_

#include <cstddef>
#include <cstdint>

namespace nf {

inline constexpr uint16_t kNetflowV5Version = 5;
inline constexpr size_t kV5HeaderBytes = 24;
inline constexpr size_t kV5RecordBytes = 48;
// Cisco's limit per datagram (24 + 30 * 48 = 1464 bytes fits a 1500-byte MTU).
inline constexpr size_t kV5MaxRecords = 30;
// The header's sampling interval has 14 bits.
inline constexpr uint32_t kV5MaxSamplingInterval = 0x3FFF;

}  // namespace nf

#endif  // NF_WIRE_V5_H_
