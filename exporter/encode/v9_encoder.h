// NetFlow v9 export encoding (RFC 3954): flow records in, ready-to-send datagrams out.
//
// The v9 format on the shared MessagePacker (exporter/encode/message_packer.h), which owns
// template refresh (every N datagrams AND every T seconds), MTU packing, the flush interval and
// the sequence; this class supplies the v9 wire: the header with its sysUptime clock, template
// FlowSets (IDs 0 and 1), sets padded to 4 bytes, and a sequence that counts datagrams. It is
// template-driven: a layout is a list of {field id, length}, and the mapping from a FlowRecord
// to a field value lives in one function, WriteField (exporter/encode/record_fields.h), so new
// layouts need no encoder changes.
//
// Clock. v9 headers carry unix_secs (whole seconds) and sysUptime (ms); collectors rebuild a
// record's absolute time as unix_secs*1000 - sysUptime + FIRST_SWITCHED. We therefore set
// sysUptime = unix_secs*1000 - boot_ms at the header's whole second, so that reconstruction
// gives boot_ms + FIRST_SWITCHED = the packet time to the millisecond. unix_secs is the export
// time rounded UP to the second, so no record is ever stamped later than its header. All
// uptime values are 32-bit modular (they wrap every ~49.7 days; collectors use modulo-2^32
// differences). For -r the boot time is the first packet's time, live it is process start.
#ifndef NF_EXPORTER_ENCODE_V9_ENCODER_H_
#define NF_EXPORTER_ENCODE_V9_ENCODER_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/byte_writer.h"
#include "common/flow_record.h"
#include "exporter/encode/message_packer.h"
#include "exporter/encode/record_fields.h"
#include "templates/template_spec.h"

namespace nf {

// Packing, refresh and flush options are MessageOptions (exporter/encode/message_packer.h).
struct V9EncoderOptions : MessageOptions {
  uint32_t source_id = 0;
  // Uptime origin in microseconds since the epoch (see the clock note above).
  TimeUs boot_us = 0;
};

using V9EncoderStats = MessageStats;

class V9Encoder final : public MessagePacker {
 public:
  static absl::StatusOr<std::unique_ptr<V9Encoder>> Create(const V9EncoderOptions& options,
                                                           const TemplateSpec& spec,
                                                           DatagramSink sink);
  void SetBootTime(TimeUs boot_us) override;

 private:
  V9Encoder() = default;
  void WriteHeader(TimeUs now_us, uint32_t sequence, ByteWriter& w) const override;
  void WriteTemplateSets(ByteWriter& w) const override;
  void FinishHeader(uint16_t records, ByteWriter& w) const override;

  V9EncoderOptions options_;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_V9_ENCODER_H_
