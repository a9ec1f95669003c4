// One node of an active/standby flowcollect pair (docs/ha.md). Both nodes receive every
// datagram; only the active one writes. The standby learns templates from everything it
// receives and keeps the datagrams in an HaSpool until the active confirms it wrote them.
//
// The role comes from a state file (--ha-state) that the failover daemon's hook writes:
// "active" (or "master") makes the node active, anything else or no file keeps it standing by.
// CARP's devd hook, ucarp's up/down scripts and keepalived's notify script all fit that, and
// the file also gives a restarted collector its role without a signal race. The file is
// checked every 50 ms.
//
// The active node confirms a datagram only after the records it produced were handed to the
// kernel (Commit: the outputs are flushed first, then the digests are sent), so a crash never
// leaves a written datagram unconfirmed except for the last commit's, and never a confirmed one
// unwritten. On becoming active, a node replays every unconfirmed datagram of its spool through
// the normal decode path before anything newer.
//
// Confirmations travel as UDP datagrams to --ha-peer and are accepted only from the peer's
// address. Everything runs on the io_context of the worker that receives (one worker).
#ifndef NF_COLLECTOR_HA_HA_NODE_H_
#define NF_COLLECTOR_HA_HA_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "collector/ha/ha_spool.h"
#include "common/time_format.h"

namespace nf {

struct HaOptions {
  std::string peer;        // --ha-peer HOST:PORT: where confirmations go
  std::string listen;      // --ha-listen [ADDR:]PORT: where the peer's arrive
  std::string state_file;  // --ha-state FILE
  HaSpoolOptions spool;
};

// Checks the options without binding anything (a typo fails before any output is opened).
absl::Status ValidateHaOptions(const HaOptions& options);

// Parses a state file's text: true for "active" or "master" (first word, any case).
bool HaStateIsActive(absl::string_view text);

struct HaStats {
  bool active = false;
  uint64_t became_active = 0;
  uint64_t became_standby = 0;
  uint64_t confirmations_sent = 0;    // digests sent to the peer
  uint64_t confirm_messages_sent = 0;
  uint64_t confirmations_received = 0;
  uint64_t confirmations_while_active = 0;  // the peer says it is writing too (split brain)
  uint64_t peer_messages_refused = 0;  // from another address, or malformed
  uint64_t send_errors = 0;
  uint64_t commits = 0;
  uint64_t output_flush_errors = 0;  // Commit found an output that failed: nothing confirmed
  uint64_t spool_datagrams = 0;      // held now
  uint64_t spool_unconfirmed = 0;
  uint64_t spool_bytes = 0;
  uint64_t last_replay = 0;          // datagrams replayed at the last takeover
  int64_t last_replay_ms = 0;        // how long that took
  HaSpoolStats spool;
};

// The counters as a JSON object (--stats-json "ha") and as text lines (stats on stderr).
std::string HaStatsJson(const HaStats& s);
std::string HaStatsText(const HaStats& s);

class HaNode {
 public:
  struct Callbacks {
    // Decodes a replayed datagram and hands its records to the outputs.
    std::function<void(std::span<const uint8_t>, const ExporterId&, TimeUs)> replay;
    // Writes what the outputs buffer to the kernel. False when an output failed (then nothing
    // is confirmed: the standby keeps the datagrams).
    std::function<bool()> flush_outputs;
    // A role change, for the log (`replayed` datagrams on becoming active).
    std::function<void(bool active, size_t replayed)> on_role;
  };

  // Binds the listen address and resolves the peer. The role is read at Start.
  static absl::StatusOr<std::unique_ptr<HaNode>> Create(boost::asio::io_context& io,
                                                        const HaOptions& options,
                                                        Callbacks callbacks);
  ~HaNode();

  // Reads the role, then polls the state file and receives confirmations (on `io`).
  void Start();
  void Stop();

  bool active() const { return active_; }
  // Standby: keep a received datagram until the peer confirms it.
  void Spool(std::span<const uint8_t> datagram, const ExporterId& exporter, TimeUs receive_time);
  // Active: the datagram's records were handed to the outputs (not yet to the kernel).
  void Written(std::span<const uint8_t> datagram);
  // Active: flushes the outputs, then confirms every datagram written since the last commit.
  // Call after each receive batch and before stopping.
  void Commit();

  // Re-reads the state file now (also done by the poll timer).
  void CheckRole();

  // A copy for reports (any thread).
  HaStats stats() const;

 private:
  HaNode(boost::asio::io_context& io, const HaOptions& options, Callbacks callbacks);
  void SetActive(bool active);
  void ArmReceive();
  void ArmPoll();
  void OnPeerMessage(size_t n);
  void SendConfirmations();
  void Publish();

  HaOptions options_;
  Callbacks callbacks_;
  boost::asio::ip::udp::socket socket_;
  boost::asio::ip::udp::endpoint peer_;
  boost::asio::ip::udp::endpoint from_;
  boost::asio::steady_timer poll_;
  std::vector<uint8_t> receive_buffer_;
  std::vector<uint8_t> send_buffer_;
  std::vector<uint64_t> pending_;  // digests written, not yet confirmed
  HaSpool spool_;
  bool active_ = false;
  bool stopped_ = false;
  int64_t state_mtime_ns_ = -1;
  int64_t state_size_ = -1;
  TimeUs last_expire_ = 0;
  HaStats counters_;  // this thread's
  mutable std::mutex mu_;
  HaStats published_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_HA_HA_NODE_H_
