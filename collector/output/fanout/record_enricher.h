// flowcollect's enrichment step: fills the routing, country and interface columns of a decoded
// record (src_as/dst_as, src_mask/dst_mask, src_country/dst_country, input_if_name/
// output_if_name) from an enrichment snapshot (enrich/enrichment.h), once per record, after
// decoding and before any output sees it.
//
// A value the exporter set (non-zero) is kept unless `override_exporter` (--enrich-override);
// zero ones are filled when a source has an answer. Only the lookups a configured source can
// answer are made, and none for a field that is already set and would be kept.
#ifndef NF_COLLECTOR_OUTPUT_FANOUT_RECORD_ENRICHER_H_
#define NF_COLLECTOR_OUTPUT_FANOUT_RECORD_ENRICHER_H_

#include "collector/decode/decoded_record.h"
#include "enrich/enrichment.h"

namespace nf {

// Enriches `r` in place from `data`. The interface names point into `data`.
void EnrichRecord(const EnrichmentData& data, bool override_exporter, DecodedRecord& r);

// One worker's enricher: holds the worker's view of the reloadable snapshot.
class RecordEnricher {
 public:
  // `enrichment` may be null (then Enrich does nothing); it must outlive the enricher.
  RecordEnricher(const Enrichment* enrichment, bool override_exporter)
      : view_(enrichment), override_exporter_(override_exporter) {
    Refresh();
  }
  bool active() const { return data_ != nullptr; }
  // Picks up a reloaded snapshot (one atomic load when there was none). The previous snapshot
  // may be released here, so call it only where no record enriched from it is still held.
  void Refresh() { data_ = view_.Get(); }
  void Enrich(DecodedRecord& r) const {
    if (data_ != nullptr) EnrichRecord(*data_, override_exporter_, r);
  }

 private:
  EnrichmentView view_;
  const EnrichmentData* data_ = nullptr;
  bool override_exporter_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FANOUT_RECORD_ENRICHER_H_
