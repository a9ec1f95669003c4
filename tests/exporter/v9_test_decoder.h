// Test helper: a strict, minimal NetFlow v9 decoder for checking what the exporter sends.
// Independent of the collector module on purpose (it walks FlowSets by length, checks padding
// and the header count, and decodes every data record into {field id -> value}).
#ifndef NF_TESTS_EXPORTER_V9_TEST_DECODER_H_
#define NF_TESTS_EXPORTER_V9_TEST_DECODER_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/byte_reader.h"
#include "wire/netflow_v9.h"

namespace nf::testing {

struct DecodedV9Record {
  uint16_t template_id = 0;
  std::map<uint16_t, uint64_t> values;           // fields up to 8 bytes
  std::map<uint16_t, std::vector<uint8_t>> raw;  // every field's bytes
};

struct DecodedV9Datagram {
  V9Header header;
  std::vector<TemplateRecord> templates;  // template + options template records
  std::vector<DecodedV9Record> records;   // data records (incl. options data)
  std::vector<uint16_t> flowset_lengths;
  size_t size = 0;
  std::string error;  // empty when the datagram is well-formed
};

// Templates persist across datagrams of one stream, as in a collector.
class V9TestDecoder {
 public:
  DecodedV9Datagram Decode(std::span<const uint8_t> bytes) {
    DecodedV9Datagram d;
    d.size = bytes.size();
    ByteReader r(bytes);
    if (!V9Header::Decode(r, d.header)) {
      d.error = "short header";
      return d;
    }
    size_t records = 0;
    while (r.remaining() > 0) {
      uint16_t id = 0;
      uint16_t len = 0;
      if (r.remaining() < 4 || !r.ReadU16(id) || !r.ReadU16(len)) {
        d.error = "trailing bytes";
        return d;
      }
      d.flowset_lengths.push_back(len);
      if (len < 4 || len - 4u > r.remaining()) {
        d.error = "bad flowset length";
        return d;
      }
      if (len % 4 != 0) d.error = "flowset not padded to 4 bytes";
      std::span<const uint8_t> body = bytes.subspan(bytes.size() - r.remaining(), len - 4u);
      r.Skip(len - 4u);
      if (id == kTemplateFlowSetId || id == kOptionsTemplateFlowSetId) {
        auto on = [&](TemplateRecord&& t) {
          templates_[t.template_id] = t;
          d.templates.push_back(t);
          ++records;
        };
        TemplateParseError e =
            id == 0 ? ParseV9TemplateFlowSet(body, on) : ParseV9OptionsTemplateFlowSet(body, on);
        if (e != TemplateParseError::kNone) d.error = TemplateParseErrorName(e);
        continue;
      }
      auto it = templates_.find(id);
      if (it == templates_.end()) {
        d.error = "data before template " + std::to_string(id);
        continue;
      }
      const TemplateRecord& t = it->second;
      const size_t rl = t.RecordLength();
      size_t off = 0;
      while (body.size() - off >= rl) {
        DecodedV9Record rec;
        rec.template_id = id;
        for (const auto* list : {&t.scope_fields, &t.fields}) {
          for (const TemplateField& f : *list) {
            std::vector<uint8_t> raw(body.begin() + static_cast<ptrdiff_t>(off),
                                     body.begin() + static_cast<ptrdiff_t>(off + f.length));
            uint64_t v = 0;
            if (f.length <= 8) {
              for (uint8_t b : raw) v = (v << 8) | b;
              rec.values[f.type] = v;
            }
            rec.raw[f.type] = raw;
            off += f.length;
          }
        }
        d.records.push_back(std::move(rec));
        ++records;
      }
      if (body.size() - off >= 4) d.error = "padding of 4 or more bytes";
      for (size_t i = off; i < body.size(); ++i) {
        if (body[i] != 0) d.error = "non-zero padding";
      }
    }
    if (records != d.header.count) {
      d.error =
          "count " + std::to_string(d.header.count) + " != records " + std::to_string(records);
    }
    return d;
  }

 private:
  std::map<uint16_t, TemplateRecord> templates_;
};

}  // namespace nf::testing

#endif  // NF_TESTS_EXPORTER_V9_TEST_DECODER_H_
