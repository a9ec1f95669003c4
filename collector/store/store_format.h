// The bytes of a flow store file (private to collector/store): classic pcap records of link
// type RAW, each a synthetic IPv4/IPv6 + UDP header around one export datagram, and the scan
// that finds where a file's whole records (or whole zstd frames) end, for files a crashed run
// or a full disk left cut short.
#ifndef NF_COLLECTOR_STORE_STORE_FORMAT_H_
#define NF_COLLECTOR_STORE_STORE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf::store_internal {

inline constexpr size_t kPcapFileHeaderSize = 24;
inline constexpr size_t kPcapRecordHeaderSize = 16;
inline constexpr uint32_t kPcapSnaplen = 65535;
inline constexpr uint32_t kLinktypeRaw = 101;
inline constexpr size_t kIpv4HeaderSize = 20;
inline constexpr size_t kIpv6HeaderSize = 40;
inline constexpr size_t kUdpHeaderSize = 8;
// Received datagrams carry TTL 64; the synthetic template datagrams 255 (IsTemplateReplay).
inline constexpr uint8_t kReceivedTtl = 64;
inline constexpr uint8_t kReplayTtl = 255;
// Destination ports tshark dissects as NetFlow (v5, v9) and IPFIX without a "decode as".
inline constexpr uint16_t kNetflowPort = 2055;
inline constexpr uint16_t kIpfixPort = 4739;
// The largest record: a header plus a packet of snaplen bytes.
inline constexpr size_t kMaxRecordSize = kPcapRecordHeaderSize + kPcapSnaplen;

// Writes the 24-byte pcap file header (microsecond timestamps, little-endian, LINKTYPE_RAW).
void EncodePcapFileHeader(uint8_t* out);
// Bytes of the record for a datagram of `payload_size` bytes from an IPv4 (or IPv6) source;
// 0 when the packet would exceed the snaplen (an IPv6 datagram of more than 65487 bytes).
size_t PcapRecordSize(size_t payload_size, bool ipv6);
// Writes the record (PcapRecordSize bytes) at `out`: timestamp `time_us`, source `source`
// (IPv4 or IPv6, already unmapped) and `source_port`, destination 0.0.0.0 / :: and the
// NetFlow or IPFIX port by the datagram's version field, TTL / hop limit `ttl`. The IPv4 header
// checksum is set and the UDP checksum is 0 (allowed for IPv4); for IPv6 the UDP checksum is
// computed, as IPv6 requires.
size_t EncodePcapRecord(std::span<const uint8_t> payload, const IpAddress& source,
                        uint16_t source_port, TimeUs time_us, uint8_t ttl, uint8_t* out);

// The whole records at the start of `data` (records only, no file header).
struct RecordScan {
  size_t end = 0;           // bytes of whole, well-formed records
  uint64_t datagrams = 0;   // received datagrams among them
  uint64_t replays = 0;     // synthetic template datagrams among them
};
RecordScan ScanPcapRecords(std::span<const uint8_t> data);

// What an existing store file (or temporary file) holds.
struct FileScan {
  bool valid = false;       // begins with our pcap file header (in its first zstd frame)
  uint64_t keep_bytes = 0;  // up to the end of the last whole record / whole zstd frame
  uint64_t datagrams = 0;   // received datagrams in the part kept
};
// Reads `path` (a zstd stream when `compressed`). Errors only when the file cannot be read.
absl::StatusOr<FileScan> ScanStoreFile(const std::string& path, bool compressed);

// Calls `fn` for every regular file under `directory`, depth first, folders in no particular
// order; symbolic links are not followed. A folder that vanishes meanwhile (retention) is
// skipped; any other folder that cannot be read is an error naming it.
absl::Status WalkFiles(const std::string& directory,
                       absl::FunctionRef<void(const std::string& path, absl::string_view name,
                                              uint64_t size)> fn);

}  // namespace nf::store_internal

#endif  // NF_COLLECTOR_STORE_STORE_FORMAT_H_
