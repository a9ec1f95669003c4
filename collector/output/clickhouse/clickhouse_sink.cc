#include "collector/output/clickhouse/clickhouse_sink.h"

#include <algorithm>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "collector/output/clickhouse/schema.h"

namespace nf::clickhouse {
namespace {

int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Excerpt(absl::string_view body) {
  body = absl::StripAsciiWhitespace(body);
  if (body.size() > 300) body = body.substr(0, 300);
  return std::string(body);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClickHouseWriter>> ClickHouseWriter::Create(
    const ClickHouseOptions& options) {
  absl::StatusOr<http::Url> url = http::ParseUrl(options.url, {.http = 8123, .https = 8443});
  if (!url.ok()) return url.status();
  if (absl::Status s = ValidateTableName(options.table); !s.ok()) return s;
  if (options.batch_rows == 0 || options.batch_rows > kMaxBatchRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch size must be 1..", kMaxBatchRows, " rows (one ClickHouse block)"));
  }
  if (options.batch_age_us <= 0) {
    return absl::InvalidArgumentError("batch age must be positive");
  }
  // Credentials leave the URL for headers, wherever they were given.
  std::string user = url->Param("user");
  std::string password = url->Param("password");
  bool password_in_url = url->HasParam("password");
  if ((!options.user.empty() && url->HasParam("user")) ||
      (!options.password.empty() && password_in_url)) {
    return absl::InvalidArgumentError(
        "ClickHouse credentials are given twice: in the URL and as options");
  }
  if (!options.user.empty()) user = options.user;
  if (!options.password.empty()) password = options.password;
  http::Url bare = url->WithoutParam("user").WithoutParam("password");
  http::Headers auth;
  if (!user.empty() || !password.empty()) {
    auth.emplace_back("X-ClickHouse-User", user.empty() ? "default" : user);
    if (!password.empty()) auth.emplace_back("X-ClickHouse-Key", password);
  }
  http::ClientOptions client_options = options.http;
  client_options.ca_file = options.ca_file;
  if (!options.ca_file.empty() && !bare.tls) {
    return absl::InvalidArgumentError("a ClickHouse CA file needs an https:// URL");
  }
  absl::StatusOr<std::unique_ptr<http::Client>> client = http::Client::Create(bare, client_options);
  if (!client.ok()) return client.status();
  absl::StatusOr<Spool> spool = Spool::Open(options.spool_dir, options.spool_max_bytes);
  if (!spool.ok()) return spool.status();
  std::unique_ptr<ClickHouseWriter> writer(new ClickHouseWriter(
      options, std::move(bare), *std::move(client), std::move(auth), *std::move(spool)));
  writer->password_in_url_ = password_in_url;
  return writer;
}

ClickHouseWriter::ClickHouseWriter(const ClickHouseOptions& options, http::Url url,
                                   std::unique_ptr<http::Client> client, http::Headers auth,
                                   Spool spool)
    : options_(options),
      url_(std::move(url)),
      client_(std::move(client)),
      auth_(std::move(auth)),
      insert_sql_(absl::StrCat("INSERT INTO ", options.table, " (", ColumnList(),
                               ") FORMAT RowBinary")),
      spool_(std::move(spool)) {
  // Only the sender uses the secret from here on; the copy in the options is not kept.
  options_.password.clear();
  std::random_device rd;
  std::seed_seq seed{rd(), rd(), rd(), rd(),
                     static_cast<unsigned>(SteadyNowUs()), static_cast<unsigned>(getpid())};
  id_rng_.seed(seed);
  spool_skipped_files_ = spool_.skipped_files();
  PublishSpool();
  thread_ = std::thread([this] { Run(); });
}

http::Result ClickHouseWriter::Request(absl::string_view sql, absl::string_view body) {
  std::string target = absl::StrCat(url_.path, "?", url_.query, url_.query.empty() ? "" : "&",
                                     "query=", http::UrlEncode(sql));
  return client_->Post(target, auth_, body);
}

ClickHouseWriter::~ClickHouseWriter() { Close(0); }

uint64_t ClickHouseWriter::NextBatchId() {
  std::lock_guard<std::mutex> lock(id_mu_);
  uint64_t id = 0;
  while (id == 0) id = id_rng_();
  return id;
}

bool ClickHouseWriter::Submit(Batch&& batch) {
  if (batch.rows == 0) return true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closing_ && queue_.size() < options_.max_queued_batches) {
      counters_.records_queued.fetch_add(batch.rows, std::memory_order_relaxed);
      queue_.push_back(std::move(batch));
      cv_.notify_one();
      return true;
    }
  }
  counters_.records_queued.fetch_add(batch.rows, std::memory_order_relaxed);
  counters_.records_dropped_queue_full.fetch_add(batch.rows, std::memory_order_relaxed);
  return false;
}

std::string ClickHouseWriter::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

void ClickHouseWriter::PublishSpool() {
  counters_.spool_bytes.store(spool_.bytes(), std::memory_order_relaxed);
  counters_.spool_batches.store(spool_.batches(), std::memory_order_relaxed);
  counters_.spool_records.store(spool_.rows(), std::memory_order_relaxed);
}

void ClickHouseWriter::Failed(const absl::Status& s) {
  backoff_us_ = backoff_us_ == 0 ? options_.retry_initial_us
                                 : std::min(options_.retry_max_us, backoff_us_ * 2);
  next_attempt_us_ = SteadyNowUs() + backoff_us_;
  counters_.up.store(0, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  last_error_ = std::string(s.message());
}

void ClickHouseWriter::Succeeded() {
  backoff_us_ = 0;
  next_attempt_us_ = 0;
  counters_.up.store(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  last_error_.clear();
}

absl::Status ClickHouseWriter::Insert(const Batch& batch, bool* may_have_arrived) {
  http::Result r = Request(insert_sql_, batch.data);
  *may_have_arrived = r.may_have_arrived;
  absl::Status s = r.status;
  if (s.ok() && r.code != 200) {
    s = absl::UnavailableError(
        absl::StrCat("ClickHouse refused the batch (HTTP ", r.code, "): ", Excerpt(r.body)));
  }
  if (!s.ok()) counters_.insert_failures.fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::StatusOr<uint64_t> ClickHouseWriter::CountPresent(const Batch& batch) {
  std::string sql = absl::StrCat(
      "SELECT count() FROM ", options_.table, " WHERE receive_time >= toDateTime(",
      batch.min_time, ") AND receive_time <= toDateTime(", batch.max_time,
      ") AND batch_id = ", batch.id, " FORMAT TabSeparated");
  http::Result r = Request(sql, "");
  if (!r.status.ok()) return r.status;
  if (r.code != 200) {
    return absl::UnavailableError(
        absl::StrCat("ClickHouse refused the re-send check (HTTP ", r.code, "): ", Excerpt(r.body)));
  }
  uint64_t n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(r.body), &n)) {
    return absl::UnavailableError(
        absl::StrCat("unexpected answer to the re-send check: ", Excerpt(r.body)));
  }
  return n;
}

void ClickHouseWriter::SpoolOrDrop(Batch&& batch) {
  absl::Status s = spool_.Put(batch);
  if (s.ok()) {
    counters_.batches_spooled.fetch_add(1, std::memory_order_relaxed);
  } else if (absl::IsResourceExhausted(s)) {
    counters_.records_dropped_spool_full.fetch_add(batch.rows, std::memory_order_relaxed);
  } else {
    counters_.records_dropped_other.fetch_add(batch.rows, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mu_);
    last_error_ = std::string(s.message());
  }
  PublishSpool();
}

bool ClickHouseWriter::Step(std::unique_lock<std::mutex>& lock) {
  bool did = false;
  if (!queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    if (SteadyNowUs() >= next_attempt_us_) {
      bool arrived = false;
      absl::Status s = Insert(batch, &arrived);
      if (s.ok()) {
        counters_.records_inserted.fetch_add(batch.rows, std::memory_order_relaxed);
        counters_.batches_inserted.fetch_add(1, std::memory_order_relaxed);
        Succeeded();
      } else {
        Failed(s);
        batch.maybe_sent = arrived;
        SpoolOrDrop(std::move(batch));
      }
    } else {
      // ClickHouse is failing: do not make the queue wait for a timeout per batch.
      SpoolOrDrop(std::move(batch));
    }
    lock.lock();
    busy_ = false;
    did = true;
  }
  if (!spool_.empty() && SteadyNowUs() >= next_attempt_us_) {
    busy_ = true;
    lock.unlock();
    absl::StatusOr<Batch> batch = spool_.ReadOldest();
    if (!batch.ok()) {
      // Unreadable: counting it and moving on beats blocking every later batch behind it.
      uint64_t rows_before = spool_.rows();
      (void)spool_.PopOldest();
      counters_.records_dropped_other.fetch_add(rows_before - spool_.rows(),
                                                std::memory_order_relaxed);
      Failed(batch.status());
    } else {
      counters_.retries.fetch_add(1, std::memory_order_relaxed);
      bool done = false;
      absl::StatusOr<uint64_t> present = uint64_t{0};
      if (batch->maybe_sent) present = CountPresent(*batch);
      if (!present.ok()) {
        Failed(present.status());
      } else if (*present >= batch->rows) {
        counters_.batches_found_present.fetch_add(1, std::memory_order_relaxed);
        done = true;
        Succeeded();
      } else if (*present > 0) {
        // Cannot happen with the documented layout (one batch = one part). Re-sending would
        // duplicate the rows that are there; keeping it forever would block the spool.
        counters_.batches_partial.fetch_add(1, std::memory_order_relaxed);
        counters_.records_dropped_other.fetch_add(batch->rows - *present,
                                                  std::memory_order_relaxed);
        done = true;
      } else {
        bool arrived = false;
        absl::Status s = Insert(*batch, &arrived);
        if (s.ok()) {
          counters_.records_inserted.fetch_add(batch->rows, std::memory_order_relaxed);
          counters_.batches_inserted.fetch_add(1, std::memory_order_relaxed);
          done = true;
          Succeeded();
        } else {
          Failed(s);
        }
      }
      if (done) {
        if (absl::Status s = spool_.PopOldest(); !s.ok()) Failed(s);
      }
    }
    PublishSpool();
    lock.lock();
    busy_ = false;
    did = true;
  }
  return did;
}

void ClickHouseWriter::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (Step(lock)) continue;
    // Nothing could be done now: the queue is empty and the spool is empty or backing off.
    idle_cv_.notify_all();
    int64_t now = SteadyNowUs();
    if (closing_ && queue_.empty() && (spool_.empty() || now >= close_deadline_us_)) break;
    int64_t wake = spool_.empty() ? now + 3'600'000'000 : next_attempt_us_;
    if (closing_) wake = std::min(wake, close_deadline_us_);
    cv_.wait_for(lock, std::chrono::microseconds(std::max<int64_t>(1000, wake - now)));
  }
  idle_cv_.notify_all();
}

bool ClickHouseWriter::WaitIdle(int64_t timeout_us) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, std::chrono::microseconds(timeout_us), [this] {
    return queue_.empty() && !busy_ &&
           counters_.spool_batches.load(std::memory_order_relaxed) == 0;
  });
}

void ClickHouseWriter::Close(int64_t deadline_us) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    closing_ = true;
    close_deadline_us_ = SteadyNowUs() + deadline_us;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (options_.spool_dir.empty() && !spool_.empty()) {
    // Memory spool: nothing survives the process.
    counters_.records_dropped_other.fetch_add(spool_.rows(), std::memory_order_relaxed);
    while (!spool_.empty()) (void)spool_.PopOldest();
    PublishSpool();
  }
}

// ---------------------------------------------------------------------------------------------

ClickHouseBatcher::ClickHouseBatcher(ClickHouseWriter& writer)
    : writer_(writer),
      batch_rows_(writer.options().batch_rows),
      batch_age_us_(writer.options().batch_age_us) {}

ClickHouseBatcher::~ClickHouseBatcher() { Flush(); }

void ClickHouseBatcher::StartBatch(const DecodedRecord& r) {
  batch_.id = writer_.NextBatchId();
  batch_.rows = 0;
  batch_.min_time = ReceiveSeconds(r);
  batch_.max_time = batch_.min_time;
  batch_.maybe_sent = false;
  batch_.data.clear();
  batch_.data.reserve(std::min<size_t>(batch_rows_, 200'000) * 192);
  day_ = batch_.min_time / 86400;
  started_us_ = r.receive_time_us;
}

void ClickHouseBatcher::OnRecord(const DecodedRecord& r) {
  uint32_t seconds = ReceiveSeconds(r);
  // One batch never spans two partitions (days), so each INSERT is one atomic part.
  if (batch_.rows != 0 && seconds / 86400 != day_) Flush();
  if (batch_.rows == 0) StartBatch(r);
  AppendRowBinary(r, batch_.id, batch_.data);
  ++batch_.rows;
  batch_.min_time = std::min(batch_.min_time, seconds);
  batch_.max_time = std::max(batch_.max_time, seconds);
  if (batch_.rows >= batch_rows_) Flush();
}

void ClickHouseBatcher::Tick(TimeUs now) {
  if (batch_.rows != 0 && now - started_us_ >= batch_age_us_) Flush();
}

void ClickHouseBatcher::Flush() {
  if (batch_.rows == 0) return;
  writer_.Submit(std::move(batch_));
  batch_ = Batch{};
}

}  // namespace nf::clickhouse
