#include <array>

#include "common/byte_reader.h"
#include "common/byte_writer.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(ByteWriterTest, WritesBigEndianAndRefusesOverflow) {
  std::array<uint8_t, 7> buf{};
  ByteWriter w(buf);
  EXPECT_TRUE(w.PutU16(0x0102));
  EXPECT_TRUE(w.PutU32(0x03040506));
  EXPECT_FALSE(w.PutU16(0x0708));  // one byte left
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.position(), 6u);
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(buf[5], 6);
  EXPECT_EQ(buf[6], 0);  // nothing partial written
}

TEST(ByteWriterTest, ReducedSizeUnsignedAndPatch) {
  std::array<uint8_t, 8> buf{};
  ByteWriter w(buf);
  w.PutU16(0);
  w.PutUnsigned(0x123456, 3);
  EXPECT_TRUE(w.PatchU16(0, 0xbeef));
  EXPECT_FALSE(w.PatchU16(4, 1));  // past what was written
  EXPECT_EQ(buf[0], 0xbe);
  EXPECT_EQ(buf[1], 0xef);
  EXPECT_EQ(buf[2], 0x12);
  EXPECT_EQ(buf[4], 0x56);
}

TEST(ByteReaderTest, ShortReadsFailWithoutMoving) {
  const uint8_t data[] = {0x00, 0x09, 0xaa, 0xbb, 0xcc};
  ByteReader r(data, sizeof(data));
  uint16_t v16 = 0;
  uint32_t v32 = 0;
  ASSERT_TRUE(r.ReadU16(v16));
  EXPECT_EQ(v16, 9);
  EXPECT_FALSE(r.ReadU32(v32));
  EXPECT_EQ(r.position(), 2u);
  uint64_t v = 0;
  EXPECT_TRUE(r.ReadUnsigned(3, v));
  EXPECT_EQ(v, 0xaabbccu);
  EXPECT_TRUE(r.empty());
  EXPECT_FALSE(r.Skip(1));
  EXPECT_FALSE(r.ReadUnsigned(0, v));
  EXPECT_FALSE(r.ReadUnsigned(9, v));
}

TEST(ByteReaderTest, U64RoundTrip) {
  std::array<uint8_t, 8> buf{};
  ByteWriter w(buf);
  w.PutU64(0x0102030405060708ull);
  ByteReader r(buf);
  uint64_t v = 0;
  ASSERT_TRUE(r.ReadU64(v));
  EXPECT_EQ(v, 0x0102030405060708ull);
}

}  // namespace
}  // namespace nf
