// Records per second into ClickHouse through nf::clickhouse (for docs/BENCHMARKS.md).
//
//   clickhouse_bench [RECORDS [BATCH_ROWS [URL]]]
//
// Without URL it starts a throw-away clickhouse-server on loopback (data in a temporary
// directory). It feeds RECORDS synthetic raw records through one ClickHouseBatcher, waits until
// ClickHouse acknowledged all of them, checks count() in the table, and prints the rate (wall
// clock, from the first record to the last acknowledgement) and our own CPU time.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/clickhouse/schema.h"
#include "tests/clickhouse/local_clickhouse.h"

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  size_t batch_rows = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  std::string url = argc > 3 ? argv[3] : "";
  std::unique_ptr<nf::testing::LocalClickHouse> server;
  char dir_template[] = "/tmp/nf-chbench-XXXXXX";
  std::string dir;
  if (url.empty()) {
    if (nf::testing::FindClickHouseServer().empty()) {
      std::fprintf(stderr, "clickhouse-server is not installed; pass a URL\n");
      return 2;
    }
    dir = mkdtemp(dir_template);
    server = std::make_unique<nf::testing::LocalClickHouse>(
        dir + "/ch", nf::testing::FreeTcpPort(), nf::testing::FreeTcpPort());
    if (absl::Status s = server->Start(); !s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
    url = server->Url();
    if (auto r = server->Query(nf::clickhouse::CreateTableSql("flows_bench")); !r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      return 1;
    }
  }
  nf::clickhouse::ClickHouseOptions o;
  o.url = url;
  o.table = "flows_bench";
  o.batch_rows = batch_rows;
  o.max_queued_batches = 64;
  auto writer = nf::clickhouse::ClickHouseWriter::Create(o);
  if (!writer.ok()) {
    std::fprintf(stderr, "%s\n", std::string(writer.status().message()).c_str());
    return 1;
  }
  nf::DecodedRecord r;
  r.exporter.address = nf::IpAddress::V4(0xc0000201);
  r.version = 9;
  r.ip_version = 4;
  r.protocol = 6;
  r.dst_addr = nf::IpAddress::V4(0xc6336401);
  r.first_ms = 1'700'000'000'000;
  r.last_ms = 1'700'000'001'000;
  double cpu0 = CpuSeconds();
  auto t0 = std::chrono::steady_clock::now();
  {
    nf::clickhouse::ClickHouseBatcher batcher(**writer);
    for (uint64_t i = 0; i < records; ++i) {
      r.receive_time_us = 1'700'000'000'000'000 + static_cast<int64_t>(i);
      r.src_addr = nf::IpAddress::V4(0x0a000000 + static_cast<uint32_t>(i & 0xffffff));
      r.src_port = static_cast<uint16_t>(i);
      r.packets = i + 1;
      r.bytes = (i + 1) * 64;
      batcher.OnRecord(r);
      // Stay within the in-memory queue like a live collector would (no drops in a benchmark).
      while ((*writer)->counters().records_queued.load() -
                 (*writer)->counters().records_inserted.load() >
             static_cast<uint64_t>(o.max_queued_batches / 2) * batch_rows) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  bool idle = (*writer)->WaitIdle(600'000'000);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  const auto& c = (*writer)->counters();
  std::printf("records=%llu batch_rows=%zu inserted=%llu dropped=%llu idle=%d\n",
              static_cast<unsigned long long>(records), batch_rows,
              static_cast<unsigned long long>(c.records_inserted.load()),
              static_cast<unsigned long long>(c.records_dropped_queue_full.load() +
                                              c.records_dropped_spool_full.load() +
                                              c.records_dropped_other.load()),
              idle ? 1 : 0);
  std::printf("wall=%.3fs rate=%.0f records/s  collector_cpu=%.3fs (%.0f records/CPU-s)\n", wall,
              static_cast<double>(c.records_inserted.load()) / wall, cpu,
              static_cast<double>(c.records_inserted.load()) / cpu);
  if (server) {
    auto n = server->QueryNumber("SELECT count() FROM flows_bench");
    std::printf("count() in ClickHouse = %llu\n",
                n.ok() ? static_cast<unsigned long long>(*n) : 0ULL);
    server->Stop();
    std::filesystem::remove_all(dir);
  }
  return idle && c.records_inserted.load() == records ? 0 : 1;
}
