// The one datagram packer behind the template-driven formats (NetFlow v9 and IPFIX): MTU
// packing, template refresh (every N datagrams and every T), the flush interval, the sampling
// options record and sequence numbers live here once, so a fix to any of them is made once.
// A format derives from MessagePacker and supplies only its wire specifics: header, template
// set encoding, set padding and what its sequence number counts (MessageFormat).
#ifndef NF_EXPORTER_ENCODE_MESSAGE_PACKER_H_
#define NF_EXPORTER_ENCODE_MESSAGE_PACKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/byte_writer.h"
#include "common/flow_record.h"
#include "exporter/encode/encoder.h"
#include "exporter/encode/record_fields.h"
#include "templates/template_spec.h"
#include "wire/netflow_v9.h"

namespace nf {

// Options shared by the template-driven formats.
struct MessageOptions {
  // Largest IP datagram (IP + UDP headers + message); export datagrams are never fragmented.
  size_t mtu = 1500;
  // IP + UDP header bytes to subtract from the MTU: 28 for IPv4, 48 when any collector is IPv6.
  size_t ip_udp_overhead = 28;
  // Template refresh: before the first data, then every N datagrams and every T (export clock;
  // RFC 7011 8.4 asks this of UDP exporters). 0 disables that criterion. Defaults follow
  // ipt-netflow/HPE (20 datagrams) and Juniper's 60 s timer, so a restarted collector decodes
  // again within a minute even on a quiet link.
  uint32_t template_refresh_datagrams = 20;
  TimeUs template_refresh_us = 60'000'000;
  // Records wait at most this long before a partial datagram is sent.
  TimeUs flush_interval_us = 1'000'000;
  // 1-in-N sampling announced in an options template; <= 1 = none.
  uint32_t sampling_interval = 0;
  uint8_t sampling_algorithm = 1;  // 1 deterministic, 2 random
};

struct MessageStats {
  uint64_t records = 0;           // flow data records sent
  uint64_t options_records = 0;   // options data records sent (IPFIX counts them in sequence)
  uint64_t datagrams = 0;         // datagrams built
  uint64_t template_records = 0;  // template + options template records sent
  uint64_t bytes = 0;             // message bytes (without IP and UDP headers)
};

// What differs between the template-driven formats, besides the hooks below.
struct MessageFormat {
  size_t header_bytes = 0;
  bool pad_sets = false;  // v9 pads every set to 4 bytes; IPFIX sends them unpadded
  // IPFIX: data records (flow and options) sent before this message; v9: datagrams.
  bool sequence_counts_records = false;
  uint16_t options_scope_field = 0;  // scope of the sampling options template
  uint32_t domain_id = 0;            // source ID / observation domain: the scope's value
};

class MessagePacker : public Encoder {
 public:
  bool Add(const FlowRecord& record, TimeUs now_us) final;
  void Tick(TimeUs now_us) final;
  void Flush(TimeUs now_us) final;
  EncoderTotals Totals() const final;

  const MessageStats& stats() const { return stats_; }
  // Sequence number of the next datagram.
  uint32_t next_sequence() const { return sequence_; }
  // Largest message per datagram.
  size_t max_payload() const { return max_payload_; }
  uint16_t options_template_id() const { return options_template_.template_id; }
  // The layouts as sent, in spec family order.
  const std::vector<TemplateRecord>& templates() const { return templates_; }

 protected:
  MessagePacker() = default;
  // Validates `layouts` (the spec's, as this format sends them) against WriteField and the MTU
  // (templates plus one record of every layout must fit in one datagram); errors name the
  // field or the sizes.
  absl::Status Init(const MessageOptions& options, const MessageFormat& format,
                    const TemplateSpec& spec, std::vector<TemplateRecord> layouts,
                    DatagramSink sink);
  void set_field_context(FieldContext ctx) { field_context_ = ctx; }
  const TemplateRecord* sampling_template() const {
    return sampling_ ? &options_template_ : nullptr;
  }

  // Format hooks, called once per datagram.
  // The header; counts and lengths are patched by FinishHeader.
  virtual void WriteHeader(TimeUs now_us, uint32_t sequence, ByteWriter& w) const = 0;
  // The template set and, with sampling, the options template set.
  virtual void WriteTemplateSets(ByteWriter& w) const = 0;
  // `records`: template, options and data records in the message (v9's header count).
  virtual void FinishHeader(uint16_t records, ByteWriter& w) const = 0;

 private:
  struct Layout {
    TemplateRecord tmpl;
    size_t record_length = 0;
    std::vector<uint8_t> staged;  // data records waiting, capacity max_payload
    uint16_t staged_records = 0;
  };
  size_t SetBytes(size_t unpadded) const;
  bool TemplatesDue(TimeUs now_us) const;
  size_t TemplateBytes() const;
  size_t PendingBytes() const;  // bytes of the datagram if sent now
  size_t LayoutIndex(const FlowRecord& r) const;
  void StartDatagram(TimeUs now_us);
  void WriteSet(uint16_t set_id, const std::vector<uint8_t>& payload, ByteWriter& w) const;
  void Send(TimeUs now_us);

  MessageOptions options_;
  MessageFormat format_;
  TemplateSpec spec_;
  DatagramSink sink_;
  FieldContext field_context_;
  std::vector<Layout> layouts_;
  std::vector<TemplateRecord> templates_;
  TemplateRecord options_template_;
  bool sampling_ = false;
  size_t max_payload_ = 0;
  size_t template_bytes_ = 0;
  std::vector<uint8_t> buffer_;
  std::vector<uint8_t> options_data_;  // the sampling options record
  uint32_t sequence_ = 0;
  bool templates_ever_sent_ = false;
  bool current_has_templates_ = false;  // decided when a datagram's first record arrives
  uint32_t datagrams_since_templates_ = 0;
  TimeUs last_templates_us_ = 0;
  size_t pending_records_ = 0;
  FlushClock flush_clock_;
  MessageStats stats_;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_MESSAGE_PACKER_H_
