#include "collector/store/template_tracker.h"

#include <algorithm>
#include <utility>

#include "common/byte_reader.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"

namespace nf::store_internal {

namespace {

// The decoder's default field bound (DecoderOptions::max_template_fields): a template it would
// refuse is not worth replaying.
constexpr size_t kMaxTemplateFields = 1024;

void PutBe16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void PatchBe16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
void PatchBe32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  PatchBe16(v, at, static_cast<uint16_t>(x >> 16));
  PatchBe16(v, at + 2, static_cast<uint16_t>(x));
}

}  // namespace

void TemplateTracker::Note(std::span<const uint8_t> datagram, const IpAddress& address,
                           uint16_t port, TimeUs time_us) {
  if (datagram.size() < 2) return;
  StreamKey key;
  key.family = address.version;
  key.address = address.bytes;
  key.port = port;
  key.version = static_cast<uint8_t>(ByteReader::LoadBe16(datagram.data()));
  switch (ByteReader::LoadBe16(datagram.data())) {
    case kNetflowV9Version: NoteV9(datagram, key, time_us); break;
    case kIpfixVersion: NoteIpfix(datagram, key, time_us); break;
    default: break;
  }
}

void TemplateTracker::NoteV9(std::span<const uint8_t> d, const StreamKey& key_in,
                             TimeUs time_us) {
  ByteReader r(d);
  V9Header h;
  if (!V9Header::Decode(r, h)) return;
  StreamKey key = key_in;
  key.domain = h.source_id;
  Stream* stream = nullptr;
  if (auto it = streams_.find(key); it != streams_.end()) stream = &it->second;
  // FlowSets by their length, as the decoder walks them; a bad length ends the walk.
  while (r.remaining() >= kFlowSetHeaderSize) {
    const uint16_t id = ByteReader::LoadBe16(r.current());
    const uint16_t len = ByteReader::LoadBe16(r.current() + 2);
    if (len < kFlowSetHeaderSize || len > r.remaining()) break;
    const std::span<const uint8_t> body = r.rest().subspan(kFlowSetHeaderSize,
                                                           len - kFlowSetHeaderSize);
    r.Skip(len);
    if (id == kTemplateFlowSetId || id == kOptionsTemplateFlowSetId) {
      V9TemplateSet(key, id, body, stream, time_us);
    }
  }
  if (stream != nullptr) {
    stream->sequence = h.sequence;
    stream->next_sequence = h.sequence;
    stream->uptime_ms = h.sys_uptime_ms;
    stream->time_us = time_us;
  }
}

void TemplateTracker::NoteIpfix(std::span<const uint8_t> d, StreamKey key, TimeUs time_us) {
  IpfixHeader h;
  if (!IpfixHeader::Decode(d, h)) return;
  if (h.length >= kIpfixMessageHeaderSize && h.length < d.size()) d = d.first(h.length);
  key.domain = h.domain;
  Stream* stream = nullptr;
  if (auto it = streams_.find(key); it != streams_.end()) stream = &it->second;
  ByteReader r(d.subspan(kIpfixMessageHeaderSize));
  int64_t records = 0;  // data records in the message, -1 once one set cannot be counted
  while (r.remaining() > 0) {
    if (r.remaining() < kIpfixSetHeaderSize) {
      records = -1;
      break;
    }
    const uint16_t id = ByteReader::LoadBe16(r.current());
    const uint16_t len = ByteReader::LoadBe16(r.current() + 2);
    if (len < kIpfixSetHeaderSize || len > r.remaining()) {
      records = -1;
      break;
    }
    const std::span<const uint8_t> body = r.rest().subspan(kIpfixSetHeaderSize,
                                                           len - kIpfixSetHeaderSize);
    r.Skip(len);
    if (id == kIpfixTemplateSetId || id == kIpfixOptionsTemplateSetId) {
      IpfixTemplateSet(key, id, body, stream, time_us);
    } else if (id >= kIpfixMinDataSetId && records >= 0) {
      const Template* t = nullptr;
      if (stream != nullptr) {
        auto it = stream->templates.find(id);
        if (it != stream->templates.end()) t = &it->second;
      }
      const int64_t n = t == nullptr ? -1 : CountRecords(*t, body);
      records = n < 0 ? -1 : records + n;
    }
  }
  if (stream != nullptr) {
    stream->sequence = h.sequence;
    // The exporter's next message carries this one's number plus its data records; when they
    // cannot be counted the best guess is this one's.
    stream->next_sequence =
        records < 0 ? h.sequence : h.sequence + static_cast<uint32_t>(records);
    stream->time_us = time_us;
  }
}

void TemplateTracker::V9TemplateSet(const StreamKey& key, uint16_t set_id,
                                    std::span<const uint8_t> body, Stream*& stream,
                                    TimeUs time_us) {
  const bool options = set_id == kOptionsTemplateFlowSetId;
  const size_t head = options ? 6 : 4;
  size_t pos = 0;
  // Records are delimited here and validated by the decoder's own parser (on change only), so
  // what is replayed is what the decoder accepted; the parser stops a set at its first error.
  while (body.size() - pos >= head) {
    const uint8_t* p = body.data() + pos;
    const uint16_t id = ByteReader::LoadBe16(p);
    size_t size;
    if (options) {
      size = head + size_t{ByteReader::LoadBe16(p + 2)} + ByteReader::LoadBe16(p + 4);
    } else {
      const uint16_t count = ByteReader::LoadBe16(p + 2);
      if (count == 0) return;
      size = head + size_t{count} * 4;
    }
    if (size > body.size() - pos) return;
    const std::span<const uint8_t> raw = body.subspan(pos, size);
    pos += size;
    const Check c = Put(key, stream, id, options, raw, time_us, [&](Template&) {
      size_t delivered = 0;
      auto on_template = [&](TemplateRecord&&) { ++delivered; };
      const TemplateParseError e = options ? ParseV9OptionsTemplateFlowSet(raw, on_template)
                                           : ParseV9TemplateFlowSet(raw, on_template);
      return e == TemplateParseError::kNone && delivered == 1 ? Check::kValid : Check::kStop;
    });
    if (c == Check::kStop) return;
  }
}

void TemplateTracker::IpfixTemplateSet(const StreamKey& key, uint16_t set_id,
                                       std::span<const uint8_t> body, Stream*& stream,
                                       TimeUs time_us) {
  const bool options = set_id == kIpfixOptionsTemplateSetId;
  size_t pos = 0;
  while (body.size() - pos >= 4) {
    const uint8_t* p = body.data() + pos;
    const uint16_t id = ByteReader::LoadBe16(p);
    const uint16_t count = ByteReader::LoadBe16(p + 2);
    if (count == 0) {
      // A withdrawal; the set's own ID withdraws every template of the set's kind.
      if (id == set_id) {
        RemoveKind(key, stream, options);
      } else {
        Remove(key, stream, id);
      }
      pos += 4;
      continue;
    }
    size_t size = options ? 6 : 4;
    for (uint16_t i = 0; i < count; ++i) {
      if (body.size() - pos < size + 4) return;  // truncated: the parser stops here too
      const bool enterprise = ByteReader::LoadBe16(p + size) & kIpfixEnterpriseBit;
      size += enterprise ? 8 : 4;
    }
    if (body.size() - pos < size) return;
    const std::span<const uint8_t> raw = body.subspan(pos, size);
    pos += size;
    const Check c = Put(key, stream, id, options, raw, time_us, [&](Template& t) {
      size_t delivered = 0;
      bool skipped = false;
      const IpfixTemplateError e = ParseIpfixTemplateSet(
          set_id, raw, kMaxTemplateFields,
          [&](TemplateRecord&& rec) {
            ++delivered;
            t.variable = rec.HasVariableLength();
            t.fixed_length = static_cast<uint32_t>(rec.RecordLength());
          },
          [](uint16_t, bool) {}, [&](IpfixTemplateError) { skipped = true; });
      if (e != IpfixTemplateError::kNone) return Check::kStop;
      if (skipped) return Check::kSkip;
      return delivered == 1 ? Check::kValid : Check::kStop;
    });
    if (c == Check::kStop) return;
  }
}

template <typename Validate>
TemplateTracker::Check TemplateTracker::Put(const StreamKey& key, Stream*& stream, uint16_t id,
                                            bool options, std::span<const uint8_t> raw,
                                            TimeUs time_us, Validate&& validate) {
  Template* kept = nullptr;
  if (stream != nullptr) {
    auto it = stream->templates.find(id);
    if (it != stream->templates.end()) kept = &it->second;
  }
  // An exporter resends its templates unchanged most of the time: a comparison, nothing more.
  if (kept != nullptr && kept->options == options &&
      std::equal(kept->raw.begin(), kept->raw.end(), raw.begin(), raw.end())) {
    return Check::kValid;
  }
  Template fresh;
  fresh.options = options;
  const Check c = validate(fresh);
  if (c != Check::kValid) return c;
  const size_t old_bytes = kept != nullptr ? kept->raw.size() : 0;
  if ((kept == nullptr && templates_ >= limits_.max_templates) ||
      bytes_ - old_bytes + raw.size() > limits_.max_bytes) {
    ++untracked_;
    return Check::kValid;
  }
  if (stream == nullptr) {
    stream = &streams_.try_emplace(key).first->second;
    stream->time_us = time_us;
  }
  fresh.raw.assign(raw.begin(), raw.end());
  if (kept == nullptr) {
    stream->templates.emplace(id, std::move(fresh));
    ++templates_;
  } else {
    *kept = std::move(fresh);
  }
  bytes_ = bytes_ - old_bytes + raw.size();
  return Check::kValid;
}

void TemplateTracker::Remove(const StreamKey& key, Stream*& stream, uint16_t id) {
  if (stream == nullptr) return;
  auto it = stream->templates.find(id);
  if (it == stream->templates.end()) return;
  bytes_ -= it->second.raw.size();
  --templates_;
  stream->templates.erase(it);
  DropIfEmpty(key, stream);
}

void TemplateTracker::RemoveKind(const StreamKey& key, Stream*& stream, bool options) {
  if (stream == nullptr) return;
  for (auto it = stream->templates.begin(); it != stream->templates.end();) {
    if (it->second.options == options) {
      bytes_ -= it->second.raw.size();
      --templates_;
      it = stream->templates.erase(it);
    } else {
      ++it;
    }
  }
  DropIfEmpty(key, stream);
}

void TemplateTracker::DropIfEmpty(const StreamKey& key, Stream*& stream) {
  if (!stream->templates.empty()) return;
  streams_.erase(key);
  stream = nullptr;
}

int64_t TemplateTracker::CountRecords(const Template& t, std::span<const uint8_t> body) {
  if (!t.variable) {
    // Trailing bytes shorter than a record are padding (RFC 7011 3.3.1).
    return t.fixed_length == 0 ? -1 : static_cast<int64_t>(body.size() / t.fixed_length);
  }
  // Variable-length fields: walk each record by the template's field lengths.
  std::span<const uint8_t> raw(t.raw);
  const size_t first_field = t.options ? 6 : 4;
  const uint16_t count = ByteReader::LoadBe16(raw.data() + 2);
  int64_t records = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t at = pos;
    size_t f = first_field;
    bool whole = true;
    for (uint16_t i = 0; i < count && whole; ++i) {
      const uint16_t type = ByteReader::LoadBe16(raw.data() + f);
      size_t length = ByteReader::LoadBe16(raw.data() + f + 2);
      f += (type & kIpfixEnterpriseBit) ? 8 : 4;
      if (length == kVariableLength) {
        if (at >= body.size()) {
          whole = false;
          break;
        }
        length = body[at++];
        if (length == 255) {
          if (body.size() - at < 2) {
            whole = false;
            break;
          }
          length = ByteReader::LoadBe16(body.data() + at);
          at += 2;
        }
      }
      if (body.size() - at < length) whole = false;
      else at += length;
    }
    if (!whole || at == pos) break;  // the rest is padding (or a cut record)
    ++records;
    pos = at;
  }
  return records;
}

void TemplateTracker::Replay(
    TimeUs now_us,
    absl::FunctionRef<void(const IpAddress&, uint16_t, std::span<const uint8_t>)> emit) {
  // Least recently heard first: a decoder that keys templates without the UDP port (the
  // default) then ends with what an exporter that restarted on a new port sends now, not with
  // what its previous port sent.
  std::vector<std::pair<const StreamKey*, const Stream*>> order;
  order.reserve(streams_.size());
  for (const auto& [key, stream] : streams_) order.emplace_back(&key, &stream);
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second->time_us < b.second->time_us;
  });
  for (const auto& [key, stream] : order) ReplayStream(*key, *stream, now_us, emit);
}

void TemplateTracker::ReplayStream(
    const StreamKey& key, const Stream& stream, TimeUs now_us,
    absl::FunctionRef<void(const IpAddress&, uint16_t, std::span<const uint8_t>)> emit) {
  const bool v9 = key.version == kNetflowV9Version;
  const size_t header = v9 ? kV9HeaderSize : kIpfixMessageHeaderSize;
  const uint32_t now_secs = static_cast<uint32_t>(std::max<TimeUs>(now_us, 0) / 1'000'000);
  size_t used = 0;     // datagrams in scratch_
  std::vector<uint16_t> counts;  // template records per datagram (the v9 header count)
  auto open_datagram = [&] {
    if (scratch_.size() <= used) scratch_.emplace_back();
    scratch_[used].clear();
    scratch_[used].resize(header);
    counts.push_back(0);
    ++used;
  };
  open_datagram();
  for (const bool options : {false, true}) {
    const uint16_t set_id = v9 ? (options ? kOptionsTemplateFlowSetId : kTemplateFlowSetId)
                               : (options ? kIpfixOptionsTemplateSetId : kIpfixTemplateSetId);
    size_t set_start = 0;
    bool set_open = false;
    auto close_set = [&] {
      if (!set_open) return;
      std::vector<uint8_t>& d = scratch_[used - 1];
      // v9 FlowSets are padded to 4 bytes (RFC 3954 5.3); IPFIX sets need no padding.
      if (v9) d.resize(d.size() + PaddingFor(d.size() - set_start), 0);
      PatchBe16(d, set_start + 2, static_cast<uint16_t>(d.size() - set_start));
      set_open = false;
    };
    for (const auto& [id, t] : stream.templates) {
      if (t.options != options) continue;
      const size_t need = (set_open ? 0 : kFlowSetHeaderSize) + t.raw.size() + 3;
      if (counts[used - 1] > 0 && scratch_[used - 1].size() + need > kMaxReplayDatagram) {
        close_set();
        open_datagram();
      }
      std::vector<uint8_t>& d = scratch_[used - 1];
      if (!set_open) {
        set_start = d.size();
        PutBe16(d, set_id);
        PutBe16(d, 0);
        set_open = true;
      }
      d.insert(d.end(), t.raw.begin(), t.raw.end());
      ++counts[used - 1];
    }
    close_set();
  }
  IpAddress address;
  address.version = key.family;
  address.bytes = key.address;
  const uint32_t elapsed_ms = now_us > stream.time_us
                                  ? static_cast<uint32_t>((now_us - stream.time_us) / 1000)
                                  : 0;
  for (size_t i = 0; i < used; ++i) {
    std::vector<uint8_t>& d = scratch_[i];
    if (counts[i] == 0) continue;
    if (v9) {
      // tshark expects a v9 source's next datagram to carry the previous number plus one: the
      // last synthetic datagram carries the exporter's last number, so its next one follows.
      const uint32_t sequence = stream.sequence - static_cast<uint32_t>(used - 1 - i);
      PatchBe16(d, 0, kNetflowV9Version);
      PatchBe16(d, 2, counts[i]);
      PatchBe32(d, 4, stream.uptime_ms + elapsed_ms);
      PatchBe32(d, 8, now_secs);
      PatchBe32(d, 12, sequence);
      PatchBe32(d, 16, key.domain);
    } else {
      PatchBe16(d, 0, kIpfixVersion);
      PatchBe16(d, 2, static_cast<uint16_t>(d.size()));
      PatchBe32(d, 4, now_secs);
      PatchBe32(d, 8, stream.next_sequence);
      PatchBe32(d, 12, key.domain);
    }
    emit(address, key.port, d);
  }
}

}  // namespace nf::store_internal
