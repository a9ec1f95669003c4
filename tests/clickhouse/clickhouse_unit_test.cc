// nf::clickhouse without a server: URL parsing, credentials, the DDL, the RowBinary layout, the spool and
// the writer's behaviour when ClickHouse cannot be reached (spool, bound, counted drops).
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/clickhouse/credentials.h"
#include "collector/output/clickhouse/schema.h"
#include "collector/output/clickhouse/spool.h"
#include "collector/output/format/csv_format.h"
#include "gtest/gtest.h"
#include "http/url.h"
#include "tests/clickhouse/local_clickhouse.h"
#include "tests/support/test_support.h"

namespace nf::clickhouse {
namespace {

DecodedRecord Record(uint64_t i) {
  DecodedRecord r;
  r.exporter.address = IpAddress::V4(0x7f000001);
  r.version = 9;
  r.receive_time_us = 1'700'000'000'000'000 + static_cast<int64_t>(i) * 1000;
  r.first_ms = 1'700'000'000'123;
  r.last_ms = 1'700'000'001'456;
  r.ip_version = 4;
  r.src_addr = IpAddress::V4(0x0a000001);
  r.dst_addr = IpAddress::V4(0x0a000002);
  r.packets = i + 1;
  r.bytes = (i + 1) * 100;
  return r;
}

constexpr http::DefaultPorts kClickHousePorts{8123, 8443};

TEST(HttpUrlTest, ParsesHostPortPathAndParams) {
  auto u = http::ParseUrl("http://ch1.example:9123/?database=netflow&user=nf&password=s%20x",
                          kClickHousePorts);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "ch1.example");
  EXPECT_EQ(u->port, 9123);
  EXPECT_EQ(u->path, "/");
  EXPECT_EQ(u->Param("database"), "netflow");
  EXPECT_EQ(u->Param("password"), "s x");
  EXPECT_EQ(u->Param("missing"), "");
  EXPECT_FALSE(absl::StrContains(u->Redacted(), "s%20x"));
  EXPECT_EQ(u->WithoutParam("user").WithoutParam("password").query, "database=netflow");

  auto v6 = http::ParseUrl("http://[::1]/", kClickHousePorts);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8123);
  EXPECT_EQ(v6->Authority(), "[::1]:8123");

  auto tls = http::ParseUrl("https://ch.example.net/?database=db", kClickHousePorts);
  ASSERT_TRUE(tls.ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->port, 8443);
  EXPECT_EQ(tls->Redacted(), "https://ch.example.net:8443/?database=db");

  EXPECT_FALSE(http::ParseUrl("ftp://x/").ok());
  EXPECT_FALSE(http::ParseUrl("http://:80/").ok());
  EXPECT_FALSE(http::ParseUrl("http://x:99999/").ok());
  EXPECT_FALSE(http::ParseUrl("http://u:p@x/").ok());
  EXPECT_EQ(http::UrlEncode("INSERT INTO t"), "INSERT%20INTO%20t");
}

TEST(CredentialsTest, PasswordFileFirstLineAndItsMode) {
  ::nf::testing::TempDir tmp;
  const std::string path = tmp.File("pw");
  {
    std::ofstream f(path);
    f << "s3cret word\nsecond line\n";
  }
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  std::string warning;
  auto pw = ReadPasswordFile(path, &warning);
  ASSERT_TRUE(pw.ok()) << pw.status();
  EXPECT_EQ(*pw, "s3cret word");
  EXPECT_EQ(warning, "");

  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  pw = ReadPasswordFile(path, &warning);
  ASSERT_TRUE(pw.ok());
  EXPECT_TRUE(absl::StrContains(warning, "can be read by other users (mode 0644)")) << warning;

  {
    std::ofstream f(tmp.File("empty"));
    f << "\n";
  }
  EXPECT_FALSE(ReadPasswordFile(tmp.File("empty"), &warning).ok());
  EXPECT_FALSE(ReadPasswordFile(tmp.File("missing"), &warning).ok());
  EXPECT_FALSE(ReadPasswordFile(tmp.path(), &warning).ok());  // a directory
}

TEST(CredentialsTest, EnvironmentIsReadOnceAndRemoved) {
  std::string warning;
  ASSERT_EQ(setenv(kPasswordEnvironmentVariable, "from-env", 1), 0);
  auto pw = LoadPassword("", &warning);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, "from-env");
  EXPECT_EQ(std::getenv(kPasswordEnvironmentVariable), nullptr);
  pw = LoadPassword("", &warning);
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(*pw, "");

  // A file and the variable together: refused, whichever would have won.
  ::nf::testing::TempDir tmp;
  {
    std::ofstream f(tmp.File("pw"));
    f << "from-file\n";
  }
  ASSERT_EQ(setenv(kPasswordEnvironmentVariable, "from-env", 1), 0);
  EXPECT_FALSE(LoadPassword(tmp.File("pw"), &warning).ok());
  ASSERT_EQ(unsetenv(kPasswordEnvironmentVariable), 0);
  pw = LoadPassword(tmp.File("pw"), &warning);
  ASSERT_TRUE(pw.ok()) << pw.status();
  EXPECT_EQ(*pw, "from-file");
}

TEST(CredentialsTest, WriterTakesThemOnceAndKeepsThemOutOfItsUrl) {
  ClickHouseOptions o;
  o.url = "http://127.0.0.1:1/?database=db&user=u&password=p";
  auto w = ClickHouseWriter::Create(o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_TRUE((*w)->password_in_url());
  EXPECT_EQ((*w)->redacted_url(), "http://127.0.0.1:1/?database=db");
  (*w)->Close(0);

  o.url = "http://127.0.0.1:1/?database=db";
  o.user = "u";
  o.password = "p";
  w = ClickHouseWriter::Create(o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_FALSE((*w)->password_in_url());
  (*w)->Close(0);

  o.url = "http://127.0.0.1:1/?database=db&password=p";
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());  // given twice
  o.url = "http://127.0.0.1:1/?database=db";
  o.ca_file = "/etc/hostname";
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());  // a CA without https
  o.url = "https://127.0.0.1:1/?database=db";
  o.ca_file = "/nonexistent/ca.pem";
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());  // an unreadable CA bundle
}

TEST(SchemaTest, DdlHasEveryColumnAndTheCsvNames) {
  std::string ddl = CreateTableSql("netflow.flows");
  EXPECT_TRUE(absl::StartsWith(ddl, "CREATE TABLE IF NOT EXISTS netflow.flows"));
  EXPECT_TRUE(absl::StrContains(ddl, "ENGINE = MergeTree()"));
  EXPECT_TRUE(absl::StrContains(ddl, "PARTITION BY toYYYYMMDD(receive_time)"));
  EXPECT_TRUE(absl::StrContains(ddl, "ORDER BY (receive_time, exporter)"));
  for (const Column& c : Columns()) {
    EXPECT_TRUE(absl::StrContains(ddl, absl::StrCat("    ", c.name, " "))) << c.name;
  }
  // Every default CSV column exists with the same name.
  for (absl::string_view name : absl::StrSplit(kDefaultCsvColumns, ',')) {
    bool found = false;
    for (const Column& c : Columns()) found = found || c.name == name;
    EXPECT_TRUE(found) << name;
  }
  EXPECT_TRUE(ValidateTableName("flows").ok());
  EXPECT_TRUE(ValidateTableName("db.flows_1").ok());
  EXPECT_FALSE(ValidateTableName("flows; DROP TABLE x").ok());
  EXPECT_FALSE(ValidateTableName("a.b.c").ok());
  EXPECT_TRUE(absl::StrContains(CreateDistributedTableSql("flows", "c", "netflow.flows_local"),
                                "Distributed(c, netflow, flows_local, batch_id)"));
}

// Bytes of one value; a String is its length byte plus `text_bytes` (every test string is
// shorter than 128 bytes).
size_t TypeSize(absl::string_view type, size_t text_bytes = 0) {
  if (type == "UInt8") return 1;
  if (type == "UInt16") return 2;
  if (type == "UInt32" || type == "DateTime") return 4;
  if (type == "UInt64") return 8;
  if (type == "FixedString(2)") return 2;
  if (type == "FixedString(16)") return 16;
  if (type == "String") return 1 + text_bytes;
  ADD_FAILURE() << "unknown type " << type;
  return 0;
}

TEST(SchemaTest, RowBinaryMatchesTheColumnTypes) {
  size_t expected = 0;
  for (const Column& c : Columns()) expected += TypeSize(c.type);
  std::string row;
  DecodedRecord r = Record(7);
  AppendRowBinary(r, 0x1122334455667788ULL, row);
  ASSERT_EQ(row.size(), expected);
  // batch_id little-endian first, then receive_time seconds.
  EXPECT_EQ(static_cast<uint8_t>(row[0]), 0x88);
  uint32_t secs = 0;
  std::memcpy(&secs, row.data() + 8, 4);
  EXPECT_EQ(secs, 1'700'000'000u);
  // exporter as IPv4-mapped IPv6.
  EXPECT_EQ(static_cast<uint8_t>(row[12 + 10]), 0xff);
  EXPECT_EQ(static_cast<uint8_t>(row[12 + 12]), 127);
  // Unknown times become 0, never garbage.
  r.first_ms = kNoTime;
  std::string row2;
  AppendRowBinary(r, 1, row2);
  EXPECT_EQ(row2.size(), expected);
}

TEST(SchemaTest, EnrichmentColumnsAtTheEnd) {
  // The four enrichment columns follow every earlier column, so a row's prefix keeps the
  // layout of version 1.
  const auto columns = Columns();
  ASSERT_GE(columns.size(), 4u);
  const size_t n = columns.size();
  EXPECT_EQ(columns[n - 4].name, "src_country");
  EXPECT_EQ(columns[n - 4].type, "FixedString(2)");
  EXPECT_EQ(columns[n - 3].name, "dst_country");
  EXPECT_EQ(columns[n - 2].name, "input_if_name");
  EXPECT_EQ(columns[n - 2].type, "String");
  EXPECT_EQ(columns[n - 1].name, "output_if_name");
  EXPECT_GE(kLayoutVersion, 2u);
  const std::string ddl = CreateTableSql("flows");
  EXPECT_TRUE(absl::StrContains(ddl, "    src_country "));
  EXPECT_TRUE(absl::StrContains(ddl, "FixedString(2)"));
  EXPECT_TRUE(absl::StrContains(ddl, "    output_if_name "));

  DecodedRecord r = Record(1);
  r.src_country = {'G', 'B'};
  r.input_if_name = "ge-0/0/0";
  std::string row;
  AppendRowBinary(r, 1, row);
  size_t expected = 0;
  for (size_t i = 0; i < n; ++i) {
    expected += TypeSize(columns[i].type, columns[i].name == "input_if_name" ? 8 : 0);
  }
  ASSERT_EQ(row.size(), expected);
  // ... GB, then 2 zero bytes (no destination country), then "\x08ge-0/0/0", then "\x00".
  EXPECT_EQ(row.substr(row.size() - 14), std::string("GB\0\0\x08ge-0/0/0\0", 14));
}

TEST(SpoolTest, StoresOldestFirstAcrossReopenAndHonoursTheBound) {
  testing::TempDir tmp;
  std::string dir = tmp.File("spool");
  {
    auto spool = Spool::Open(dir, 1000);
    ASSERT_TRUE(spool.ok()) << spool.status();
    for (uint64_t id = 1; id <= 3; ++id) {
      Batch b;
      b.id = id;
      b.rows = static_cast<uint32_t>(id);
      b.min_time = 10;
      b.max_time = 20;
      b.data = std::string(200, static_cast<char>('a' + id));
      ASSERT_TRUE(spool->Put(b).ok());
    }
    EXPECT_EQ(spool->bytes(), 3 * (200 + 48u));
    Batch big;
    big.id = 9;
    big.rows = 5;
    big.data = std::string(400, 'x');
    EXPECT_TRUE(absl::IsResourceExhausted(spool->Put(big)));
    EXPECT_EQ(spool->batches(), 3u);
    EXPECT_LE(spool->bytes(), spool->max_bytes());
  }
  // A leftover temporary file (crash mid-write) is removed, not replayed.
  std::ofstream(dir + "/.tmp-b-0000000000000099-00.nfch") << "partial";
  std::ofstream(dir + "/b-0000000000000098-ff.nfch") << "garbage of another layout";
  auto spool = Spool::Open(dir, 1000);
  ASSERT_TRUE(spool.ok());
  EXPECT_EQ(spool->batches(), 3u);
  EXPECT_EQ(spool->rows(), 6u);
  EXPECT_EQ(spool->skipped_files(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir + "/.tmp-b-0000000000000099-00.nfch"));
  for (uint64_t id = 1; id <= 3; ++id) {
    auto b = spool->ReadOldest();
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(b->id, id);
    EXPECT_EQ(b->rows, id);
    EXPECT_TRUE(b->maybe_sent);
    EXPECT_EQ(b->data, std::string(200, static_cast<char>('a' + id)));
    ASSERT_TRUE(spool->PopOldest().ok());
  }
  EXPECT_TRUE(spool->empty());
  EXPECT_EQ(spool->bytes(), 0u);
}

ClickHouseOptions DownOptions(const std::string& spool_dir, uint64_t spool_max) {
  ClickHouseOptions o;
  // A port nobody listens on: every connect is refused at once.
  o.url = absl::StrCat("http://127.0.0.1:", testing::FreeTcpPort(), "/?database=default");
  o.table = "flows";
  o.batch_rows = 100;
  o.spool_dir = spool_dir;
  o.spool_max_bytes = spool_max;
  o.retry_initial_us = 1'000'000;
  o.retry_max_us = 1'000'000;
  o.max_queued_batches = 1000;
  return o;
}

TEST(WriterTest, SpoolBoundIsHonouredAndDropsAreCounted) {
  testing::TempDir tmp;
  std::string dir = tmp.File("spool");
  std::string one_row;
  AppendRowBinary(Record(0), 1, one_row);
  const uint64_t batch_file = 48 + 100 * one_row.size();
  const uint64_t bound = 3 * batch_file + batch_file / 2;  // room for 3 batches
  auto writer = ClickHouseWriter::Create(DownOptions(dir, bound));
  ASSERT_TRUE(writer.ok()) << writer.status();
  {
    ClickHouseBatcher batcher(**writer);
    for (uint64_t i = 0; i < 1000; ++i) batcher.OnRecord(Record(i));
  }
  (*writer)->Close(0);
  const ClickHouseCounters& c = (*writer)->counters();
  EXPECT_EQ(c.records_queued.load(), 1000u);
  EXPECT_EQ(c.records_inserted.load(), 0u);
  EXPECT_EQ(c.spool_batches.load(), 3u);
  EXPECT_EQ(c.spool_records.load(), 300u);
  EXPECT_LE(c.spool_bytes.load(), bound);
  EXPECT_EQ(c.records_dropped_spool_full.load(), 700u);
  EXPECT_EQ(c.spool_records.load() + c.records_dropped_spool_full.load() +
                c.records_dropped_queue_full.load(),
            1000u);
  uint64_t on_disk = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) on_disk += e.file_size();
  EXPECT_LE(on_disk, bound);
  EXPECT_EQ(on_disk, c.spool_bytes.load());

  // A restarted writer finds the spooled batches.
  auto again = ClickHouseWriter::Create(DownOptions(dir, bound));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->counters().spool_records.load(), 300u);
}

TEST(WriterTest, WithoutSpoolDirFailedBatchesWaitInMemoryAndAreCountedAtExit) {
  auto writer = ClickHouseWriter::Create(DownOptions("", 1 << 30));
  ASSERT_TRUE(writer.ok());
  {
    ClickHouseBatcher batcher(**writer);
    for (uint64_t i = 0; i < 250; ++i) batcher.OnRecord(Record(i));
  }
  (*writer)->Close(0);
  const ClickHouseCounters& c = (*writer)->counters();
  EXPECT_EQ(c.records_queued.load(), 250u);
  EXPECT_EQ(c.records_dropped_other.load(), 250u);  // nothing survives the process
  EXPECT_EQ(c.spool_records.load(), 0u);
  EXPECT_EQ(c.spool_bytes.load(), 0u);
  EXPECT_FALSE((*writer)->last_error().empty());
}

TEST(WriterTest, BatchesAreCutByCountAgeAndDay) {
  testing::TempDir tmp;
  ClickHouseOptions o = DownOptions(tmp.File("spool"), 1 << 30);
  o.batch_rows = 10;
  o.batch_age_us = 5'000'000;
  auto writer = ClickHouseWriter::Create(o);
  ASSERT_TRUE(writer.ok());
  ClickHouseBatcher batcher(**writer);
  for (uint64_t i = 0; i < 25; ++i) batcher.OnRecord(Record(i));
  EXPECT_EQ(batcher.pending_rows(), 5u);  // two full batches went out
  batcher.Tick(Record(0).receive_time_us + 1'000'000);
  EXPECT_EQ(batcher.pending_rows(), 5u);  // not old enough
  batcher.Tick(Record(0).receive_time_us + 60'000'000);
  EXPECT_EQ(batcher.pending_rows(), 0u);
  // A record of the next day starts a new batch (one batch = one partition).
  DecodedRecord a = Record(0);
  DecodedRecord b = Record(0);
  b.receive_time_us += 86'400'000'000LL;
  batcher.OnRecord(a);
  batcher.OnRecord(b);
  EXPECT_EQ(batcher.pending_rows(), 1u);
  batcher.Flush();
  (*writer)->Close(0);
  EXPECT_EQ((*writer)->counters().records_queued.load(), 27u);
  EXPECT_EQ((*writer)->counters().batches_spooled.load(), 5u);
}

TEST(WriterTest, RejectsBadOptions) {
  ClickHouseOptions o;
  o.url = "ftp://x";
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());
  o.url = "http://127.0.0.1:1/";
  o.table = "bad name";
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());
  o.table = "flows";
  o.batch_rows = kMaxBatchRows + 1;
  EXPECT_FALSE(ClickHouseWriter::Create(o).ok());
}

}  // namespace
}  // namespace nf::clickhouse
