#include "enrich/mmdb_reader.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nf {

struct MmdbReader::Impl {
  MMDB_s mmdb{};
  bool open = false;
  ~Impl() {
    if (open) MMDB_close(&mmdb);
  }
};

namespace {

// MMDB_aget_value takes a null-terminated path array; MMDB_get_value's varargs form allocates
// one per call, which the per-record path must not do.
constexpr const char* kAsnPath[] = {"autonomous_system_number", nullptr};
constexpr const char* kCountryPath[] = {"country", "iso_code", nullptr};

}  // namespace

absl::StatusOr<std::unique_ptr<MmdbReader>> MmdbReader::Open(const std::string& path) {
  std::unique_ptr<MmdbReader> reader(new MmdbReader());
  reader->impl_ = std::make_unique<Impl>();
  reader->path_ = path;
  // libmaxminddb reports a directory or an empty file as a failed read with a stray errno
  // ("No such device", "Invalid argument"); say what is actually wrong.
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return absl::DataLossError(
          absl::StrCat(path, ": cannot open MaxMind database: not a regular file"));
    }
    if (st.st_size == 0) {
      return absl::DataLossError(
          absl::StrCat(path, ": not a valid MaxMind database: the file is empty"));
    }
  }
  errno = 0;
  const int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &reader->impl_->mmdb);
  if (rc != MMDB_SUCCESS) {
    if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR) {
      // libmaxminddb leaves errno set for I/O failures, which says more than its own text.
      const int err = errno;
      const std::string message = absl::StrCat(path, ": cannot open MaxMind database");
      if (err != 0) return absl::ErrnoToStatus(err, message);  // ENOENT: NotFound, ...
      return absl::DataLossError(absl::StrCat(message, ": ", MMDB_strerror(rc)));
    }
    return absl::DataLossError(
        absl::StrCat(path, ": not a valid MaxMind database: ", MMDB_strerror(rc)));
  }
  reader->impl_->open = true;
  const MMDB_s& db = reader->impl_->mmdb;
  if (db.metadata.ip_version != 4 && db.metadata.ip_version != 6) {
    return absl::DataLossError(absl::StrCat(
        path, ": not a valid MaxMind database: ip_version ", db.metadata.ip_version));
  }
  if (db.metadata.node_count == 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a valid MaxMind database: empty search tree"));
  }
  if (db.metadata.database_type != nullptr) reader->database_type_ = db.metadata.database_type;
  return reader;
}

MmdbReader::~MmdbReader() = default;

namespace {

// Looks `address` up and then `path` in its record. True with `data` filled when the address
// has a value there; counts corrupt-database errors in `errors`.
bool LookupValue(const MMDB_s& mmdb, const IpAddress& address, const char* const* path,
                 std::atomic<uint64_t>& errors, MMDB_entry_data_s& data) {
  sockaddr_in sin{};
  sockaddr_in6 sin6{};
  const sockaddr* sa = nullptr;
  if (address.is_v4() || address.is_v4_mapped()) {
    // libmaxminddb walks an IPv6 tree from its IPv4 subtree when given AF_INET, which is where
    // MaxMind puts IPv4 data; a mapped address looked up as IPv6 would depend on the file
    // carrying the ::ffff:0:0/96 alias.
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, address.bytes.data() + (address.is_v4() ? 0 : 12), 4);
    sa = reinterpret_cast<const sockaddr*>(&sin);
  } else if (address.is_v6()) {
    // An IPv4-only database has no IPv6 data: that is "not found", not a corrupt file.
    if (mmdb.metadata.ip_version == 4) return false;
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, address.bytes.data(), 16);
    sa = reinterpret_cast<const sockaddr*>(&sin6);
  } else {
    return false;
  }
  int mmdb_error = MMDB_SUCCESS;
  MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&mmdb, sa, &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS) {
    if (mmdb_error != MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) {
      errors.fetch_add(1, std::memory_order_relaxed);
    }
    return false;
  }
  if (!result.found_entry) return false;
  const int rc = MMDB_aget_value(&result.entry, &data, path);
  if (rc != MMDB_SUCCESS) {
    // A record without the key (a Country network without "country") is "not found"; anything
    // else means the data section is broken.
    if (rc != MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) {
      errors.fetch_add(1, std::memory_order_relaxed);
    }
    return false;
  }
  return data.has_data;
}

}  // namespace

uint32_t MmdbReader::LookupAsn(const IpAddress& address) const {
  MMDB_entry_data_s data{};
  if (!LookupValue(impl_->mmdb, address, kAsnPath, lookup_errors_, data)) return 0;
  // MaxMind and DB-IP write uint32; accept the other unsigned widths a custom writer may pick.
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT32:
      return data.uint32;
    case MMDB_DATA_TYPE_UINT16:
      return data.uint16;
    case MMDB_DATA_TYPE_UINT64:
      return data.uint64 <= UINT32_MAX ? static_cast<uint32_t>(data.uint64) : 0;
    default:
      return 0;
  }
}

CountryCode MmdbReader::LookupCountry(const IpAddress& address) const {
  MMDB_entry_data_s data{};
  if (!LookupValue(impl_->mmdb, address, kCountryPath, lookup_errors_, data) ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING || data.data_size != 2) {
    return CountryCode{};
  }
  return CountryCode{data.utf8_string[0], data.utf8_string[1]};
}

}  // namespace nf
