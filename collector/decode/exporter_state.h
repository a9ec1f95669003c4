// Everything the decoder keeps per exporter (address, or address and port when templates are
// keyed on ports): counters, sequence streams, sampling state, the early-data buffer and the
// interface names it announced.
// Each part bounds its own growth; the decoder bounds the number of exporters.
#ifndef NF_COLLECTOR_DECODE_EXPORTER_STATE_H_
#define NF_COLLECTOR_DECODE_EXPORTER_STATE_H_

#include <cstddef>

#include "collector/decode/decode_stats.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/early_buffer.h"
#include "collector/decode/announced_interfaces.h"
#include "collector/decode/sampling_state.h"
#include "collector/decode/sequence_tracker.h"

namespace nf {

struct ExporterState {
  ExporterId id;
  ExporterStats stats;
  SequenceTracker sequence;
  SamplingState sampling;
  EarlyBuffer early;
  AnnouncedInterfaces interfaces;  // from the exporter's interface-table options data

  void Count(DecodeError e) { ++stats.errors[static_cast<size_t>(e)]; }
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_EXPORTER_STATE_H_
