// The pre-training loader: windows are slices of the file, order fixed by (seed, epoch), resume
// from a JSON cursor mid-epoch reproduces the following batches, epochs counted.
#include "data/loader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/check.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() / ("ot_loader_" + std::to_string(getpid()) + ".tok");
    tokens_.resize(10007);
    for (size_t i = 0; i < tokens_.size(); ++i)
      tokens_[i] = static_cast<int32_t>((i * 7919) % 5000);
    WriteTokenFile(path_, tokens_, 5000, -1);
  }
  void TearDown() override { fs::remove(path_); }
  fs::path path_;
  std::vector<int32_t> tokens_;
};

using Batch = std::pair<std::vector<int32_t>, std::vector<int32_t>>;
Batch NextBatch(TokenLoader& l, int64_t B, int64_t T) {
  Batch b{std::vector<int32_t>(B * T), std::vector<int32_t>(B * T)};
  l.Next(b.first, b.second);
  return b;
}

TEST_F(LoaderTest, WindowsAreShiftedSlicesAndCoverTheEpoch) {
  const int64_t B = 4, T = 16;
  TokenLoader l(path_, B, T, 3);
  EXPECT_EQ(l.windows_per_epoch(), (10007 - 16) / 16);
  std::set<int32_t> starts;
  for (int64_t k = 0; k < l.batches_per_epoch(); ++k) {
    const auto [in, tg] = NextBatch(l, B, T);
    for (int64_t b = 0; b < B; ++b) {
      // Find the window in the file: tokens are (i*7919) mod 5000, so position i is recoverable.
      const int32_t first = in[b * T];
      int64_t pos = -1;
      for (int64_t i = 0; i < l.windows_per_epoch() * T; i += T)
        if (tokens_[i] == first && tokens_[i + 1] == in[b * T + 1]) pos = i;
      ASSERT_GE(pos, 0) << "epoch 0 windows start at multiples of T";
      starts.insert(static_cast<int32_t>(pos));
      for (int64_t t = 0; t < T; ++t) {
        ASSERT_EQ(in[b * T + t], tokens_[pos + t]);
        ASSERT_EQ(tg[b * T + t], tokens_[pos + t + 1]);
      }
    }
  }
  EXPECT_EQ(static_cast<int64_t>(starts.size()), l.batches_per_epoch() * B)
      << "no window twice in an epoch";
  EXPECT_EQ(l.cursor().epoch, 1);
  EXPECT_EQ(l.cursor().index, 0);
  EXPECT_NEAR(l.Epochs(), double(l.batches_per_epoch() * B * T) / 10007, 1e-12);
}

TEST_F(LoaderTest, OrderIsFixedBySeedAndEpoch) {
  const int64_t B = 3, T = 32;
  TokenLoader a(path_, B, T, 7), b(path_, B, T, 7), c(path_, B, T, 8);
  const auto a0 = NextBatch(a, B, T), b0 = NextBatch(b, B, T), c0 = NextBatch(c, B, T);
  EXPECT_EQ(a0, b0);
  EXPECT_NE(a0, c0);
  // Epoch 1 is a different order (and offset) than epoch 0.
  std::vector<int32_t> e0(B * T), e1(B * T), t(B * T);
  a.Batch({0, 0}, e0, t);
  a.Batch({1, 0}, e1, t);
  EXPECT_NE(e0, e1);
  // Batch() is pure: asking out of order gives the same bits.
  std::vector<int32_t> again(B * T);
  a.Batch({0, 0}, again, t);
  EXPECT_EQ(again, e0);
}

TEST_F(LoaderTest, ResumesFromASerialisedCursorMidEpoch) {
  const int64_t B = 2, T = 24;
  TokenLoader a(path_, B, T, 99);
  const int64_t per_epoch = a.batches_per_epoch();
  for (int64_t k = 0; k < per_epoch + 5; ++k) NextBatch(a, B, T);  // into epoch 1
  const std::string saved = CursorToJson(a.cursor()).dump();
  std::vector<Batch> expected;
  for (int k = 0; k < 2 * per_epoch; ++k) expected.push_back(NextBatch(a, B, T));  // across epoch 2

  TokenLoader b(path_, B, T, 99);
  b.SetCursor(CursorFromJson(nlohmann::json::parse(saved)));
  EXPECT_EQ(b.cursor().epoch, 1);
  EXPECT_EQ(b.cursor().index, 5);
  EXPECT_NEAR(b.Epochs(), double((per_epoch + 5) * B * T) / 10007, 1e-12);
  for (size_t k = 0; k < expected.size(); ++k)
    ASSERT_EQ(NextBatch(b, B, T), expected[k]) << "batch " << k;

  EXPECT_THROW(b.SetCursor({0, per_epoch}), Error);
  EXPECT_THROW(CursorFromJson(nlohmann::json::parse(R"({"epoch": -1, "index": 0})")), Error);
  EXPECT_THROW(CursorFromJson(nlohmann::json::parse(R"({"epoch": 1})")), Error);
}

TEST_F(LoaderTest, RejectsAFileShorterThanOneBatch) {
  try {
    TokenLoader l(path_, 1000, 16, 1);
    FAIL() << "accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shorter than one batch"), std::string::npos) << e.what();
  }
}

TEST_F(LoaderTest, EvaluationOrderIsSequential) {
  const int64_t B = 2, T = 8;
  TokenLoader l(path_, B, T, 1, /*shuffle=*/false);
  std::vector<int32_t> in(B * T), tg(B * T);
  l.Batch({3, 1}, in, tg);  // any epoch: window 2 and 3
  for (int64_t t = 0; t < T; ++t) {
    EXPECT_EQ(in[t], tokens_[2 * T + t]);
    EXPECT_EQ(in[T + t], tokens_[3 * T + t]);
  }
}

}  // namespace
}  // namespace ot::data
