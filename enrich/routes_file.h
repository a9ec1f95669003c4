// Reading routing tables: MRT RIB dumps (RFC 6396 TABLE_DUMP and TABLE_DUMP_V2, RFC 8050
// ADD-PATH, 4-byte ASNs, IPv4 and IPv6) and text networks files (pmacct's networks_file
// `[peer_as,]as,prefix` lines and plain `prefix as` lines), plain, gzip or bzip2, detected by
// content, never by name. Files are streamed: a full table with a path from each of dozens of
// peers is never held in memory, only the best path so far of each prefix.
//
// Best path, on what MRT carries (the rules docs/enrichment.md documents): highest LOCAL_PREF
// (100 when absent), then shortest AS_PATH (an AS_SET counts as one), then ORIGIN IGP < EGP <
// INCOMPLETE, then lowest MED (0 when absent), then the first seen (file order, and files in
// the order given). The origin AS is the last AS of the path's last AS_SEQUENCE; an empty path
// means the route was originated inside the peer's own AS, so its origin is the peer AS.
// Details: an absent ORIGIN ranks as INCOMPLETE; confederation segments count zero (RFC 5065);
// a path ending in an AS_SET takes its origin from the AS_SEQUENCE before the set, and a path
// with no AS_SEQUENCE at all (only sets or confederation segments) from the peer AS.
// A networks-file line is operator configuration and beats any MRT path for its prefix; among
// networks-file lines the first wins. In networks files `#` starts a comment, a line starting
// with `!` is a comment (as in pmacct), an AS may be written 65001, AS65001 or asdot 1.10, a
// prefix without an AS is a route with origin 0, and host bits are cleared (192.0.2.1/24 is
// 192.0.2.0/24).
#ifndef NF_ENRICH_ROUTES_FILE_H_
#define NF_ENRICH_ROUTES_FILE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "enrich/route.h"

namespace nf {

struct RoutesLoadStats {
  uint64_t files = 0;
  uint64_t mrt_records = 0;   // MRT records read (all types)
  uint64_t rib_entries = 0;   // paths seen (one per peer / ADD-PATH path)
  uint64_t text_lines = 0;    // networks-file lines with a route
  uint64_t skipped = 0;       // records not about IPv4/IPv6 unicast, or RIB records without a path
};

// Collects candidate paths from any number of files and keeps the best per prefix.
class RoutesBuilder {
 public:
  RoutesBuilder();
  ~RoutesBuilder();
  RoutesBuilder(const RoutesBuilder&) = delete;
  RoutesBuilder& operator=(const RoutesBuilder&) = delete;

  // Reads one file. Errors name the file and, for a text file, the line, or for MRT the byte
  // offset of the bad record. On error the builder keeps what earlier files gave but may hold
  // part of this one: callers discard the builder.
  absl::Status AddFile(const std::string& path);
  // The same for bytes already in memory (tests, fuzzing); `name` goes into errors.
  absl::Status AddBytes(const std::string& name, const std::string& bytes);

  // The chosen route of every prefix, sorted by (version, prefix, length).
  std::vector<Route> Finish();
  const RoutesLoadStats& stats() const { return stats_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  RoutesLoadStats stats_;
};

}  // namespace nf

#endif  // NF_ENRICH_ROUTES_FILE_H_
