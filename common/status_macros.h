// Status propagation macros for absl::Status / absl::StatusOr.
//
// abseil 20220623 (Debian 12) ships no status macros, so the project keeps this small pair.
// Use them only at boundaries (I/O, configuration, one datagram); per-packet paths use enums.
#ifndef NF_COMMON_STATUS_MACROS_H_
#define NF_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define NF_STATUS_CONCAT_INNER_(a, b) a##b
#define NF_STATUS_CONCAT_(a, b) NF_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define NF_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::absl::Status nf_status_ = (expr);              \
    if (!nf_status_.ok()) return nf_status_;         \
  } while (0)

// `NF_ASSIGN_OR_RETURN(auto x, MakeX());` declares/assigns the value or returns the error.
#define NF_ASSIGN_OR_RETURN(lhs, expr) \
  NF_ASSIGN_OR_RETURN_IMPL_(NF_STATUS_CONCAT_(nf_statusor_, __LINE__), lhs, expr)
#define NF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // NF_COMMON_STATUS_MACROS_H_
