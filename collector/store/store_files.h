// Finding the files of a flow store (store_writer.h) for a query: `flowcollect -r DIR --from
// TIME --to TIME`. Files are chosen by name first (the name gives the start of its interval,
// and a file holds nothing received at or after the next file's start), then the reader
// selects records by receive time.
#ifndef NF_COLLECTOR_STORE_STORE_FILES_H_
#define NF_COLLECTOR_STORE_STORE_FILES_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/time_format.h"

namespace nf {

inline constexpr TimeUs kNoTimeLimit = std::numeric_limits<TimeUs>::max();

struct StoreFile {
  std::string path;
  TimeUs start_us = 0;  // from the name
  uint64_t size = 0;    // bytes on disk
  bool compressed = false;
};

// When `basename` is a completed store file name (flows-YYYYMMDDhhmmss.pcap or .pcap.zst; not a
// temporary file), its interval start in microseconds since the epoch (UTC); otherwise -1.
TimeUs StoreFileStart(absl::string_view basename);
// The path of the file for the interval starting at `start_us` under `directory`
// (DIR/YYYY/MM/DD/flows-YYYYMMDDhhmmss.pcap[.zst]).
std::string StoreFilePath(const std::string& directory, TimeUs start_us, bool compressed);

// Every completed store file under `directory` (recursively), in time order, keeping those
// that may hold datagrams received in [from_us, to_us): those whose interval overlaps it, and
// the first after it (a datagram that reached the writer just after a rotation is there, with
// its earlier receive time). Other files are ignored. Errors: the
// directory cannot be read (NotFound / PermissionDenied with the path).
absl::StatusOr<std::vector<StoreFile>> ListStoreFiles(const std::string& directory,
                                                      TimeUs from_us = 0,
                                                      TimeUs to_us = kNoTimeLimit);

// Parses a --from/--to argument, relative to `now_us`: ISO 8601 in UTC unless it carries an
// offset ("2026-12-02", "2026-12-02T13:05", "2026-12-02 13:05:30", "2026-12-02T13:05:30Z",
// "2026-12-02T14:05+01:00"), a relative time ("-2h", "-30m", "-90s", "-1d", "-1w"), "now", or
// Unix seconds ("@1764680700"). InvalidArgument naming the text otherwise.
absl::StatusOr<TimeUs> ParseTimeArgument(absl::string_view text, TimeUs now_us);

// Parses --store-retention: an age ("30d", "12h", "90m", "3600s", "2w"), which sets `*seconds`,
// or a size ("200G", "500M", "1T", "64k"; powers of 1024), which sets `*bytes`. Lower-case m
// is minutes, upper-case M mebibytes. InvalidArgument naming the text otherwise.
absl::Status ParseRetention(absl::string_view text, int64_t* seconds, uint64_t* bytes);

}  // namespace nf

#endif  // NF_COLLECTOR_STORE_STORE_FILES_H_
