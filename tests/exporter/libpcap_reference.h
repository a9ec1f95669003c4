// What libpcap reads from a capture file, packet by packet: the reference our own pcap readers
// (classic and zstd-compressed) are held to in their tests; and the frames their filter tests
// share.
#ifndef NF_TESTS_EXPORTER_LIBPCAP_REFERENCE_H_
#define NF_TESTS_EXPORTER_LIBPCAP_REFERENCE_H_

#include <pcap/pcap.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/time_format.h"
#include "gtest/gtest.h"
#include "tests/support/pcap_image.h"

namespace nf::testing {

struct Seen {
  uint32_t caplen;
  uint32_t wire_len;
  TimeUs time_us;
  std::string data;
  bool operator==(const Seen&) const = default;
};

// Every packet of `path` as libpcap reads it (microsecond timestamps; a wire length below the
// capture length reads as the capture length, as our readers report it).
inline std::vector<Seen> ReadWithLibpcap(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO,
                                                      err);
  EXPECT_NE(p, nullptr) << err;
  std::vector<Seen> out;
  if (p == nullptr) return out;
  pcap_pkthdr* h;
  const u_char* d;
  while (pcap_next_ex(p, &h, &d) == 1) {
    out.push_back(Seen{h->caplen, h->len < h->caplen ? h->caplen : h->len,
                       TimeUs{h->ts.tv_sec} * 1000000 + h->ts.tv_usec,
                       std::string(reinterpret_cast<const char*>(d), h->caplen)});
  }
  pcap_close(p);
  return out;
}

// Three Ethernet frames: IPv4/UDP, ARP, IPv4/UDP ("udp" keeps the first and the last).
inline std::vector<PcapRecord> UdpAndArp() {
  PcapRecord udp;
  udp.sec = 1700000000;
  udp.frac = 5;
  udp.data = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,  // Ethernet, IPv4
              0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
              0x04, 0x00, 0x08, 0x01, 0, 8, 0, 0};
  udp.wire_len = static_cast<uint32_t>(udp.data.size());
  PcapRecord arp = udp;
  arp.data[12] = 0x08;
  arp.data[13] = 0x06;
  return {udp, arp, udp};
}

}  // namespace nf::testing

#endif  // NF_TESTS_EXPORTER_LIBPCAP_REFERENCE_H_
