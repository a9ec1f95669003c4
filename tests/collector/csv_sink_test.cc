// CSV file sink: atomic single output, bad paths at start, rotation into one complete file
// per interval, aggregated output.
#include "collector/output/csv/csv_sink.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/collector/output_test_record.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using output_test::Rec;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CsvSinkTest, SingleFileIsWrittenAtomically) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.output = dir.File("out.csv");
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok()) << sink.status();
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 1, 40));
  // Until Close, only a temporary file exists.
  EXPECT_EQ(ListDir(dir.path()).size(), 1u);
  EXPECT_NE(ListDir(dir.path())[0], "out.csv");
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"out.csv"});
  auto rows = testing::ReadCsv(dir.File("out.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("bytes"), "40");
  EXPECT_EQ((*sink)->rows_written(), 1u);
}

TEST(CsvSinkTest, BadOutputPathFailsAtStart) {
  CsvSinkOptions o;
  o.output = "/nonexistent-dir/x.csv";
  EXPECT_FALSE(CsvSink::Create(o).ok());
}

TEST(CsvSinkTest, RotationWritesOneCompleteFilePerInterval) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 60;
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const TimeUs t0 = 1'706'702'400'000'000;  // 2024-01-31T12:00:00Z
  DecodedRecord r = Rec("10.0.0.1", "10.0.0.2", 6, 1, 40);
  r.receive_time_us = t0 + 1'000'000;
  (*sink)->OnRecord(r);
  r.receive_time_us = t0 + 30'000'000;
  (*sink)->OnRecord(r);
  r.receive_time_us = t0 + 61'000'000;  // next interval: the first file is completed
  (*sink)->OnRecord(r);
  EXPECT_TRUE((*sink)->Tick(t0 + 62'000'000).ok());
  auto names = ListDir(dir.path());
  ASSERT_EQ(names.size(), 2u);  // one complete file, one temporary
  EXPECT_EQ(names[1], "flows-20240131T120000Z.csv");
  EXPECT_EQ(testing::ReadCsv(dir.File(names[1])).size(), 2u);
  EXPECT_TRUE((*sink)->Tick(t0 + 125'000'000).ok());  // idle past the interval: closed too
  names = ListDir(dir.path());
  EXPECT_EQ(names, (std::vector<std::string>{"flows-20240131T120000Z.csv",
                                            "flows-20240131T120100Z.csv"}));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ((*sink)->files_written(), 2u);
}

TEST(CsvSinkTest, AggregatedOutput) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.output = dir.File("agg.csv");
  o.aggregate.keys = "protocol";
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok());
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 1, 40));
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 2, 60));
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 17, 1, 500));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ReadFile(dir.File("agg.csv")), "protocol,flows,packets,bytes\n17,1,1,500\n6,2,3,100\n");
}

}  // namespace
}  // namespace nf
