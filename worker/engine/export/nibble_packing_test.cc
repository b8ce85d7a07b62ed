#include "worker/engine/export/nibble_packing.h"

#include <gtest/gtest.h>

#include <vector>

#include "worker/engine/export/export_error.h"

namespace quantd::engine::exporting {
namespace {

std::vector<int> Bytes(const at::Tensor& packed) {
  std::vector<int> values;
  for (int64_t i = 0; i < packed.numel(); ++i) {
    values.push_back(packed.flatten()[i].item<int>());
  }
  return values;
}

TEST(NibblePackingTest, StoresEvenCodesInTheLowNibble) {
  at::Tensor codes = at::tensor({1, 2, 3, 15, 0}, at::kByte);
  at::Tensor packed = PackNibbles(codes);
  EXPECT_EQ(packed.scalar_type(), at::kByte);
  EXPECT_EQ(Bytes(packed), (std::vector<int>{0x21, 0xF3, 0x00}));
}

TEST(NibblePackingTest, StoresSignedCodesAsTwosComplement) {
  at::Tensor codes = at::tensor({-8, 7, -1, 0}, at::kChar);
  EXPECT_EQ(Bytes(PackNibbles(codes)), (std::vector<int>{0x78, 0x0F}));
  EXPECT_TRUE(at::equal(UnpackNibbles(PackNibbles(codes), 4, true), codes));
}

TEST(NibblePackingTest, RoundTripsOddRowsOfBothSignednesses) {
  at::manual_seed(11);
  at::Tensor unsigned_codes = at::randint(0, 16, {5, 7}, at::kByte);
  at::Tensor packed = PackNibbles(unsigned_codes);
  ASSERT_EQ(packed.sizes(), (std::vector<int64_t>{5, 4}));
  // Every row's padding nibble is zero.
  EXPECT_EQ(at::bitwise_right_shift(packed.select(1, 3), 4).sum().item<int>(),
            0);
  EXPECT_TRUE(at::equal(UnpackNibbles(packed, 7, false), unsigned_codes));

  at::Tensor signed_codes = at::randint(-8, 8, {3, 2, 9}, at::kChar);
  EXPECT_TRUE(at::equal(UnpackNibbles(PackNibbles(signed_codes), 9, true),
                        signed_codes));
}

TEST(NibblePackingTest, RejectsCodesThatDoNotFitFourBits) {
  EXPECT_THROW(PackNibbles(at::tensor({16}, at::kByte)), ExportError);
  EXPECT_THROW(PackNibbles(at::tensor({-9}, at::kChar)), ExportError);
  EXPECT_THROW(PackNibbles(at::tensor({1}, at::kInt)), ExportError);
  EXPECT_THROW(UnpackNibbles(at::zeros({2, 3}, at::kByte), 7, false),
               ExportError);
}

}  // namespace
}  // namespace quantd::engine::exporting
