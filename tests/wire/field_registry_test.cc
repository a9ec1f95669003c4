// The information element registry: names, numbers and lengths of the fields we know.
#include "wire/v9_fields.h"

#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(FieldRegistryTest, KnownFields) {
  const FieldInfo* f = FindField(field::kInBytes);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->name, "IN_BYTES");
  EXPECT_EQ(f->default_length, 4);
  EXPECT_EQ(FindFieldByName("ipv6_src_addr")->id, 27);
  EXPECT_EQ(FindFieldByName("octetDeltaCount")->id, 1);
  EXPECT_EQ(FindField(43), nullptr);  // vendor-reserved
  EXPECT_EQ(FindFieldByName("NO_SUCH_FIELD"), nullptr);
  // Every RFC 3954 non-vendor ID from 1 to 104 is present.
  for (uint16_t id = 1; id <= 104; ++id) {
    if (id == 43 || id == 51 || (id >= 65 && id <= 69) || id == 87 || id == 97 || id == 100 ||
        id == 101) {
      continue;
    }
    EXPECT_NE(FindField(id), nullptr) << id;
  }
}

}  // namespace
}  // namespace nf
