// How a FlowRecord becomes template fields: one function maps a field id and length to the
// record's value, so every template-driven format (v9, IPFIX) and every layout shares it.
#ifndef NF_EXPORTER_ENCODE_RECORD_FIELDS_H_
#define NF_EXPORTER_ENCODE_RECORD_FIELDS_H_

#include <cstdint>

#include "common/byte_writer.h"
#include "common/flow_record.h"
#include "exporter/encode/encoder.h"

namespace nf {

// Values WriteField needs besides the record.
struct FieldContext {
  int64_t boot_ms = 0;  // uptime origin: FIRST/LAST_SWITCHED = time_ms - boot_ms (mod 2^32)
};

// Writes one field of `record` as `len` bytes. Returns false (writing nothing) for a field id
// or length the exporter cannot fill; IsExportableField checks that up front.
bool WriteField(uint16_t id, uint16_t len, const FlowRecord& record, const FieldContext& ctx,
                ByteWriter& w);
// True when WriteField can fill field `id` with length `len`.
bool IsExportableField(uint16_t id, uint16_t len);

// The uptime value (ms, modulo 2^32) of absolute time `time_us` for uptime origin `boot_us`.
uint32_t UptimeMs(TimeUs time_us, TimeUs boot_us);

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_RECORD_FIELDS_H_
