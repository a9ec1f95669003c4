// Builds libFuzzer seed corpora from captures: for the packet parser, frames prefixed by their
// link-type selector; for the decoder, each capture's UDP payloads as one length-prefixed
// datagram sequence (the decoder target's input format); for sflow, the sFlow v5 payloads
// (first word 5) the same way, without that word, which the sflow target adds back.
//
//   nf-fuzz-seeds OUT_DIR CAPTURE...   writes OUT_DIR/{packet_parser,decoder,sflow}/*
#include <pcap/pcap.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "capture/packet_parser.h"

namespace {

// Index in the parser target's link table.
int Selector(nf::LinkType link) {
  switch (link) {
    case nf::LinkType::kEthernet: return 0;
    case nf::LinkType::kLinuxSll: return 1;
    case nf::LinkType::kLinuxSll2: return 2;
    case nf::LinkType::kRawIp: return 3;
    case nf::LinkType::kRawIpv4: return 4;
    case nf::LinkType::kRawIpv6: return 5;
    case nf::LinkType::kNull: return 6;
    case nf::LinkType::kLoop: return 7;
    case nf::LinkType::kNflog: return 8;
  }
  return 0;
}

void Write(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR CAPTURE...\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out / "packet_parser");
  std::filesystem::create_directories(out / "decoder");
  std::filesystem::create_directories(out / "sflow");
  size_t frames = 0, sequences = 0, sflow_sequences = 0;
  for (int i = 2; i < argc; ++i) {
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(argv[i], errbuf);
    if (p == nullptr) {
      std::fprintf(stderr, "%s: %s\n", argv[i], errbuf);
      continue;
    }
    auto link = nf::LinkTypeFromDlt(pcap_datalink(p));
    if (!link.ok()) {
      pcap_close(p);
      continue;
    }
    const std::string stem = std::filesystem::path(argv[i]).stem().string() + "-" + std::to_string(i);
    std::vector<uint8_t> sequence;
    std::vector<uint8_t> sflow;
    pcap_pkthdr* h;
    const u_char* data;
    int n = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
      // A few frames per capture are enough variety for the parser.
      if (n < 16) {
        // Sized up front and copied: GCC 12 at -O3 reports a false -Warray-bounds on an
        // insert after a one-element initializer list.
        std::vector<uint8_t> seed(size_t{h->caplen} + 1);
        seed[0] = static_cast<uint8_t>(Selector(*link));
        if (h->caplen > 0) std::memcpy(seed.data() + 1, data, h->caplen);
        Write(out / "packet_parser" / (stem + "-" + std::to_string(n)), seed);
        ++frames;
      }
      ++n;
      nf::PacketMeta meta;
      if (nf::ParsePacket(data, h->caplen, h->len, *link, meta) != nf::ParseResult::kOk) continue;
      if (meta.protocol != 17 || meta.payload_offset == 0) continue;
      size_t end = std::min<size_t>(h->caplen, size_t{meta.payload_offset} + meta.payload_length);
      if (end <= meta.payload_offset || sequence.size() > 60000) continue;
      size_t len = end - meta.payload_offset;
      sequence.push_back(static_cast<uint8_t>(len >> 8));
      sequence.push_back(static_cast<uint8_t>(len));
      sequence.push_back(static_cast<uint8_t>(meta.src.bytes[3]));
      sequence.insert(sequence.end(), data + meta.payload_offset, data + end);
      const u_char* payload = data + meta.payload_offset;
      if (len >= 4 && payload[0] == 0 && payload[1] == 0 && payload[2] == 0 && payload[3] == 5) {
        sflow.push_back(static_cast<uint8_t>((len - 4) >> 8));
        sflow.push_back(static_cast<uint8_t>(len - 4));
        sflow.push_back(static_cast<uint8_t>(meta.src.bytes[3]));
        sflow.insert(sflow.end(), payload + 4, data + end);
      }
    }
    pcap_close(p);
    if (!sequence.empty()) {
      Write(out / "decoder" / stem, sequence);
      ++sequences;
    }
    if (!sflow.empty()) {
      Write(out / "sflow" / stem, sflow);
      ++sflow_sequences;
    }
  }
  std::printf("wrote %zu parser seeds, %zu decoder seeds and %zu sflow seeds to %s\n", frames,
              sequences, sflow_sequences, out.c_str());
  return 0;
}
