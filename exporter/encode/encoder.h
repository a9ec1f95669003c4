// The export encoder seam: flow records in, datagrams out through a sink. flowexport holds one
// Encoder chosen by -v (NetFlow v9, IPFIX or NetFlow v5) and never asks which one it is.
//
// Also the clock helpers every format shares, so the header time rule lives in one place.
#ifndef NF_EXPORTER_ENCODE_ENCODER_H_
#define NF_EXPORTER_ENCODE_ENCODER_H_

#include <cstdint>
#include <functional>
#include <span>

#include "common/flow_record.h"

namespace nf {

// Counters every format reports (the flowexport statistics read these).
struct EncoderTotals {
  uint64_t records = 0;           // flow data records sent
  uint64_t template_records = 0;  // template + options template records sent (0 for v5)
  uint64_t datagrams = 0;         // datagrams built
  uint64_t not_exportable = 0;    // flows this format cannot carry (IPv6 with v5)
};

class Encoder {
 public:
  using DatagramSink = std::function<void(std::span<const uint8_t>)>;

  virtual ~Encoder() = default;
  // Queues one record at export time `now_us`, sending the datagram first when the record would
  // not fit. False when this format cannot carry the record (counted in not_exportable).
  virtual bool Add(const FlowRecord& record, TimeUs now_us) = 0;
  // Sends the pending datagram if its oldest record has waited the flush interval.
  virtual void Tick(TimeUs now_us) = 0;
  // Sends whatever is pending now (end of input, shutdown).
  virtual void Flush(TimeUs now_us) = 0;
  // Sets the uptime origin (for -r: the first packet's time). Call before the first Add.
  virtual void SetBootTime(TimeUs boot_us) = 0;
  virtual EncoderTotals Totals() const = 0;
};

// Milliseconds since the epoch, rounded towards minus infinity.
inline int64_t FloorMs(TimeUs us) { return us >= 0 ? us / 1000 : -((-us + 999) / 1000); }

// The header's export time in whole seconds, rounded UP so no record ends after its header.
inline int64_t ExportSeconds(TimeUs now_us) {
  return now_us <= 0 ? 0 : (now_us + 999'999) / 1'000'000;
}

// Tracks how long the oldest record of the datagram under construction has waited, so every
// format applies the flush interval the same way.
class FlushClock {
 public:
  explicit FlushClock(TimeUs interval_us = 1'000'000) : interval_us_(interval_us) {}
  // A record joined an empty datagram at `now_us`.
  void Start(TimeUs now_us) { oldest_us_ = now_us; }
  bool Due(TimeUs now_us) const { return now_us - oldest_us_ >= interval_us_; }

 private:
  TimeUs interval_us_;
  TimeUs oldest_us_ = 0;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_ENCODER_H_
