#include "templates/template_spec.h"

#include <fstream>
#include <span>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "wire/v9_fields.h"

namespace nf {

const char* FlowFamilyName(FlowFamily family) {
  switch (family) {
    case FlowFamily::kIpv4: return "ipv4";
    case FlowFamily::kIpv6: return "ipv6";
    case FlowFamily::kIpv4Icmp: return "ipv4_icmp";
    case FlowFamily::kIpv6Icmp: return "ipv6_icmp";
  }
  return "?";
}

const TemplateRecord& TemplateSpec::LayoutFor(int ip_version, uint8_t protocol) const {
  if (ip_version == 6) {
    if (protocol == 58 && layouts[3]) return *layouts[3];
    return *layouts[1];
  }
  if (protocol == 1 && layouts[2]) return *layouts[2];
  return *layouts[0];
}

std::vector<const TemplateRecord*> TemplateSpec::Layouts() const {
  std::vector<const TemplateRecord*> out;
  for (const auto& l : layouts) {
    if (l) out.push_back(&*l);
  }
  return out;
}

namespace {

bool IsV6Family(FlowFamily f) { return f == FlowFamily::kIpv6 || f == FlowFamily::kIpv6Icmp; }

// A flow's own addresses exist in one IP version only: an IPv4 flow has no IPv6 source.
bool FieldFitsFamily(const FieldInfo& info, FlowFamily family) {
  static constexpr uint16_t kV4Only[] = {field::kIpv4SrcAddr, field::kIpv4DstAddr,
                                         field::kIpv4NextHop, 44, 45};
  static constexpr uint16_t kV6Only[] = {field::kIpv6SrcAddr, field::kIpv6DstAddr,
                                         field::kIpv6NextHop, field::kIpv6SrcMask,
                                         field::kIpv6DstMask, field::kIpv6FlowLabel};
  for (uint16_t id : IsV6Family(family) ? std::span<const uint16_t>(kV4Only)
                                        : std::span<const uint16_t>(kV6Only)) {
    if (info.id == id) return false;
  }
  return true;
}

std::string Where(absl::string_view source, int line) {
  return line > 0 ? absl::StrCat(source, ":", line, ": ") : absl::StrCat(source, ": ");
}

// Parses one "NAME[:LEN]" token (an optional leading '%' is nProbe's syntax).
absl::StatusOr<TemplateField> ParseFieldToken(absl::string_view token, FlowFamily family,
                                              absl::string_view source, int line) {
  absl::ConsumePrefix(&token, "%");
  absl::string_view name = token;
  absl::string_view len_text;
  size_t colon = token.find(':');
  if (colon != absl::string_view::npos) {
    name = token.substr(0, colon);
    len_text = token.substr(colon + 1);
  }
  const FieldInfo* info = FindFieldByName(name);
  if (info == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, line), "unknown field '", name,
                                                   "' (see the RFC 3954 / IPFIX names)"));
  }
  TemplateField f;
  f.type = info->id;
  f.length = info->default_length;
  if (!len_text.empty()) {
    uint32_t len = 0;
    if (!absl::SimpleAtoi(len_text, &len)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, line), "bad length '", len_text, "' for field ", name));
    }
    if (len < info->min_length || len > info->max_length) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(source, line), "field ", info->name, " cannot have length ", len, " (allowed ",
          info->min_length, "..", info->max_length, ")"));
    }
    f.length = static_cast<uint16_t>(len);
  }
  if (f.length == 0) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, line), "field ", info->name,
                                                   " is variable-length: give a length (", name,
                                                   ":N)"));
  }
  if (!FieldFitsFamily(*info, family)) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, line), "field ", info->name,
                                                   " cannot appear in the ",
                                                   FlowFamilyName(family), " template"));
  }
  return f;
}

absl::Status CheckSpec(TemplateSpec& spec, absl::string_view source) {
  if (!spec.layouts[0] || !spec.layouts[1]) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": a template needs both an [ipv4 ID] and an [ipv6 ID] section"));
  }
  for (int i = 0; i < kFlowFamilyCount; ++i) {
    if (!spec.layouts[i]) continue;
    const TemplateRecord& t = *spec.layouts[i];
    if (t.fields.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": the ", FlowFamilyName(static_cast<FlowFamily>(i)), " section has no fields"));
    }
    if (t.RecordLength() > 1400) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", FlowFamilyName(static_cast<FlowFamily>(i)),
                       " record is ", t.RecordLength(), " bytes, too long for one datagram"));
    }
    for (int j = 0; j < i; ++j) {
      if (spec.layouts[j] && spec.layouts[j]->template_id == t.template_id) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": template ID ", t.template_id, " used twice"));
      }
    }
  }
  return absl::OkStatus();
}

std::optional<FlowFamily> FamilyFromName(absl::string_view s) {
  if (s == "ipv4") return FlowFamily::kIpv4;
  if (s == "ipv6") return FlowFamily::kIpv6;
  if (s == "ipv4_icmp") return FlowFamily::kIpv4Icmp;
  if (s == "ipv6_icmp") return FlowFamily::kIpv6Icmp;
  return std::nullopt;
}

}  // namespace

absl::StatusOr<TemplateSpec> ParseTemplateText(absl::string_view text, absl::string_view source) {
  TemplateSpec spec;
  std::optional<FlowFamily> current;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    if (line.front() == '#') {
      // "# name: description" on the first comment line documents the template.
      if (spec.description.empty()) {
        absl::string_view c = absl::StripAsciiWhitespace(line.substr(1));
        size_t colon = c.find(':');
        if (colon != absl::string_view::npos && colon < 40) {
          spec.name = std::string(c.substr(0, colon));
          spec.description = std::string(absl::StripAsciiWhitespace(c.substr(colon + 1)));
        } else {
          spec.description = std::string(c);
        }
      }
      continue;
    }
    if (line.front() == '[') {
      if (line.back() != ']') {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(source, line_no), "unterminated section header '", line, "'"));
      }
      std::vector<absl::string_view> parts =
          absl::StrSplit(line.substr(1, line.size() - 2), ' ', absl::SkipWhitespace());
      uint32_t id = 0;
      auto family = parts.empty() ? std::nullopt : FamilyFromName(parts[0]);
      if (parts.size() != 2 || !family || !absl::SimpleAtoi(parts[1], &id) || id < 256 ||
          id > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(source, line_no), "bad section header '", line,
            "' (expected [ipv4|ipv6|ipv4_icmp|ipv6_icmp ID] with ID 256..65535)"));
      }
      auto& slot = spec.layouts[static_cast<int>(*family)];
      if (slot) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(source, line_no), "section ", parts[0], " given twice"));
      }
      slot.emplace();
      slot->template_id = static_cast<uint16_t>(id);
      current = family;
      continue;
    }
    if (!current) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(source, line_no), "field list before any [ipv4 ID] section"));
    }
    for (absl::string_view token : absl::StrSplit(line, absl::ByAnyChar(" \t,"), absl::SkipEmpty())) {
      auto f = ParseFieldToken(token, *current, source, line_no);
      if (!f.ok()) return f.status();
      spec.layouts[static_cast<int>(*current)]->fields.push_back(*f);
    }
  }
  auto status = CheckSpec(spec, source);
  if (!status.ok()) return status;
  return spec;
}

absl::StatusOr<TemplateSpec> ParseInlineTemplate(absl::string_view text) {
  TemplateSpec spec;
  spec.name = "inline";
  spec.description = std::string(text);
  spec.layouts[0].emplace();
  spec.layouts[0]->template_id = 256;
  spec.layouts[1].emplace();
  spec.layouts[1]->template_id = 257;
  // Address fields map across families so one inline list serves IPv4 and IPv6 flows.
  auto counterpart = [](uint16_t id, bool to_v6) -> uint16_t {
    static constexpr uint16_t kPairs[][2] = {{field::kIpv4SrcAddr, field::kIpv6SrcAddr},
                                             {field::kIpv4DstAddr, field::kIpv6DstAddr},
                                             {field::kIpv4NextHop, field::kIpv6NextHop}};
    for (const auto& p : kPairs) {
      if (to_v6 && p[0] == id) return p[1];
      if (!to_v6 && p[1] == id) return p[0];
    }
    return id;
  };
  for (absl::string_view token : absl::StrSplit(text, absl::ByAnyChar(" \t,"), absl::SkipEmpty())) {
    // Validate against the family the name belongs to, then place it in both layouts.
    absl::string_view bare = token;
    absl::ConsumePrefix(&bare, "%");
    const FieldInfo* info = FindFieldByName(bare.substr(0, bare.find(':')));
    FlowFamily home = info != nullptr && info->kind == ValueKind::kIpv6 ? FlowFamily::kIpv6
                                                                        : FlowFamily::kIpv4;
    auto f = ParseFieldToken(token, home, "-T", 0);
    if (!f.ok()) return f.status();
    for (int fam = 0; fam < 2; ++fam) {
      TemplateField g = *f;
      uint16_t mapped = counterpart(g.type, fam == 1);
      if (mapped != g.type) {
        g.type = mapped;
        g.length = FindField(mapped)->default_length;
      }
      auto& fields = spec.layouts[fam]->fields;
      bool dup = false;
      for (const auto& e : fields) dup = dup || e.type == g.type;
      if (!dup) fields.push_back(g);
    }
  }
  auto status = CheckSpec(spec, "-T");
  if (!status.ok()) return status;
  return spec;
}

absl::StatusOr<TemplateSpec> LoadTemplate(absl::string_view name_or_path) {
  for (const ShippedTemplate& t : ShippedTemplates()) {
    if (t.name == name_or_path) {
      auto spec = ParseTemplateText(t.text, absl::StrCat("templates/", t.name, ".tmpl"));
      if (spec.ok()) spec->name = std::string(t.name);
      return spec;
    }
  }
  if (name_or_path.find('%') != absl::string_view::npos) return ParseInlineTemplate(name_or_path);
  std::ifstream in{std::string(name_or_path)};
  if (!in) {
    std::string names;
    for (const ShippedTemplate& t : ShippedTemplates()) absl::StrAppend(&names, " ", t.name);
    return absl::NotFoundError(absl::StrCat("no template named '", name_or_path,
                                            "' and no such file (shipped:", names, ")"));
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return ParseTemplateText(buf.str(), name_or_path);
}

}  // namespace nf
