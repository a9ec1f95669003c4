// Fuzz target: the template-file and inline (-T) template parsers.
#include <cstddef>
#include <cstdint>
#include <string>

#include "templates/template_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = nf::ParseTemplateText(text, "fuzz");
  if (spec.ok()) {
    // A template that parses must describe records that fit a datagram.
    for (const auto* layout : spec->Layouts()) {
      if (layout->RecordLength() == 0 || layout->RecordLength() > 1400) __builtin_trap();
    }
  }
  (void)nf::ParseInlineTemplate(text);
  return 0;
}
