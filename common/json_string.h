// JSON string literals for the hand-written --stats-json documents both tools produce.
#ifndef NF_COMMON_JSON_STRING_H_
#define NF_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace nf {

// Appends `s` as a JSON string literal: quoted, with quotes, backslashes and control
// characters escaped.
void AppendJsonString(absl::string_view s, std::string& out);

}  // namespace nf

#endif  // NF_COMMON_JSON_STRING_H_
