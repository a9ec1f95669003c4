#include "enrich/routes_file.h"

#include <bzlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/byte_reader.h"
#include "common/ip_address.h"
#include "common/status_macros.h"

namespace nf {
namespace {

// Compressed input is read in chunks of this size; decompressed output lands in a window that
// grows only when one MRT record is bigger than it.
constexpr size_t kRawChunk = 256 * 1024;
constexpr size_t kWindow = 256 * 1024;
// A RIB record holds one prefix's paths from every peer (well under 1 MiB even at the largest
// collectors). A bigger length is corruption: failing at once names the record instead of
// buffering the rest of the file first.
constexpr uint32_t kMaxRecordLength = 64u << 20;
// Networks-file lines are short; a longer "line" means a binary or runaway file.
constexpr size_t kMaxLineLength = 4096;
// How much of the decompressed start is looked at to tell text from MRT.
constexpr size_t kSniffBytes = 4096;

constexpr uint16_t kTypeTableDump = 12;
constexpr uint16_t kTypeTableDumpV2 = 13;
constexpr uint16_t kTdAfiIpv4 = 1;
constexpr uint16_t kTdAfiIpv6 = 2;
constexpr uint16_t kTd2PeerIndexTable = 1;
constexpr uint16_t kTd2RibIpv4Unicast = 2;
constexpr uint16_t kTd2RibIpv6Unicast = 4;
constexpr uint16_t kTd2RibIpv4UnicastAddPath = 8;
constexpr uint16_t kTd2RibIpv6UnicastAddPath = 10;

constexpr uint8_t kAttrOrigin = 1;
constexpr uint8_t kAttrAsPath = 2;
constexpr uint8_t kAttrMed = 4;
constexpr uint8_t kAttrLocalPref = 5;
constexpr uint8_t kAttrAggregator = 7;
constexpr uint8_t kAttrAs4Path = 17;
constexpr uint8_t kAttrAs4Aggregator = 18;
constexpr uint8_t kAttrFlagExtendedLength = 0x10;

constexpr uint8_t kSegAsSet = 1;
constexpr uint8_t kSegAsSequence = 2;
constexpr uint8_t kSegConfedSequence = 3;
constexpr uint8_t kSegConfedSet = 4;

constexpr uint8_t kOriginIncomplete = 2;
constexpr uint32_t kDefaultLocalPref = 100;
constexpr uint32_t kAsTrans = 23456;

// ---------------------------------------------------------------------------------------------
// Input: raw bytes (file or memory) -> decoder (plain, gzip, bzip2) -> window the parsers read.

class RawInput {
 public:
  explicit RawInput(std::span<const uint8_t> memory) : memory_(memory) {}
  RawInput(FILE* file, const std::string& name) : file_(file), name_(name) {}

  // The next chunk of bytes; empty at the end.
  absl::StatusOr<std::span<const uint8_t>> Next() {
    if (file_ == nullptr) {
      // zlib and libbz2 count input in 32-bit units, so memory goes out in bounded pieces.
      const size_t n = std::min<size_t>(memory_.size(), size_t{1} << 30);
      std::span<const uint8_t> out = memory_.first(n);
      memory_ = memory_.subspan(n);
      return out;
    }
    buffer_.resize(kRawChunk);
    const size_t n = std::fread(buffer_.data(), 1, buffer_.size(), file_);
    if (n == 0 && std::ferror(file_)) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot read routes file ", name_));
    }
    return std::span<const uint8_t>(buffer_.data(), n);
  }

 private:
  std::span<const uint8_t> memory_;
  FILE* file_ = nullptr;
  std::string name_;
  std::vector<uint8_t> buffer_;
};

class Decoder {
 public:
  virtual ~Decoder() = default;
  // Writes up to `capacity` bytes of decompressed data to `out`; 0 means the end.
  virtual absl::StatusOr<size_t> Read(uint8_t* out, size_t capacity) = 0;
};

// The first raw chunk was already taken to look at the magic bytes; every decoder starts there.
class PlainDecoder : public Decoder {
 public:
  PlainDecoder(RawInput& raw, std::span<const uint8_t> first) : raw_(raw), pending_(first) {}
  absl::StatusOr<size_t> Read(uint8_t* out, size_t capacity) override {
    while (pending_.empty()) {
      if (eof_) return 0;
      NF_ASSIGN_OR_RETURN(pending_, raw_.Next());
      if (pending_.empty()) eof_ = true;
    }
    const size_t n = std::min(capacity, pending_.size());
    std::memcpy(out, pending_.data(), n);
    pending_ = pending_.subspan(n);
    return n;
  }

 private:
  RawInput& raw_;
  std::span<const uint8_t> pending_;
  bool eof_ = false;
};

class GzipDecoder : public Decoder {
 public:
  GzipDecoder(RawInput& raw, std::span<const uint8_t> first, const std::string& name)
      : raw_(raw), name_(name) {
    zs_.next_in = const_cast<Bytef*>(first.data());
    zs_.avail_in = static_cast<uInt>(first.size());
  }
  ~GzipDecoder() override {
    if (initialised_) inflateEnd(&zs_);
  }

  absl::StatusOr<size_t> Read(uint8_t* out, size_t capacity) override {
    if (!initialised_) {
      // 15 + 32: the largest window, with the gzip (or zlib) header detected by zlib.
      if (inflateInit2(&zs_, 15 + 32) != Z_OK) return absl::ResourceExhaustedError("inflateInit2");
      initialised_ = true;
    }
    zs_.next_out = out;
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(capacity, size_t{1} << 30));
    const uInt asked = zs_.avail_out;
    while (zs_.avail_out > 0) {
      if (zs_.avail_in == 0 && !raw_eof_) {
        NF_ASSIGN_OR_RETURN(std::span<const uint8_t> chunk, raw_.Next());
        if (chunk.empty()) raw_eof_ = true;
        zs_.next_in = const_cast<Bytef*>(chunk.data());
        zs_.avail_in = static_cast<uInt>(chunk.size());
      }
      if (zs_.avail_in == 0 && raw_eof_) {
        if (in_member_) {
          return absl::DataLossError(
              absl::StrCat(name_, ": gzip data ends before the end of its stream (truncated)"));
        }
        break;
      }
      if (!in_member_) {
        // Bytes after a finished member: the next member of a concatenated gzip file.
        inflateReset(&zs_);
        in_member_ = true;
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        in_member_ = false;
      } else if (rc == Z_BUF_ERROR && zs_.avail_in == 0) {
        // Needs more input: the loop fetches it.
      } else if (rc != Z_OK) {
        return absl::DataLossError(absl::StrCat(
            name_, ": corrupt gzip data (zlib: ",
            zs_.msg != nullptr ? std::string(zs_.msg) : absl::StrCat("error ", rc), ")"));
      }
    }
    return asked - zs_.avail_out;
  }

 private:
  RawInput& raw_;
  const std::string& name_;
  z_stream zs_{};
  bool initialised_ = false;
  bool in_member_ = true;
  bool raw_eof_ = false;
};

class Bzip2Decoder : public Decoder {
 public:
  Bzip2Decoder(RawInput& raw, std::span<const uint8_t> first, const std::string& name)
      : raw_(raw), name_(name), next_in_(first) {}
  ~Bzip2Decoder() override {
    if (in_stream_) BZ2_bzDecompressEnd(&bs_);
  }

  absl::StatusOr<size_t> Read(uint8_t* out, size_t capacity) override {
    size_t produced = 0;
    capacity = std::min<size_t>(capacity, size_t{1} << 30);
    while (produced < capacity) {
      if (next_in_.empty() && (!in_stream_ || bs_.avail_in == 0) && !raw_eof_) {
        NF_ASSIGN_OR_RETURN(next_in_, raw_.Next());
        if (next_in_.empty()) raw_eof_ = true;
      }
      if (!in_stream_) {
        if (next_in_.empty()) break;  // end of the last concatenated stream
        bs_ = {};
        if (BZ2_bzDecompressInit(&bs_, 0, 0) != BZ_OK) {
          return absl::ResourceExhaustedError("BZ2_bzDecompressInit");
        }
        in_stream_ = true;
      }
      if (bs_.avail_in == 0) {
        if (next_in_.empty()) {
          return absl::DataLossError(
              absl::StrCat(name_, ": bzip2 data ends before the end of its stream (truncated)"));
        }
        bs_.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(next_in_.data()));
        bs_.avail_in = static_cast<unsigned>(next_in_.size());
        next_in_ = {};
      }
      bs_.next_out = reinterpret_cast<char*>(out + produced);
      bs_.avail_out = static_cast<unsigned>(capacity - produced);
      const int rc = BZ2_bzDecompress(&bs_);
      produced = capacity - bs_.avail_out;
      if (rc == BZ_STREAM_END) {
        // Whatever input is left belongs to the next stream of a concatenated file.
        next_in_ =
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bs_.next_in), bs_.avail_in);
        BZ2_bzDecompressEnd(&bs_);
        in_stream_ = false;
      } else if (rc != BZ_OK) {
        return absl::DataLossError(
            absl::StrCat(name_, ": corrupt bzip2 data (libbz2 error ", rc, ")"));
      }
    }
    return produced;
  }

 private:
  RawInput& raw_;
  const std::string& name_;
  bz_stream bs_{};
  std::span<const uint8_t> next_in_;  // input not yet handed to libbz2
  bool in_stream_ = false;
  bool raw_eof_ = false;
};

// A sliding window over the decompressed bytes, so a record or line is always contiguous.
class Window {
 public:
  explicit Window(Decoder& decoder) : decoder_(decoder) {}

  // Makes at least `want` unread bytes available, unless the data ends first.
  absl::Status Fill(size_t want) {
    if (available() >= want || eof_) return absl::OkStatus();
    const size_t size = std::max(want, kWindow);
    if (capacity_ < size) {
      // Not zero-filled: the decoder overwrites whatever it hands out.
      std::unique_ptr<uint8_t[]> bigger = std::make_unique_for_overwrite<uint8_t[]>(size);
      if (available() > 0) std::memcpy(bigger.get(), buffer_.get() + begin_, available());
      buffer_ = std::move(bigger);
      capacity_ = size;
      end_ -= begin_;
      begin_ = 0;
    } else if (begin_ > 0) {
      std::memmove(buffer_.get(), buffer_.get() + begin_, available());
      end_ -= begin_;
      begin_ = 0;
    }
    while (available() < want && !eof_) {
      NF_ASSIGN_OR_RETURN(size_t n, decoder_.Read(buffer_.get() + end_, capacity_ - end_));
      if (n == 0) eof_ = true;
      end_ += n;
    }
    return absl::OkStatus();
  }
  const uint8_t* data() const { return buffer_.get() + begin_; }
  size_t available() const { return end_ - begin_; }
  void Consume(size_t n) {
    begin_ += n;
    offset_ += n;
  }
  // Offset of data() in the decompressed stream.
  uint64_t offset() const { return offset_; }

 private:
  Decoder& decoder_;
  std::unique_ptr<uint8_t[]> buffer_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
};

// ---------------------------------------------------------------------------------------------
// Candidates and their order.

struct PrefixKey {
  uint8_t version = 0;
  uint8_t length = 0;
  std::array<uint8_t, 16> bytes{};
  friend bool operator==(const PrefixKey&, const PrefixKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const PrefixKey& k) {
    return H::combine(std::move(h), k.version, k.length, k.bytes);
  }
};

struct Candidate {
  uint32_t local_pref = kDefaultLocalPref;
  uint32_t path_length = 0;
  uint32_t med = 0;
  uint32_t origin_as = 0;
  uint8_t origin = kOriginIncomplete;  // IGP 0 < EGP 1 < INCOMPLETE 2 (also when absent)
  bool from_text = false;
};

// True when `challenger` replaces `incumbent`; ties keep the incumbent (first seen).
bool Beats(const Candidate& challenger, const Candidate& incumbent) {
  if (incumbent.from_text) return false;
  if (challenger.from_text) return true;
  if (challenger.local_pref != incumbent.local_pref) {
    return challenger.local_pref > incumbent.local_pref;
  }
  if (challenger.path_length != incumbent.path_length) {
    return challenger.path_length < incumbent.path_length;
  }
  if (challenger.origin != incumbent.origin) return challenger.origin < incumbent.origin;
  return challenger.med < incumbent.med;
}

// Clears the bits past `length` (MRT prefixes may carry junk there; text ones host bits).
void MaskKey(PrefixKey& key) {
  const int total = key.version == 4 ? 4 : 16;
  for (int i = 0; i < total; ++i) {
    const int bit = i * 8;
    if (bit >= key.length) {
      key.bytes[i] = 0;
    } else if (bit + 8 > key.length) {
      key.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (key.length - bit)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AS_PATH.

struct PathSummary {
  uint32_t length = 0;  // AS_SEQUENCE ASes + 1 per AS_SET; confederation segments count 0
  uint32_t last_sequence_as = 0;
  bool has_sequence = false;
};

// Validates a path attribute and summarises its first `max_units` counted ASes (all of them
// unless an RFC 6793 merge wants only the leading part of the 2-byte AS_PATH).
absl::Status SummarisePath(std::span<const uint8_t> path, size_t asn_size, uint32_t max_units,
                           PathSummary& out) {
  ByteReader r(path);
  while (!r.empty()) {
    uint8_t type = 0;
    uint8_t count = 0;
    std::span<const uint8_t> ases;
    if (!r.ReadU8(type) || !r.ReadU8(count))
      return absl::DataLossError("segment header truncated");
    if (!r.ReadSpan(size_t{count} * asn_size, ases)) {
      return absl::DataLossError(
          absl::StrFormat("segment of %d ASes overruns the attribute", count));
    }
    switch (type) {
      case kSegAsSequence: {
        const uint32_t take = std::min<uint32_t>(count, max_units - out.length);
        if (take > 0) {
          const uint8_t* last = ases.data() + (take - 1) * asn_size;
          out.last_sequence_as =
              asn_size == 4 ? ByteReader::LoadBe32(last) : ByteReader::LoadBe16(last);
          out.has_sequence = true;
          out.length += take;
        }
        break;
      }
      case kSegAsSet:
        if (count > 0 && out.length < max_units) ++out.length;
        break;
      case kSegConfedSequence:
      case kSegConfedSet:
        break;  // RFC 5065: confederation segments do not count in the path length
      default:
        return absl::DataLossError(absl::StrFormat("unknown segment type %d", type));
    }
  }
  return absl::OkStatus();
}

// Reads the attributes of one path into `out` (origin_as falls back to `peer_as`).
// `asn_size` is 2 for TABLE_DUMP, whose 4-byte ASNs live in AS4_PATH, and 4 for TABLE_DUMP_V2.
absl::Status ParseAttributes(std::span<const uint8_t> attrs, size_t asn_size, uint32_t peer_as,
                             Candidate& out) {
  ByteReader r(attrs);
  std::span<const uint8_t> as_path;
  std::span<const uint8_t> as4_path;
  bool have_as4_path = false;
  bool have_as4_aggregator = false;
  bool aggregator_not_trans = false;
  while (!r.empty()) {
    uint8_t flags = 0;
    uint8_t type = 0;
    if (!r.ReadU8(flags) || !r.ReadU8(type)) {
      return absl::DataLossError("attribute header truncated");
    }
    size_t length = 0;
    if (flags & kAttrFlagExtendedLength) {
      uint16_t l = 0;
      if (!r.ReadU16(l)) return absl::DataLossError("attribute length truncated");
      length = l;
    } else {
      uint8_t l = 0;
      if (!r.ReadU8(l)) return absl::DataLossError("attribute length truncated");
      length = l;
    }
    std::span<const uint8_t> value;
    if (!r.ReadSpan(length, value)) {
      return absl::DataLossError(absl::StrFormat(
          "attribute %d of %d bytes overruns the %d bytes left", type, length, r.remaining()));
    }
    switch (type) {
      case kAttrOrigin:
        if (length != 1 || value[0] > kOriginIncomplete) {
          return absl::DataLossError("bad ORIGIN attribute");
        }
        out.origin = value[0];
        break;
      case kAttrAsPath:
        as_path = value;
        break;
      case kAttrMed:
        if (length != 4) return absl::DataLossError("MED attribute is not 4 bytes");
        out.med = ByteReader::LoadBe32(value.data());
        break;
      case kAttrLocalPref:
        if (length != 4) return absl::DataLossError("LOCAL_PREF attribute is not 4 bytes");
        out.local_pref = ByteReader::LoadBe32(value.data());
        break;
      case kAttrAggregator:
        // Only consulted for the RFC 6793 rule below; some TABLE_DUMP writers put a 4-byte AS
        // here, so both sizes are read.
        if (length == 6) aggregator_not_trans = ByteReader::LoadBe16(value.data()) != kAsTrans;
        if (length == 8) aggregator_not_trans = ByteReader::LoadBe32(value.data()) != kAsTrans;
        break;
      case kAttrAs4Path:
        as4_path = value;
        have_as4_path = true;
        break;
      case kAttrAs4Aggregator:
        have_as4_aggregator = true;
        break;
      default:
        break;
    }
  }
  PathSummary path;
  if (absl::Status s = SummarisePath(as_path, asn_size, std::numeric_limits<uint32_t>::max(), path);
      !s.ok()) {
    return absl::DataLossError(absl::StrCat("AS_PATH: ", s.message()));
  }
  // RFC 6793 4.2.3: a 2-byte AS_PATH stands for AS_TRANS where AS4_PATH has the real 4-byte
  // ASNs; the AS4_PATH is ignored when longer than the AS_PATH, or when an AGGREGATOR that is
  // not AS_TRANS comes with an AS4_AGGREGATOR. Otherwise the path is the leading ASes of the
  // AS_PATH followed by the AS4_PATH. AS4_PATH only exists for 2-byte speakers.
  if (asn_size == 2 && have_as4_path && !(aggregator_not_trans && have_as4_aggregator)) {
    PathSummary path4;
    if (absl::Status s = SummarisePath(as4_path, 4, std::numeric_limits<uint32_t>::max(), path4);
        !s.ok()) {
      return absl::DataLossError(absl::StrCat("AS4_PATH: ", s.message()));
    }
    if (path4.length <= path.length) {
      PathSummary head;
      (void)SummarisePath(as_path, asn_size, path.length - path4.length, head);  // valid above
      PathSummary merged;
      merged.length = head.length + path4.length;
      merged.has_sequence = path4.has_sequence || head.has_sequence;
      merged.last_sequence_as = path4.has_sequence ? path4.last_sequence_as : head.last_sequence_as;
      path = merged;
    }
  }
  out.path_length = path.length;
  out.origin_as = path.has_sequence ? path.last_sequence_as : peer_as;
  return absl::OkStatus();
}

const char* RecordName(uint16_t type, uint16_t subtype) {
  if (type == kTypeTableDump)
    return subtype == kTdAfiIpv6 ? "TABLE_DUMP AFI_IPv6" : "TABLE_DUMP AFI_IPv4";
  switch (subtype) {
    case kTd2PeerIndexTable:
      return "TABLE_DUMP_V2 PEER_INDEX_TABLE";
    case kTd2RibIpv4Unicast:
      return "TABLE_DUMP_V2 RIB_IPV4_UNICAST";
    case kTd2RibIpv6Unicast:
      return "TABLE_DUMP_V2 RIB_IPV6_UNICAST";
    case kTd2RibIpv4UnicastAddPath:
      return "TABLE_DUMP_V2 RIB_IPV4_UNICAST_ADDPATH";
    case kTd2RibIpv6UnicastAddPath:
      return "TABLE_DUMP_V2 RIB_IPV6_UNICAST_ADDPATH";
    default:
      return "MRT";
  }
}

bool IsMrtType(uint16_t type) {
  switch (type) {
    case 11:
    case 12:
    case 13:
    case 16:
    case 17:
    case 32:
    case 33:
    case 48:
    case 49:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Networks-file fields.

// "65001", "AS65001" (any case) or asdot "1.10" (RFC 5396).
bool ParseAsNumber(absl::string_view text, uint32_t& out) {
  if (text.size() > 2 && (text[0] == 'A' || text[0] == 'a') && (text[1] == 'S' || text[1] == 's')) {
    text.remove_prefix(2);
  }
  auto parse_u64 = [](absl::string_view t, uint64_t& v) {
    if (t.empty()) return false;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    return ec == std::errc() && ptr == t.data() + t.size();
  };
  uint64_t value = 0;
  if (const size_t dot = text.find('.'); dot != absl::string_view::npos) {
    uint64_t high = 0;
    uint64_t low = 0;
    if (!parse_u64(text.substr(0, dot), high) || !parse_u64(text.substr(dot + 1), low) ||
        high > 0xffff || low > 0xffff) {
      return false;
    }
    value = (high << 16) | low;
  } else if (!parse_u64(text, value) || value > 0xffffffffu) {
    return false;
  }
  out = static_cast<uint32_t>(value);
  return true;
}

// Splits `text` at any of `separators` into `out` without allocating (lines are parsed one by
// one, and networks files can be long); returns the field count, which may exceed out.size().
size_t SplitFields(absl::string_view text, absl::string_view separators, bool skip_empty,
                   std::array<absl::string_view, 4>& out) {
  size_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && separators.find(text[i]) == absl::string_view::npos) continue;
    if (!skip_empty || i > start) {
      if (n < out.size()) out[n] = text.substr(start, i - start);
      ++n;
    }
    start = i + 1;
  }
  return n;
}

// "192.0.2.0/24" or "2001:db8::/32"; host bits are cleared ("192.0.2.1/24" is 192.0.2.0/24).
absl::Status ParsePrefix(absl::string_view text, PrefixKey& key) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) {
    return absl::DataLossError(
        absl::StrCat("'", text, "' is not a prefix (expected ADDRESS/LENGTH)"));
  }
  absl::StatusOr<IpAddress> address = ParseIpAddress(text.substr(0, slash));
  if (!address.ok()) {
    return absl::DataLossError(
        absl::StrCat("bad prefix '", text, "': ", address.status().message()));
  }
  const absl::string_view len_text = text.substr(slash + 1);
  unsigned length = 0;
  auto [ptr, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), length);
  const unsigned max_length = address->is_v4() ? 32 : 128;
  if (len_text.empty() || ec != std::errc() || ptr != len_text.data() + len_text.size() ||
      length > max_length) {
    return absl::DataLossError(
        absl::StrFormat("bad prefix length in '%s' (expected 0..%d)", text, max_length));
  }
  // An IPv4 network written IPv4-mapped (::ffff:192.0.2.0/120) is an IPv4 route: lookups of
  // IPv4 and IPv4-mapped addresses go to the IPv4 table, so as IPv6 it could never match.
  if (address->is_v4_mapped() && length >= 96) {
    *address = address->Unmapped();
    length -= 96;
  }
  key.version = address->version;
  key.length = static_cast<uint8_t>(length);
  key.bytes = address->bytes;
  MaskKey(key);
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct RoutesBuilder::Impl {
  explicit Impl(RoutesLoadStats& s) : stats(s) {}

  RoutesLoadStats& stats;
  absl::flat_hash_map<PrefixKey, Candidate> best;
  std::vector<uint32_t> peer_as;  // of the current file's PEER_INDEX_TABLE
  bool have_peer_table = false;
  uint64_t routes_in_file = 0;

  void Offer(const PrefixKey& key, const Candidate& candidate) {
    ++routes_in_file;
    auto [it, inserted] = best.try_emplace(key, candidate);
    if (!inserted && Beats(candidate, it->second)) it->second = candidate;
  }

  absl::Status AddSource(const std::string& name, RawInput& raw);
  absl::Status ReadMrt(const std::string& name, Window& window);
  absl::Status ReadText(const std::string& name, Window& window);
  absl::Status TableDump(uint16_t subtype, std::span<const uint8_t> body);
  absl::Status PeerIndexTable(std::span<const uint8_t> body);
  absl::Status Rib(uint16_t subtype, std::span<const uint8_t> body);
  absl::Status TextLine(absl::string_view line);
};

absl::Status RoutesBuilder::Impl::AddSource(const std::string& name, RawInput& raw) {
  ++stats.files;
  peer_as.clear();
  have_peer_table = false;
  routes_in_file = 0;

  NF_ASSIGN_OR_RETURN(std::span<const uint8_t> first, raw.Next());
  std::unique_ptr<Decoder> decoder;
  if (first.size() >= 2 && first[0] == 0x1f && first[1] == 0x8b) {
    decoder = std::make_unique<GzipDecoder>(raw, first, name);
  } else if (first.size() >= 4 && first[0] == 'B' && first[1] == 'Z' && first[2] == 'h' &&
             first[3] >= '1' && first[3] <= '9') {
    decoder = std::make_unique<Bzip2Decoder>(raw, first, name);
  } else {
    decoder = std::make_unique<PlainDecoder>(raw, first);
  }
  Window window(*decoder);
  NF_RETURN_IF_ERROR(window.Fill(kSniffBytes));
  const uint8_t* d = window.data();
  const size_t n = window.available();
  if (n == 0) return absl::DataLossError(absl::StrCat(name, ": no routes (empty file)"));

  // MRT records open with a 4-byte timestamp and a 2-byte type whose high byte is 0; a
  // networks file is text, which never holds a NUL.
  if (n >= 12 && d[4] == 0 && IsMrtType(ByteReader::LoadBe16(d + 4))) {
    NF_RETURN_IF_ERROR(ReadMrt(name, window));
    if (routes_in_file == 0) {
      return absl::DataLossError(
          absl::StrCat(name, ": no routes (an MRT file without IPv4/IPv6 unicast RIB entries)"));
    }
    return absl::OkStatus();
  }
  // Binary data nearly always has a NUL within its first few KiB; a stray control character
  // in an otherwise text file is reported with its line number instead.
  if (std::memchr(d, 0, std::min(n, kSniffBytes)) != nullptr) {
    return absl::DataLossError(absl::StrFormat(
        "%s: neither an MRT RIB dump nor a networks file (starts with bytes %s)", name,
        absl::BytesToHexString(
            absl::string_view(reinterpret_cast<const char*>(d), std::min<size_t>(n, 8)))));
  }
  NF_RETURN_IF_ERROR(ReadText(name, window));
  if (routes_in_file == 0) {
    return absl::DataLossError(
        absl::StrCat(name, ": no routes (a text file without a prefix line)"));
  }
  return absl::OkStatus();
}

absl::Status RoutesBuilder::Impl::ReadMrt(const std::string& name, Window& window) {
  for (;;) {
    NF_RETURN_IF_ERROR(window.Fill(12));
    const size_t available = window.available();
    if (available == 0) return absl::OkStatus();
    const uint64_t offset = window.offset();
    if (available < 12) {
      return absl::DataLossError(absl::StrFormat(
          "%s: offset %d: MRT record header truncated (%d of 12 bytes)", name, offset, available));
    }
    const uint16_t type = ByteReader::LoadBe16(window.data() + 4);
    const uint16_t subtype = ByteReader::LoadBe16(window.data() + 6);
    const uint32_t length = ByteReader::LoadBe32(window.data() + 8);
    if (length > kMaxRecordLength) {
      return absl::DataLossError(absl::StrFormat(
          "%s: offset %d: MRT record (type %d subtype %d) claims %d bytes, more than any real "
          "record",
          name, offset, type, subtype, length));
    }
    NF_RETURN_IF_ERROR(window.Fill(size_t{12} + length));
    if (window.available() < size_t{12} + length) {
      return absl::DataLossError(absl::StrFormat(
          "%s: offset %d: MRT record (type %d subtype %d) truncated: its header says %d bytes, "
          "%d are left",
          name, offset, type, subtype, length, window.available() - 12));
    }
    ++stats.mrt_records;
    const std::span<const uint8_t> body(window.data() + 12, length);
    absl::Status status;
    if (type == kTypeTableDump && (subtype == kTdAfiIpv4 || subtype == kTdAfiIpv6)) {
      status = TableDump(subtype, body);
    } else if (type == kTypeTableDumpV2 && subtype == kTd2PeerIndexTable) {
      status = PeerIndexTable(body);
    } else if (type == kTypeTableDumpV2 &&
               (subtype == kTd2RibIpv4Unicast || subtype == kTd2RibIpv6Unicast ||
                subtype == kTd2RibIpv4UnicastAddPath || subtype == kTd2RibIpv6UnicastAddPath)) {
      status = Rib(subtype, body);
    } else {
      ++stats.skipped;  // multicast, generic, BGP4MP updates, IGP dumps: not a unicast RIB
    }
    if (!status.ok()) {
      return absl::DataLossError(absl::StrFormat("%s: offset %d: %s record: %s", name,
                                                        offset, RecordName(type, subtype),
                                                        status.message()));
    }
    window.Consume(size_t{12} + length);
  }
}

absl::Status RoutesBuilder::Impl::TableDump(uint16_t subtype, std::span<const uint8_t> body) {
  const bool v6 = subtype == kTdAfiIpv6;
  const size_t address_size = v6 ? 16 : 4;
  ByteReader r(body);
  std::span<const uint8_t> prefix;
  uint8_t length = 0;
  uint16_t peer = 0;
  uint16_t attr_length = 0;
  // view, sequence | prefix | length | status, originated time | peer IP | peer AS | attr len
  if (!r.Skip(4) || !r.ReadSpan(address_size, prefix) || !r.ReadU8(length) || !r.Skip(5) ||
      !r.Skip(address_size) || !r.ReadU16(peer) || !r.ReadU16(attr_length)) {
    return absl::DataLossError(
        absl::StrFormat("%d bytes, shorter than the fixed fields", body.size()));
  }
  if (length > address_size * 8) {
    return absl::DataLossError(absl::StrFormat("prefix length %d", length));
  }
  if (attr_length != r.remaining()) {
    return absl::DataLossError(
        absl::StrFormat("attribute length %d but %d bytes follow", attr_length, r.remaining()));
  }
  PrefixKey key;
  key.version = v6 ? 6 : 4;
  key.length = length;
  std::memcpy(key.bytes.data(), prefix.data(), address_size);
  MaskKey(key);
  Candidate candidate;
  NF_RETURN_IF_ERROR(ParseAttributes(r.rest(), 2, peer, candidate));
  ++stats.rib_entries;
  Offer(key, candidate);
  return absl::OkStatus();
}

absl::Status RoutesBuilder::Impl::PeerIndexTable(std::span<const uint8_t> body) {
  ByteReader r(body);
  uint16_t name_length = 0;
  uint16_t count = 0;
  if (!r.Skip(4) || !r.ReadU16(name_length) || !r.Skip(name_length) || !r.ReadU16(count)) {
    return absl::DataLossError("header truncated");
  }
  peer_as.clear();
  peer_as.reserve(count);
  for (uint16_t i = 0; i < count; ++i) {
    uint8_t peer_type = 0;
    uint32_t as = 0;
    bool ok = r.ReadU8(peer_type) && r.Skip(4) && r.Skip((peer_type & 1) ? 16 : 4);
    if (ok && (peer_type & 2)) {
      ok = r.ReadU32(as);
    } else if (ok) {
      uint16_t as16 = 0;
      ok = r.ReadU16(as16);
      as = as16;
    }
    if (!ok) {
      return absl::DataLossError(absl::StrFormat("peer entry %d of %d truncated", i, count));
    }
    peer_as.push_back(as);
  }
  if (!r.empty()) {
    return absl::DataLossError(
        absl::StrFormat("%d bytes after the %d peer entries", r.remaining(), count));
  }
  have_peer_table = true;
  return absl::OkStatus();
}

absl::Status RoutesBuilder::Impl::Rib(uint16_t subtype, std::span<const uint8_t> body) {
  if (!have_peer_table) {
    return absl::DataLossError("RIB record before any PEER_INDEX_TABLE");
  }
  const bool v6 = subtype == kTd2RibIpv6Unicast || subtype == kTd2RibIpv6UnicastAddPath;
  const bool add_path =
      subtype == kTd2RibIpv4UnicastAddPath || subtype == kTd2RibIpv6UnicastAddPath;
  ByteReader r(body);
  uint8_t length = 0;
  std::span<const uint8_t> prefix;
  uint16_t count = 0;
  if (!r.Skip(4) || !r.ReadU8(length)) return absl::DataLossError("header truncated");
  if (length > (v6 ? 128 : 32)) {
    return absl::DataLossError(absl::StrFormat("prefix length %d", length));
  }
  if (!r.ReadSpan((length + 7) / 8, prefix) || !r.ReadU16(count)) {
    return absl::DataLossError("header truncated");
  }
  PrefixKey key;
  key.version = v6 ? 6 : 4;
  key.length = length;
  std::memcpy(key.bytes.data(), prefix.data(), prefix.size());
  MaskKey(key);
  if (count == 0) ++stats.skipped;  // a prefix without a path
  for (uint16_t i = 0; i < count; ++i) {
    uint16_t peer_index = 0;
    uint16_t attr_length = 0;
    std::span<const uint8_t> attrs;
    // peer index | originated time | [path identifier] | attribute length | attributes
    if (!r.ReadU16(peer_index) || !r.Skip(add_path ? 8 : 4) || !r.ReadU16(attr_length) ||
        !r.ReadSpan(attr_length, attrs)) {
      return absl::DataLossError(absl::StrFormat("entry %d of %d truncated", i, count));
    }
    if (peer_index >= peer_as.size()) {
      return absl::DataLossError(
          absl::StrFormat("entry %d: peer index %d, but the PEER_INDEX_TABLE has %d peers", i,
                          peer_index, peer_as.size()));
    }
    Candidate candidate;
    if (absl::Status s = ParseAttributes(attrs, 4, peer_as[peer_index], candidate); !s.ok()) {
      return absl::DataLossError(absl::StrFormat("entry %d: %s", i, s.message()));
    }
    ++stats.rib_entries;
    Offer(key, candidate);
  }
  if (!r.empty()) {
    return absl::DataLossError(
        absl::StrFormat("%d bytes after the %d entries", r.remaining(), count));
  }
  return absl::OkStatus();
}

absl::Status RoutesBuilder::Impl::ReadText(const std::string& name, Window& window) {
  uint64_t line_number = 0;
  for (;;) {
    NF_RETURN_IF_ERROR(window.Fill(kMaxLineLength + 1));
    const size_t available = window.available();
    if (available == 0) return absl::OkStatus();
    ++line_number;
    const char* d = reinterpret_cast<const char*>(window.data());
    const size_t scan = std::min(available, kMaxLineLength + 1);
    const void* newline = std::memchr(d, '\n', scan);
    size_t line_length = 0;
    size_t consumed = 0;
    if (newline != nullptr) {
      line_length = static_cast<const char*>(newline) - d;
      consumed = line_length + 1;
    } else if (available > kMaxLineLength) {
      return absl::DataLossError(
          absl::StrFormat("%s:%d: line longer than %d bytes", name, line_number, kMaxLineLength));
    } else {
      line_length = consumed = available;  // last line without a newline
    }
    absl::string_view line(d, line_length);
    if (line_number == 1 && line.substr(0, 3) == "\xef\xbb\xbf") line.remove_prefix(3);  // BOM
    if (absl::Status s = TextLine(line); !s.ok()) {
      return absl::DataLossError(
          absl::StrFormat("%s:%d: %s", name, line_number, s.message()));
    }
    window.Consume(consumed);
  }
}

// One networks-file line: `[PEER_AS,]AS,PREFIX` (pmacct), `PREFIX [AS]`, or a bare prefix.
// `#` starts a comment anywhere; `!` at the start is a comment too, as in pmacct's files.
absl::Status RoutesBuilder::Impl::TextLine(absl::string_view line) {
  for (const char c : line) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t' && c != '\r' && c != '\f' && c != '\v') || u == 0x7f) {
      return absl::DataLossError(absl::StrFormat("control character 0x%02x", u));
    }
  }
  if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
    line = line.substr(0, hash);
  }
  line = absl::StripAsciiWhitespace(line);
  if (line.empty() || line[0] == '!') return absl::OkStatus();

  absl::string_view prefix_text;
  absl::string_view as_text;
  std::array<absl::string_view, 4> fields;
  if (line.find(',') != absl::string_view::npos) {
    const size_t n = SplitFields(line, ",", /*skip_empty=*/false, fields);
    bool empty_field = false;
    for (size_t i = 0; i < std::min(n, fields.size()); ++i) {
      fields[i] = absl::StripAsciiWhitespace(fields[i]);
      empty_field |= fields[i].empty();
    }
    if (n > 3 || empty_field) {
      return absl::DataLossError(
          absl::StrCat("'", line, "' is not [PEER_AS,]AS,PREFIX (e.g. 65001,192.0.2.0/24)"));
    }
    uint32_t unused = 0;
    if (n == 3 && !ParseAsNumber(fields[0], unused)) {
      return absl::DataLossError(absl::StrCat("bad peer AS number '", fields[0], "'"));
    }
    as_text = fields[n - 2];
    prefix_text = fields[n - 1];
  } else {
    const size_t n = SplitFields(line, " \t\r\f\v", /*skip_empty=*/true, fields);
    if (n > 2) {
      return absl::DataLossError(
          absl::StrCat("'", line, "' is not PREFIX [AS] (e.g. 192.0.2.0/24 65001)"));
    }
    prefix_text = fields[0];
    if (n == 2) as_text = fields[1];
  }
  PrefixKey key;
  NF_RETURN_IF_ERROR(ParsePrefix(prefix_text, key));
  Candidate candidate;
  candidate.from_text = true;
  if (!as_text.empty() && !ParseAsNumber(as_text, candidate.origin_as)) {
    return absl::DataLossError(absl::StrCat("bad AS number '", as_text, "'"));
  }
  ++stats.text_lines;
  Offer(key, candidate);
  return absl::OkStatus();
}

RoutesBuilder::RoutesBuilder() : impl_(std::make_unique<Impl>(stats_)) {}
RoutesBuilder::~RoutesBuilder() = default;

absl::Status RoutesBuilder::AddFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot open routes file ", path));
  }
  RawInput raw(file, path);
  absl::Status status = impl_->AddSource(path, raw);
  std::fclose(file);
  return status;
}

absl::Status RoutesBuilder::AddBytes(const std::string& name, const std::string& bytes) {
  RawInput raw(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  return impl_->AddSource(name, raw);
}

std::vector<Route> RoutesBuilder::Finish() {
  std::vector<Route> routes;
  routes.reserve(impl_->best.size());
  for (const auto& [key, candidate] : impl_->best) {
    Route route;
    route.prefix.version = key.version;
    route.prefix.bytes = key.bytes;
    route.length = key.length;
    route.origin_as = candidate.origin_as;
    routes.push_back(route);
  }
  impl_->best.clear();
  std::sort(routes.begin(), routes.end(), [](const Route& a, const Route& b) {
    if (a.prefix.version != b.prefix.version) return a.prefix.version < b.prefix.version;
    if (const int c = std::memcmp(a.prefix.bytes.data(), b.prefix.bytes.data(), 16); c != 0) {
      return c < 0;
    }
    return a.length < b.length;
  });
  return routes;
}

}  // namespace nf
