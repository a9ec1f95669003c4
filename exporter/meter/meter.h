// The metering seam: parsed packets in, finished flow records out. flowexport holds one Meter:
// a FlowTable on the capture thread (--threads 1) or a ShardedMeter of N worker shards
// (--threads N), and never asks which one it is.
#ifndef NF_EXPORTER_METER_METER_H_
#define NF_EXPORTER_METER_METER_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "capture/packet_parser.h"
#include "common/flow_record.h"

namespace nf {

inline constexpr size_t kEndReasonSlots = 6;  // indexed by EndReason value (1..5)

struct FlowTableStats {
  uint64_t packets = 0;  // packets accounted into flows
  uint64_t bytes = 0;    // their layer-3 bytes
  uint64_t flows_created = 0;
  std::array<uint64_t, kEndReasonSlots> expired{};  // by EndReason value
  uint64_t expired_total() const {
    uint64_t t = 0;
    for (uint64_t v : expired) t += v;
    return t;
  }
};

// Where finished flow records go (the encoder, in flowexport).
using FlowSink = absl::FunctionRef<void(const FlowRecord&)>;

// Counters every meter reports, summed over shards.
struct MeterTotals {
  FlowTableStats table;
  size_t active_flows = 0;
  uint64_t ring_full_drops = 0;  // --ring-full drop: packets never metered
};

class Meter {
 public:
  virtual ~Meter() = default;
  // Accounts one parsed packet. Records may reach `sink` now or at a later call: a meter may
  // stage packets (pipelining, shard batches) until Poll.
  virtual void Add(const PacketMeta& meta, FlowSink sink) = 0;
  // Call after every capture batch: finishes staged packets and delivers the records ready
  // now. Returns the number delivered.
  virtual size_t Poll(FlowSink sink) = 0;
  // Advances the meter's clock to `now` and exports what expired by then (a quiet live link).
  virtual void AdvanceTime(TimeUs now, FlowSink sink) = 0;
  // Exports every flow (EndReason kForcedEnd): end of input, SIGINT/SIGTERM. Add nothing
  // after Finish.
  virtual void Finish(FlowSink sink) = 0;
  // Latest packet (or tick) time metered: the export clock for file input.
  virtual TimeUs now() const = 0;
  // Valid after Poll (packets still staged are not counted yet).
  virtual MeterTotals Totals() const = 0;
};

}  // namespace nf

#endif  // NF_EXPORTER_METER_METER_H_
