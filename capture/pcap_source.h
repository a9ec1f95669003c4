// Packet capture through libpcap: offline files (pcap and pcapng, several in sequence) and
// live interfaces.
//
// The source hands out packets in batches as views: into libpcap's buffer for live capture, into
// a reused read buffer for classic pcap files (ClassicPcapReader), into a decompression buffer
// for zstd-compressed ones (ZstdPcapReader), so the per-packet path costs no allocation and no
// system call beyond one read() per MiB or libpcap's own. All set-up
// errors a user can cause (unreadable file, unsupported link type, no such interface, no
// permission, bad BPF filter) come back as absl::Status with one clear line naming the cause.
#ifndef NF_CAPTURE_PCAP_SOURCE_H_
#define NF_CAPTURE_PCAP_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "capture/classic_pcap_reader.h"
#include "capture/packet_parser.h"
#include "capture/pcapng_reader.h"
#include "capture/zstd_pcap_reader.h"

struct pcap;  // libpcap handle (pcap_t)

namespace nf {

// One captured frame: a view valid only during the handler call.
struct RawPacket {
  const uint8_t* data = nullptr;
  uint32_t caplen = 0;    // bytes present at `data`
  uint32_t wire_len = 0;  // original length on the wire
  TimeUs time_us = 0;     // capture timestamp (microseconds since the epoch)
  LinkType link = LinkType::kEthernet;
  // False for a pcapng interface whose link type flowexport does not handle: count the packet
  // as ParseResult::kUnsupportedLinkType. (Classic pcap files with such a link type are
  // refused when opened.)
  bool link_supported = true;
};

// Live capture settings; the defaults suit a 10G-class link monitored by a flow exporter.
struct LiveCaptureOptions {
  std::string interface;
  bool promiscuous = true;
  int snaplen = 256;                 // headers are enough for flows; bytes come from IP
  int buffer_size_bytes = 32 << 20;  // kernel ring; larger absorbs bursts
  int timeout_ms = 100;              // batch timeout (immediate mode stays off)
  std::string filter;                // BPF expression, empty = everything
  // Linux: join this PACKET_FANOUT group (hash mode, IPv4 defragmentation) right after
  // activation, so several handles on one interface share its traffic flow by flow. -1 = no
  // fanout. See FanoutGroupIdFor and FanoutSupported.
  int fanout_group = -1;
};

// Whether live capture on `interface` can be split over handles with PACKET_FANOUT: Linux
// packet sockets on a kernel interface. Not FreeBSD's BPF, not libpcap pseudo-devices
// (nflog:N, any), which read no packet socket of their own.
bool FanoutSupported(const std::string& interface);
// The fanout group id of a process: PACKET_FANOUT ids are per network namespace and any
// process may join a group by id, so two flowexports on one host must not pick the same one.
// Derived from the pid (16 bits, the pid's high bits folded in).
uint16_t FanoutGroupIdFor(int64_t pid);

// Frames handed out in batches, for parsing on other threads (flowexport -r --threads N): the
// bytes of whole frames and where each one is. All frames of a batch come from one file, so
// they share its link type.
struct FrameRef {
  TimeUs time_us = 0;
  uint32_t offset = 0;    // of the frame in FrameBatch::bytes
  uint32_t caplen = 0;
  uint32_t wire_len = 0;
};
struct FrameBatch {
  // `capacity` at least ClassicPcapReader::kMinChunkBytes.
  explicit FrameBatch(size_t capacity);
  std::unique_ptr<uint8_t[]> bytes;
  size_t capacity = 0;
  LinkType link = LinkType::kEthernet;
  std::vector<FrameRef> frames;
};

// Capture statistics. For files only `received` is meaningful.
struct CaptureStats {
  uint64_t received = 0;    // packets handed to the handler
  uint64_t dropped = 0;     // pcap_stats ps_drop: dropped by the kernel for lack of buffer
  uint64_t if_dropped = 0;  // pcap_stats ps_ifdrop: dropped by the interface/driver
};

class PcapSource {
 public:
  // Opens every file up front (so a bad path in the list fails before any work) and reads
  // them in order: pcap, pcapng, and zstd-compressed pcap (known by its content, not its
  // name). An empty `filter` means no filter.
  static absl::StatusOr<std::unique_ptr<PcapSource>> OpenOffline(
      const std::vector<std::string>& files, const std::string& filter = {});
  // Opens and activates a live capture.
  static absl::StatusOr<std::unique_ptr<PcapSource>> OpenLive(const LiveCaptureOptions& options);

  ~PcapSource();
  PcapSource(const PcapSource&) = delete;
  PcapSource& operator=(const PcapSource&) = delete;

  // Delivers up to `max_packets` packets to `handler` (one pcap_dispatch call; for files it
  // moves on to the next file at end of file). Returns the number delivered: 0 for a live
  // timeout or after BreakLoop(); OutOfRangeError once every file is exhausted; another error
  // when libpcap reports one (the message names the file or interface).
  absl::StatusOr<int> Dispatch(int max_packets, absl::FunctionRef<void(const RawPacket&)> handler);

  // Whether ReadFrames can be used: every input is a classic pcap file read by
  // ClassicPcapReader (not pcapng, zstd, a pipe or a pcap variant only libpcap reads).
  bool ReadsFrameBatches() const;
  // Fills `batch` with the next frames that pass the filter, read straight into its buffer (no
  // copy per frame). Returns how many (0 when the filter took every frame of this read);
  // OutOfRangeError once every file is exhausted; the reader's error for a malformed file.
  // Only when ReadsFrameBatches(); not to be mixed with Dispatch.
  absl::StatusOr<size_t> ReadFrames(FrameBatch& batch);

  // Makes a running Dispatch return early. Safe to call from a signal handler (it only sets
  // libpcap's break flag).
  void BreakLoop();

  // Kernel counters (live) plus packets delivered.
  CaptureStats Stats() const;
  // Bytes of the capture files consumed so far (the files before the current one whole), for
  // progress displays: with the files' total size it gives the fraction done, filtered-out
  // packets included. 0 for live capture.
  uint64_t BytesRead() const;

  bool is_live() const { return live_; }
  // Name of the file or interface being read (for messages).
  const std::string& current_name() const;
  // SNMP ifIndex of the live interface (if_nametoindex), 0 for files.
  uint32_t if_index() const { return if_index_; }
  // Live: a sentence for the operator when the kernel gave a smaller capture buffer than
  // asked (FreeBSD's net.bpf.maxbufsize), naming the sysctl that raises it; empty otherwise.
  const std::string& buffer_note() const { return buffer_note_; }

 private:
  struct Input {
    std::string name;
    pcap* handle = nullptr;            // libpcap, or
    std::unique_ptr<PcapngReader> ng;  // our pcapng reader (multi-interface files)
    // Classic pcap regular files: libpcap's handle above still validates the header, names the
    // link type and compiles the filter; packets come from this reader.
    std::unique_ptr<ClassicPcapReader> classic;
    // zstd-compressed classic pcap, which libpcap cannot open: no handle; the filter is
    // compiled for the file's link type and snaplen on a pcap_open_dead handle.
    std::unique_ptr<ZstdPcapReader> zstd;
    void* classic_filter = nullptr;  // bpf_program* for `classic` or `zstd`, null = no filter
    LinkType link = LinkType::kEthernet;
  };
  // A BPF program compiled for one (link type, snaplen) of a pcapng file.
  struct NgFilter {
    int dlt = 0;
    uint32_t snaplen = 0;
    void* program = nullptr;  // bpf_program*
  };
  PcapSource() = default;
  // Adds live handle `p` to fanout group `group` (Linux; elsewhere an error).
  static absl::Status JoinFanout(pcap* p, const std::string& interface, int group);
  // Classic pcap through our readers (`classic` or `zstd`).
  absl::StatusOr<int> DispatchClassic(Input& in, int max_packets,
                                      absl::FunctionRef<void(const RawPacket&)> handler);
  absl::StatusOr<int> DispatchPcapng(Input& in, int max_packets,
                                     absl::FunctionRef<void(const RawPacket&)> handler);
  // The compiled filter for a pcapng interface, or an error when the filter does not apply.
  absl::StatusOr<const void*> NgFilterFor(int dlt, uint32_t snaplen);

  std::vector<Input> inputs_;
  size_t current_ = 0;
  bool live_ = false;
  uint32_t if_index_ = 0;
  std::string buffer_note_;
  uint64_t received_ = 0;
  std::string filter_;
  std::vector<NgFilter> ng_filters_;
  volatile int break_ = 0;  // set by BreakLoop for the pcapng path (sig_atomic_t-sized)
};

}  // namespace nf

#endif  // NF_CAPTURE_PCAP_SOURCE_H_
