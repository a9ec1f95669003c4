// nf::clickhouse against a real clickhouse-server on loopback (started per test in a temporary
// directory; skipped when the binary is missing): the DDL runs, every record arrives exactly
// once, outages (clean stop and SIGKILL mid-stream) and collector restarts lose and duplicate
// nothing, a batch whose answer was lost is not inserted twice, and the Distributed-table
// recipe from docs/clickhouse.md works with two local shards.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/clickhouse/schema.h"
#include "collector/output/clickhouse/spool.h"
#include "gtest/gtest.h"
#include "tests/clickhouse/local_clickhouse.h"
#include "tests/support/test_support.h"

namespace nf::clickhouse {
namespace {

using ::nf::testing::FreeTcpPort;
using ::nf::testing::LocalClickHouse;

// Record i is unique through `packets` (= i + 1): uniqExact(packets) == count() proves that
// nothing is duplicated, and count() == N that nothing is lost.
DecodedRecord Record(uint64_t i) {
  DecodedRecord r;
  r.exporter.address = IpAddress::V4(0xc0000201);  // 192.0.2.1
  r.exporter.port = 40000;
  r.version = 9;
  r.source_id = 7;
  r.template_id = 260;
  r.receive_time_us = 1'700'000'000'000'000 + static_cast<int64_t>(i) * 1000;
  r.first_ms = 1'699'999'999'250;
  r.last_ms = 1'700'000'000'750;
  r.ip_version = 4;
  r.protocol = 6;
  r.src_addr = IpAddress::V4(0x0a000000 + static_cast<uint32_t>(i % 65536));
  r.dst_addr = IpAddress::V4(0xc6336401);  // 198.51.100.1
  r.src_port = static_cast<uint16_t>(1024 + i % 50000);
  r.dst_port = 443;
  r.tcp_flags = 0x1b;
  r.input_if = 3;
  r.output_if = 4;
  r.packets = i + 1;
  r.bytes = (i + 1) * 1500;
  r.sampling = 1;
  // Enrichment columns: a country on one side only, a name with a comma on one interface.
  r.dst_country = {'S', 'E'};
  r.input_if_name = "xe-0/0/1, uplink";
  return r;
}

uint64_t SumPackets(uint64_t n) { return n * (n + 1) / 2; }

class ClickHouseServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NF_REQUIRE_CLICKHOUSE();
    server_ = std::make_unique<LocalClickHouse>(tmp_.File("ch"), FreeTcpPort(), FreeTcpPort());
    absl::Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s;
    auto ddl = server_->Query(CreateTableSql("flows"));
    ASSERT_TRUE(ddl.ok()) << ddl.status();
  }

  ClickHouseOptions Options() const {
    ClickHouseOptions o;
    o.url = server_->Url();
    o.table = "flows";
    o.batch_rows = 1000;
    o.spool_dir = tmp_.File("spool");
    o.retry_initial_us = 20'000;
    o.retry_max_us = 200'000;
    o.max_queued_batches = 10'000;
    return o;
  }

  void ExpectExactly(uint64_t n) {
    auto count = server_->QueryNumber("SELECT count() FROM flows");
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, n) << "records lost or duplicated";
    auto unique = server_->QueryNumber("SELECT uniqExact(packets) FROM flows");
    ASSERT_TRUE(unique.ok()) << unique.status();
    EXPECT_EQ(*unique, n) << "duplicated records";
    auto sum = server_->QueryNumber("SELECT sum(packets) FROM flows");
    ASSERT_TRUE(sum.ok());
    EXPECT_EQ(*sum, SumPackets(n));
  }

  ::nf::testing::TempDir tmp_;
  std::unique_ptr<LocalClickHouse> server_;
};

TEST_F(ClickHouseServerTest, EveryRecordArrivesOnceWithItsValues) {
  constexpr uint64_t kRecords = 20'000;
  auto writer = ClickHouseWriter::Create(Options());
  ASSERT_TRUE(writer.ok()) << writer.status();
  {
    // Two decode threads, each with its own batcher, one shared writer.
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        ClickHouseBatcher batcher(**writer);
        for (uint64_t i = static_cast<uint64_t>(t); i < kRecords; i += 2) {
          batcher.OnRecord(Record(i));
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  ASSERT_TRUE((*writer)->WaitIdle(60'000'000)) << (*writer)->last_error();
  EXPECT_EQ((*writer)->counters().records_inserted.load(), kRecords);
  EXPECT_EQ((*writer)->counters().insert_failures.load(), 0u);
  ExpectExactly(kRecords);

  auto row = server_->Query(
      "SELECT IPv6NumToString(exporter), exporter_port, version, source_id, template_id, "
      "toUnixTimestamp(first), first_msec, toUnixTimestamp(last), last_msec, "
      "IPv6NumToString(src_addr), IPv6NumToString(dst_addr), src_port, dst_port, protocol, "
      "tcp_flags, input_if, output_if, bytes, sampling, toUnixTimestamp(receive_time), "
      "hex(src_country), dst_country, input_if_name, output_if_name "
      "FROM flows WHERE packets = 3 FORMAT TabSeparated");
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(*row,
            "::ffff:192.0.2.1\t40000\t9\t7\t260\t1699999999\t250\t1700000000\t750\t"
            "::ffff:10.0.0.2\t::ffff:198.51.100.1\t1026\t443\t6\t27\t3\t4\t4500\t1\t"
            "1700000000\t0000\tSE\txe-0/0/1, uplink\t\n");
}

TEST_F(ClickHouseServerTest, StopAndRestartMidStreamLosesAndDuplicatesNothing) {
  constexpr uint64_t kRecords = 12'000;
  auto writer = ClickHouseWriter::Create(Options());
  ASSERT_TRUE(writer.ok());
  ClickHouseBatcher batcher(**writer);
  for (uint64_t i = 0; i < kRecords / 3; ++i) batcher.OnRecord(Record(i));
  batcher.Flush();
  ASSERT_TRUE((*writer)->WaitIdle(60'000'000));

  server_->Stop();
  for (uint64_t i = kRecords / 3; i < 2 * kRecords / 3; ++i) batcher.OnRecord(Record(i));
  batcher.Flush();
  // Bounded wait until the sender gave up on ClickHouse and spooled everything it got.
  for (int i = 0; i < 600 && (*writer)->counters().spool_records.load() < kRecords / 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*writer)->counters().spool_records.load(), kRecords / 3);
  EXPECT_GT((*writer)->counters().insert_failures.load(), 0u);
  EXPECT_EQ((*writer)->counters().up.load(), 0u);

  ASSERT_TRUE(server_->Start().ok());
  for (uint64_t i = 2 * kRecords / 3; i < kRecords; ++i) batcher.OnRecord(Record(i));
  batcher.Flush();
  ASSERT_TRUE((*writer)->WaitIdle(60'000'000)) << (*writer)->last_error();
  EXPECT_EQ((*writer)->counters().spool_batches.load(), 0u);
  EXPECT_EQ((*writer)->counters().up.load(), 1u);
  ExpectExactly(kRecords);
}

TEST_F(ClickHouseServerTest, KillMidStreamWhileSending) {
  constexpr uint64_t kBatches = 60;
  constexpr uint64_t kRows = 500;
  ClickHouseOptions o = Options();
  o.batch_rows = kRows;
  auto writer = ClickHouseWriter::Create(o);
  ASSERT_TRUE(writer.ok());
  std::atomic<uint64_t> submitted{0};
  std::thread producer([&] {
    ClickHouseBatcher batcher(**writer);
    for (uint64_t b = 0; b < kBatches; ++b) {
      for (uint64_t i = b * kRows; i < (b + 1) * kRows; ++i) batcher.OnRecord(Record(i));
      submitted.store(b + 1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // Crash ClickHouse while batches are in flight, then bring it back.
  for (int i = 0; i < 2000 && submitted.load() < kBatches / 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  server_->Kill();
  for (int i = 0; i < 2000 && submitted.load() < kBatches / 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(server_->Start().ok());
  producer.join();
  ASSERT_TRUE((*writer)->WaitIdle(90'000'000)) << (*writer)->last_error();
  const ClickHouseCounters& c = (*writer)->counters();
  EXPECT_EQ(c.records_queued.load(), kBatches * kRows);
  EXPECT_EQ(c.records_dropped_spool_full.load() + c.records_dropped_queue_full.load() +
                c.records_dropped_other.load(),
            0u);
  EXPECT_EQ(c.records_inserted.load() + c.batches_found_present.load() * kRows,
            kBatches * kRows);
  ExpectExactly(kBatches * kRows);
}

TEST_F(ClickHouseServerTest, CollectorRestartReplaysTheSpool) {
  constexpr uint64_t kRecords = 5'000;
  server_->Stop();
  {
    auto writer = ClickHouseWriter::Create(Options());
    ASSERT_TRUE(writer.ok());
    {
      ClickHouseBatcher batcher(**writer);
      for (uint64_t i = 0; i < kRecords; ++i) batcher.OnRecord(Record(i));
    }
    (*writer)->Close(0);  // "SIGTERM" while ClickHouse is down: everything stays on disk
    EXPECT_EQ((*writer)->counters().spool_records.load(), kRecords);
  }
  ASSERT_TRUE(server_->Start().ok());
  auto writer = ClickHouseWriter::Create(Options());
  ASSERT_TRUE(writer.ok());
  EXPECT_EQ((*writer)->counters().spool_records.load(), kRecords);
  ASSERT_TRUE((*writer)->WaitIdle(60'000'000)) << (*writer)->last_error();
  ExpectExactly(kRecords);
}

TEST_F(ClickHouseServerTest, BatchWhoseAnswerWasLostIsNotInsertedTwice) {
  // Insert a batch, then put the very same batch in the spool as if the INSERT's answer had
  // been lost: the replay must find it in the table and not send it again. A second spooled
  // batch that never arrived must be inserted.
  Batch sent;
  sent.id = 0xfeedface12345678ULL;
  Batch lost;
  lost.id = 0x0123456789abcdefULL;
  for (uint64_t i = 0; i < 100; ++i) {
    DecodedRecord r = Record(i);
    AppendRowBinary(r, sent.id, sent.data);
    DecodedRecord r2 = Record(100 + i);
    AppendRowBinary(r2, lost.id, lost.data);
  }
  sent.rows = lost.rows = 100;
  sent.min_time = lost.min_time = 1'700'000'000;
  sent.max_time = lost.max_time = 1'700'000'000;
  {
    auto writer = ClickHouseWriter::Create(Options());
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Submit(Batch(sent)));
    ASSERT_TRUE((*writer)->WaitIdle(60'000'000));
  }
  {
    auto spool = Spool::Open(Options().spool_dir, 1 << 30);
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE(spool->Put(sent).ok());
    ASSERT_TRUE(spool->Put(lost).ok());
  }
  auto writer = ClickHouseWriter::Create(Options());
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->WaitIdle(60'000'000)) << (*writer)->last_error();
  EXPECT_EQ((*writer)->counters().batches_found_present.load(), 1u);
  EXPECT_EQ((*writer)->counters().records_inserted.load(), 100u);
  ExpectExactly(200);
}

TEST(ClickHouseDistributedTest, TwoShardRecipeSpreadsBatchesAndCountsOnce) {
  NF_REQUIRE_CLICKHOUSE();
  ::nf::testing::TempDir tmp;
  uint16_t tcp1 = FreeTcpPort();
  uint16_t tcp2 = FreeTcpPort();
  std::vector<uint16_t> cluster = {tcp1, tcp2};
  LocalClickHouse shard1(tmp.File("s1"), FreeTcpPort(), tcp1, cluster);
  LocalClickHouse shard2(tmp.File("s2"), FreeTcpPort(), tcp2, cluster);
  ASSERT_TRUE(shard1.Start().ok()) << shard1.LogTail();
  ASSERT_TRUE(shard2.Start().ok()) << shard2.LogTail();
  // The recipe of docs/clickhouse.md: a local table on every shard, a Distributed table over
  // them (sharding key batch_id) where collectors insert and users query.
  for (LocalClickHouse* s : {&shard1, &shard2}) {
    ASSERT_TRUE(s->Query(CreateTableSql("flows_local")).ok());
    auto d = s->Query(CreateDistributedTableSql("flows", "nf_test_cluster", "default.flows_local"));
    ASSERT_TRUE(d.ok()) << d.status();
  }
  constexpr uint64_t kRecords = 10'000;
  // Two collectors, one per shard's HTTP port, both writing through the Distributed table.
  std::vector<std::unique_ptr<ClickHouseWriter>> writers;
  for (LocalClickHouse* s : {&shard1, &shard2}) {
    ClickHouseOptions o;
    o.url = s->Url("insert_distributed_sync=1");
    o.table = "flows";
    o.batch_rows = 250;
    o.spool_dir = tmp.File(absl::StrCat("spool", s->tcp_port()));
    o.max_queued_batches = 10'000;
    auto w = ClickHouseWriter::Create(o);
    ASSERT_TRUE(w.ok()) << w.status();
    writers.push_back(*std::move(w));
  }
  {
    ClickHouseBatcher b1(*writers[0]);
    ClickHouseBatcher b2(*writers[1]);
    for (uint64_t i = 0; i < kRecords; ++i) (i % 2 ? b2 : b1).OnRecord(Record(i));
  }
  for (auto& w : writers) ASSERT_TRUE(w->WaitIdle(60'000'000)) << w->last_error();
  auto n1 = shard1.QueryNumber("SELECT count() FROM flows_local");
  auto n2 = shard2.QueryNumber("SELECT count() FROM flows_local");
  ASSERT_TRUE(n1.ok() && n2.ok());
  EXPECT_GT(*n1, 0u) << "shard 1 got nothing";
  EXPECT_GT(*n2, 0u) << "shard 2 got nothing";
  EXPECT_EQ(*n1 + *n2, kRecords);
  for (LocalClickHouse* s : {&shard1, &shard2}) {
    auto total = s->QueryNumber("SELECT count() FROM flows");
    ASSERT_TRUE(total.ok()) << total.status();
    EXPECT_EQ(*total, kRecords);
    auto unique = s->QueryNumber("SELECT uniqExact(packets) FROM flows");
    ASSERT_TRUE(unique.ok());
    EXPECT_EQ(*unique, kRecords);
  }
  // The re-send check works through the Distributed table too.
  auto one = shard1.QueryNumber("SELECT count() FROM flows WHERE batch_id = (SELECT any(batch_id) FROM flows_local)");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, 250u);
}

}  // namespace
}  // namespace nf::clickhouse
