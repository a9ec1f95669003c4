// Declarative export templates: which v9 fields an exporter sends, in wire order.
//
// A template is plain text (files in templates/, shipped ones compiled in) naming fields by
// their RFC 3954 or IPFIX names with optional lengths, one section per flow family:
//
//   # NAME: one-line description
//   [ipv4 256]                      section: family and template ID
//   IPV4_SRC_ADDR IPV4_DST_ADDR ... IN_BYTES:8
//   [ipv6 257]
//   ...
//
// Families are ipv4 and ipv6 (required) and ipv4_icmp / ipv6_icmp (optional: ICMP flows then
// use them, as softflowd does). `-T` also takes nProbe-style inline strings
// ("%IPV4_SRC_ADDR %IPV4_DST_ADDR ..."), from which the IPv6 layout is derived by swapping
// address fields. Every error names the offending field and, for files, its line.
#ifndef NF_TEMPLATES_TEMPLATE_SPEC_H_
#define NF_TEMPLATES_TEMPLATE_SPEC_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "wire/netflow_v9.h"

namespace nf {

enum class FlowFamily : uint8_t { kIpv4 = 0, kIpv6 = 1, kIpv4Icmp = 2, kIpv6Icmp = 3 };
inline constexpr int kFlowFamilyCount = 4;
const char* FlowFamilyName(FlowFamily family);

struct TemplateSpec {
  std::string name;
  std::string description;
  // Indexed by FlowFamily; ICMP entries may be absent (then ICMP flows use ipv4/ipv6).
  std::optional<TemplateRecord> layouts[kFlowFamilyCount];

  // The layout a flow of this IP version and protocol is exported with.
  const TemplateRecord& LayoutFor(int ip_version, uint8_t protocol) const;
  // All present layouts in family order.
  std::vector<const TemplateRecord*> Layouts() const;
};

// Parses the file format above. `source` names the text in error messages ("templates/x.tmpl").
absl::StatusOr<TemplateSpec> ParseTemplateText(absl::string_view text, absl::string_view source);
// Parses an nProbe-style inline template ("%A %B:8 ..."). IPv4 template ID 256, IPv6 257.
absl::StatusOr<TemplateSpec> ParseInlineTemplate(absl::string_view text);
// Resolves a `-T` argument: a shipped template name, an inline string (contains '%'), or a
// path to a template file.
absl::StatusOr<TemplateSpec> LoadTemplate(absl::string_view name_or_path);

// Shipped templates, compiled in from templates/*.tmpl.
struct ShippedTemplate {
  absl::string_view name;
  absl::string_view text;
};
std::vector<ShippedTemplate> ShippedTemplates();

}  // namespace nf

#endif  // NF_TEMPLATES_TEMPLATE_SPEC_H_
