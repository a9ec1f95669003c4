#include "tests/e2e/capture_tally.h"

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <algorithm>

namespace nf::testing {
namespace {

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

std::string AddressText(int family, const uint8_t* p) {
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, p, text, sizeof(text));
  return text;
}

bool Ipv4ChecksumOk(const uint8_t* ip, size_t header_len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < header_len; i += 2) sum += Be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

}  // namespace

TallyKey KeyOf(const trafgen::FlowTruth& t) {
  TallyKey k;
  k.ip_version = t.ip_version;
  k.protocol = t.protocol;
  k.src = t.src.ToString();
  k.dst = t.dst.ToString();
  k.src_port = t.src_port;
  k.dst_port = t.dst_port;
  k.tos = t.tos;
  k.vlan = t.vlan;
  return k;
}

bool TallyCapture(const std::string& path, CaptureTally* tally, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
  if (p == nullptr) {
    if (error) *error = errbuf;
    return false;
  }
  *tally = CaptureTally();
  tally->link_type = pcap_datalink(p);
  tally->file_snaplen = static_cast<uint32_t>(pcap_snapshot(p));
  pcap_pkthdr* h;
  const u_char* data;
  int64_t previous_us = INT64_MIN;
  int rc;
  while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
    ++tally->packets;
    tally->max_caplen = std::max(tally->max_caplen, h->caplen);
    if (h->caplen < h->len) ++tally->truncated;
    const int64_t ts = int64_t{h->ts.tv_sec} * 1000000 + h->ts.tv_usec;
    if (ts < previous_us) ++tally->out_of_order;
    previous_us = ts;
    const size_t caplen = h->caplen;
    if (tally->link_type != DLT_EN10MB || caplen < 14) {
      ++tally->unparsed;
      continue;
    }
    TallyKey key;
    size_t off = 14;
    uint16_t ethertype = Be16(data + 12);
    if (ethertype == 0x8100) {
      if (caplen < 18) {
        ++tally->unparsed;
        continue;
      }
      key.vlan = Be16(data + 14) & 0x0fff;
      ethertype = Be16(data + 16);
      off = 18;
      ++tally->vlan_packets;
    }
    const uint8_t* ip = data + off;
    uint32_t l3_len = 0;
    size_t l4_off = 0;
    if (ethertype == 0x0800 && caplen >= off + 20) {
      const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
      if ((ip[0] >> 4) != 4 || ihl < 20 || caplen < off + ihl) {
        ++tally->unparsed;
        continue;
      }
      key.ip_version = 4;
      key.tos = ip[1];
      key.protocol = ip[9];
      l3_len = Be16(ip + 2);
      key.src = AddressText(AF_INET, ip + 12);
      key.dst = AddressText(AF_INET, ip + 16);
      if (!Ipv4ChecksumOk(ip, ihl)) ++tally->bad_ipv4_checksum;
      l4_off = off + ihl;
      ++tally->ipv4_packets;
    } else if (ethertype == 0x86dd && caplen >= off + 40) {
      key.ip_version = 6;
      key.tos = static_cast<uint8_t>(((ip[0] & 0x0f) << 4) | (ip[1] >> 4));
      key.protocol = ip[6];
      l3_len = 40u + Be16(ip + 4);
      key.src = AddressText(AF_INET6, ip + 8);
      key.dst = AddressText(AF_INET6, ip + 24);
      l4_off = off + 40;
      ++tally->ipv6_packets;
    } else {
      ++tally->unparsed;
      continue;
    }
    // The frame (before any snaplen cut) holds exactly the IP packet, padded to the 60-byte
    // Ethernet minimum.
    if (h->len != std::max<size_t>(off + l3_len, 60)) ++tally->bad_lengths;
    const uint8_t* l4 = data + l4_off;
    uint8_t flags = 0;
    if (key.protocol == 6 || key.protocol == 17) {
      if (caplen < l4_off + (key.protocol == 6 ? 14 : 4)) {
        ++tally->unparsed;
        continue;
      }
      key.src_port = Be16(l4);
      key.dst_port = Be16(l4 + 2);
      if (key.protocol == 6) flags = l4[13];
    } else if (key.protocol == 1 || key.protocol == 58) {
      if (caplen < l4_off + 2) {
        ++tally->unparsed;
        continue;
      }
      key.dst_port = static_cast<uint16_t>(l4[0] * 256 + l4[1]);
    }
    FlowTally& f = tally->flows[key];
    if (f.packets == 0) f.first_us = ts;
    f.last_us = ts;
    ++f.packets;
    f.bytes += l3_len;
    f.tcp_flags |= flags;
    f.fin_on_last = (flags & 0x01) != 0;
    if (flags & 0x01) ++f.fin_packets;
    tally->l3_bytes += l3_len;
  }
  if (rc == PCAP_ERROR) tally->read_error = pcap_geterr(p);
  pcap_close(p);
  return true;
}

}  // namespace nf::testing
