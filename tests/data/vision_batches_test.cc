// Vision augmentation and batching (data/vision_augment.h, data/vision_batches.h): each transform
// against a hand-derived oracle (identity, the crop's shift of one lit pixel, the exact mirror, a
// rotation's landing point from complex arithmetic, quarter turns and scale on the grid); draws
// repeat bit for bit and views differ; every image once per epoch, new draws each epoch, epochs at
// fractional budgets, batches larger than the dataset; resume bit for bit; bad parameters refused.
#include "data/vision_batches.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <cstring>
#include <numbers>
#include <set>

#include "common/test_util.h"
#include "core/check.h"
#include "core/rng.h"
#include "data/vision_augment.h"

namespace ot::data {
namespace {

using ot::testing::ErrorOf;

// n images of rows x cols with Philox pixel values and labels i % 10.
VisionDataset VbDataset(uint32_t n, uint32_t rows, uint32_t cols) {
  VisionDataset d;
  d.name = "synthetic train";
  d.rows = rows;
  d.cols = cols;
  d.images.resize(static_cast<size_t>(n) * rows * cols);
  for (size_t i = 0; i < d.images.size(); ++i)
    d.images[i] = static_cast<uint8_t>(Philox(7, 0, i)[0] & 0xff);
  for (uint32_t i = 0; i < n; ++i) d.labels.push_back(static_cast<uint8_t>(i % 10));
  return d;
}

// A rows x cols image, zero but for one pixel of 255 at (y, x).
std::vector<uint8_t> VbLitImage(int rows, int cols, int y, int x) {
  std::vector<uint8_t> img(static_cast<size_t>(rows) * cols, 0);
  img[static_cast<size_t>(y) * cols + x] = 255;
  return img;
}

// The output with mean 0 and std 1, a/255 as ApplyAugment rounds it: exact comparisons are
// against another such output (the identity's), so they do not depend on that rounding.
std::vector<float> VbOut(const AugmentDraw& draw, const std::vector<uint8_t>& img, int rows,
                         int cols) {
  std::vector<float> out(img.size());
  ApplyAugment(draw, img, rows, cols, PixelNorm{0.0f, 1.0f}, out);
  return out;
}

// With mean 0 and std 1 the output is a/255; this returns a (the resampled value, 0..255).
std::vector<double> VbRaw(const AugmentDraw& draw, const std::vector<uint8_t>& img, int rows,
                          int cols) {
  std::vector<float> out(img.size());
  ApplyAugment(draw, img, rows, cols, PixelNorm{0.0f, 1.0f}, out);
  std::vector<double> raw(out.begin(), out.end());
  for (double& v : raw) v *= 255.0;
  return raw;
}

TEST(VisionAugment, AllOffIsTheIdentityUpToNormalisation) {
  const VisionDataset d = VbDataset(3, 28, 28);
  const PixelNorm norm = PixelStats(d);
  const size_t P = 28 * 28;
  std::vector<float> out(P);
  for (uint64_t i = 0; i < 3; ++i) {
    const auto img = std::span(d.images).subspan(i * P, P);
    AugmentImage(AugmentParams{}, 11, i, 5, img, 28, 28, norm, out);
    for (size_t p = 0; p < P; ++p)  // a*mul + add against the formula: a few float ulps
      ASSERT_NEAR(out[p], (img[p] / 255.0 - norm.mean) / norm.std, 1e-5) << "pixel " << p;
  }
}

TEST(VisionAugment, PixelStatsAreTheMomentsOfXOver255) {
  VisionDataset d = VbDataset(1, 1, 4);
  d.images = {0, 255, 0, 255};  // mean 1/2, std 1/2
  const PixelNorm n = PixelStats(d);
  EXPECT_FLOAT_EQ(n.mean, 0.5f);
  EXPECT_FLOAT_EQ(n.std, 0.5f);
  d.images = {9, 9, 9, 9};
  EXPECT_EQ(ErrorOf([&] { PixelStats(d); }),
            "synthetic train: every pixel has the same value; std is 0");
}

TEST(VisionAugment, FlipIsAllowedForGarmentsNotDigits) {
  EXPECT_TRUE(FlipAllowed("fashion-mnist"));
  EXPECT_FALSE(FlipAllowed("mnist"));
  EXPECT_EQ(ErrorOf([] { FlipAllowed("cifar"); }),
            "unknown vision source 'cifar' (expected mnist or fashion-mnist)");
}

// Pad 4: the lit pixel at (10, 12) lands at (10 - dy, 12 - dx) for the drawn offset, nowhere else;
// over 4,000 draws every one of the 9 x 9 offsets occurs.
TEST(VisionAugment, CropShiftsTheImageByTheDrawnOffset) {
  const int R = 28, C = 28, ly = 10, lx = 12;
  const auto img = VbLitImage(R, C, ly, lx);
  AugmentParams p;
  p.pad = 4;
  const float lit = VbOut(AugmentDraw{}, img, R, C)[ly * C + lx];
  ASSERT_GT(lit, 0.0f);
  std::set<std::pair<int, int>> offsets;
  for (uint64_t i = 0; i < 4000; ++i) {
    const AugmentDraw draw = DrawAugment(p, 3, i, 0);
    ASSERT_GE(draw.dy, -4);
    ASSERT_LE(draw.dy, 4);
    ASSERT_GE(draw.dx, -4);
    ASSERT_LE(draw.dx, 4);
    offsets.insert({draw.dy, draw.dx});
    const auto out = VbOut(draw, img, R, C);
    for (int y = 0; y < R; ++y)
      for (int x = 0; x < C; ++x)
        ASSERT_EQ(out[y * C + x], (y == ly - draw.dy && x == lx - draw.dx) ? lit : 0.0f)
            << "draw " << i << " offset (" << draw.dy << ", " << draw.dx << ") at " << y << ","
            << x;
  }
  EXPECT_EQ(offsets.size(), 81u);
}

// Near the border the padding is zero: a shift that moves the pixel out leaves no lit pixel.
TEST(VisionAugment, CropPadsWithZeros) {
  const auto img = VbLitImage(8, 8, 0, 0);
  AugmentDraw draw;
  draw.dy = 1;  // the pixel of row 0 would land at row -1
  for (double v : VbRaw(draw, img, 8, 8)) ASSERT_EQ(v, 0.0);
}

TEST(VisionAugment, FlipMirrorsExactly) {
  const VisionDataset d = VbDataset(1, 5, 7);
  AugmentDraw draw;
  draw.flip = true;
  const auto out = VbOut(draw, d.images, 5, 7), id = VbOut(AugmentDraw{}, d.images, 5, 7);
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 7; ++x) ASSERT_EQ(out[y * 7 + x], id[y * 7 + (6 - x)]) << y << "," << x;
}

TEST(VisionAugment, FlipHappensHalfTheTimeAndNeverWhenOff) {
  AugmentParams on, off;
  on.flip = true;
  off.pad = 2;  // other transforms on, the flag off
  off.rotate_deg = 10;
  int flips_on = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    flips_on += DrawAugment(on, 9, i, 1).flip;
    ASSERT_FALSE(DrawAugment(off, 9, i, 1).flip) << "draw " << i;
  }
  // Binomial(10000, 1/2): sd 50, so +-500 is 10 sd.
  EXPECT_NEAR(flips_on, 5000, 500);
}

// The source of output pixel q under a counter-clockwise rotation by t and scale s about c, from
// complex numbers with the imaginary axis up (z = x - i*y): z_src = z_q * exp(-i t) / s. An
// independent derivation of the inverse map in ApplyAugment's comment.
std::pair<double, double> VbRotateSource(double qy, double qx, double cy, double cx, double t_deg,
                                         double s) {
  const std::complex<double> zq(qx - cx, -(qy - cy));
  const std::complex<double> z = zq * std::polar(1.0, -t_deg * std::numbers::pi / 180.0) / s;
  return {cy - z.imag(), cx + z.real()};
}

// A lit pixel at (14, 18) of a 29 x 29 image (centre (14, 14)) rotated by 30 degrees
// counter-clockwise lands at (14 - 4 sin 30, 14 + 4 cos 30) = (12, 17.46): every output pixel holds
// 255 (1 - |dy|)(1 - |dx|) for its source's distance (dy, dx) from (14, 18) when both are below 1,
// else 0. Oracle and implementation both map coordinates in double; the output is a/255 rounded to
// float (relative 6e-8, ~2e-5 on the 0..255 scale), so 1e-3 bounds it with room while a sign or
// axis error moves values by tens.
TEST(VisionAugment, RotationMovesAPixelWhereTheFormulaSays) {
  const int R = 29, C = 29, ly = 14, lx = 18;
  const auto img = VbLitImage(R, C, ly, lx);
  AugmentDraw draw;
  draw.angle_deg = 30.0;
  const auto raw = VbRaw(draw, img, R, C);
  int brightest = 0;
  for (int y = 0; y < R; ++y)
    for (int x = 0; x < C; ++x) {
      const auto [sy, sx] = VbRotateSource(y, x, 14, 14, 30.0, 1.0);
      const double w = std::max(0.0, 1 - std::abs(sy - ly)) * std::max(0.0, 1 - std::abs(sx - lx));
      ASSERT_NEAR(raw[y * C + x], 255.0 * w, 1e-3) << y << "," << x;
      if (raw[y * C + x] > raw[brightest]) brightest = y * C + x;
    }
  // The brightest pixel is the one nearest the landing point (12, 17.46); by hand its source is
  // (13.77, 17.60): 255 * 0.768 * 0.598 = 117.1.
  EXPECT_EQ(brightest, 12 * C + 17);
  EXPECT_NEAR(raw[12 * C + 17], 117.1, 0.1);
}

// Quarter turns and halving land on the grid: (14, 18) goes to (10, 14) at +90 degrees (up, so
// counter-clockwise), to (18, 14) at -90, and to (14, 16) at scale 0.5 (4 px from the centre
// becomes 2; its neighbours sample 2 px from the lit pixel, so they stay 0), each with the full 255
// within float rounding. Magnifying spreads the pixel: at scale 2, (14, 21) samples (14, 17.5).
TEST(VisionAugment, QuarterTurnsAndScaleLandOnTheGrid) {
  const auto img = VbLitImage(29, 29, 14, 18);
  const auto check = [&](double angle, double scale, int ty, int tx) {
    AugmentDraw draw;
    draw.angle_deg = angle;
    draw.scale = scale;
    const auto raw = VbRaw(draw, img, 29, 29);
    for (int y = 0; y < 29; ++y)
      for (int x = 0; x < 29; ++x)
        ASSERT_NEAR(raw[y * 29 + x], (y == ty && x == tx) ? 255.0 : 0.0, 1e-3)
            << "angle " << angle << " scale " << scale << " at " << y << "," << x;
  };
  check(90.0, 1.0, 10, 14);
  check(-90.0, 1.0, 18, 14);
  check(0.0, 0.5, 14, 16);
  AugmentDraw twice;
  twice.scale = 2.0;
  const auto raw = VbRaw(twice, img, 29, 29);
  EXPECT_NEAR(raw[14 * 29 + 22], 255.0, 1e-3);
  EXPECT_NEAR(raw[14 * 29 + 21], 127.5, 1e-3);
}

TEST(VisionAugment, TwoViewsDifferAndTheSameDrawRepeatsBitForBit) {
  const VisionDataset d = VbDataset(1, 28, 28);
  AugmentParams p;
  p.pad = 2;
  p.flip = true;
  p.rotate_deg = 10;
  p.scale = 0.1;
  const PixelNorm norm = PixelStats(d);
  std::vector<float> a(784), b(784), a2(784), b2(784), single(784);
  AugmentViews(p, 5, 0, 3, d.images, 28, 28, norm, a, b);
  AugmentViews(p, 5, 0, 3, d.images, 28, 28, norm, a2, b2);
  EXPECT_NE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.data(), a2.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(b.data(), b2.data(), b.size() * sizeof(float)), 0);
  AugmentImage(p, 5, 0, 6, d.images, 28, 28, norm, single);  // view a is counter 2*3
  EXPECT_EQ(std::memcmp(a.data(), single.data(), a.size() * sizeof(float)), 0);
  // Another image index, counter or key draws anew.
  const AugmentDraw base = DrawAugment(p, 5, 0, 6);
  for (const AugmentDraw& other :
       {DrawAugment(p, 5, 1, 6), DrawAugment(p, 5, 0, 7), DrawAugment(p, 6, 0, 6)})
    EXPECT_NE(other.angle_deg, base.angle_deg);
}

// n = 10 images, B = 3, budget 25: 8 steps (24 images, 2.4 epochs). Samples 0..9 are epoch 0,
// 10..19 epoch 1: each a permutation of the ten images; the two differ; labels and pixels follow
// the image.
TEST(VisionBatcher, EveryImageOncePerEpochAndEpochsAsAFraction) {
  const VisionDataset d = VbDataset(10, 4, 4);
  VisionBatchOptions o{.batch = 3, .budget_images = 25, .seed = 42};
  o.norm = {0.0f, 1.0f};
  VisionBatcher vb(d, o);
  EXPECT_EQ(vb.steps(), 8);
  EXPECT_DOUBLE_EQ(vb.BudgetEpochs(), 2.4);
  EXPECT_DOUBLE_EQ(vb.Epochs(), 0.0);
  std::vector<uint32_t> stream;
  std::vector<float> px(3 * 16);
  std::vector<int32_t> lb(3);
  int64_t steps = 0;
  while (vb.Next(px, lb)) {
    ++steps;
    EXPECT_DOUBLE_EQ(vb.Epochs(), 0.3 * static_cast<double>(steps));
    const auto images = vb.BatchImages(steps - 1);
    for (int b = 0; b < 3; ++b) {
      EXPECT_EQ(lb[b], d.labels[images[b]]);
      for (int p = 0; p < 16; ++p)
        ASSERT_FLOAT_EQ(px[b * 16 + p] * 255.0f, d.images[images[b] * 16 + p]);
    }
    stream.insert(stream.end(), images.begin(), images.end());
  }
  EXPECT_EQ(steps, 8);
  EXPECT_DOUBLE_EQ(vb.Epochs(), 2.4);
  ASSERT_EQ(stream.size(), 24u);
  for (int e = 0; e < 2; ++e) {
    std::vector<uint32_t> epoch(stream.begin() + 10 * e, stream.begin() + 10 * e + 10);
    std::sort(epoch.begin(), epoch.end());
    for (uint32_t i = 0; i < 10; ++i) EXPECT_EQ(epoch[i], i) << "epoch " << e;
  }
  const std::vector<uint32_t> first(stream.begin(), stream.begin() + 10),
      second(stream.begin() + 10, stream.begin() + 20), identity = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  EXPECT_NE(first, second);  // a new order each epoch
  EXPECT_NE(first, identity);
  // The third epoch's first four samples are four distinct images.
  EXPECT_EQ(std::set<uint32_t>(stream.begin() + 20, stream.end()).size(), 4u);
}

// n = 2, B = 2: batch 0 is epoch 0, batch 1 epoch 1, each holding both images. With augmentation
// on, an image's pixels differ between the epochs (new draws at counter 2e); off, they are equal.
TEST(VisionBatcher, AnImageGetsNewDrawsEachEpoch) {
  const VisionDataset d = VbDataset(2, 28, 28);
  VisionBatchOptions o{.batch = 2, .budget_images = 4, .seed = 8};
  o.norm = PixelStats(d);
  for (const bool on : {false, true}) {
    if (on) o.augment = {2, true, 10.0, 0.1};
    VisionBatcher vb(d, o);
    std::vector<float> e0(2 * 784), e1(2 * 784);
    std::vector<int32_t> l0(2), l1(2);
    vb.Batch(0, e0, l0);
    vb.Batch(1, e1, l1);
    const auto i0 = vb.BatchImages(0), i1 = vb.BatchImages(1);
    for (int b = 0; b < 2; ++b) {
      const int b1 = i1[0] == i0[b] ? 0 : 1;  // where image i0[b] sits in epoch 1
      ASSERT_EQ(i1[b1], i0[b]);
      const bool same =
          std::memcmp(e0.data() + b * 784, e1.data() + b1 * 784, 784 * sizeof(float)) == 0;
      EXPECT_EQ(same, !on) << "image " << i0[b] << (on ? ", augmentation on" : ", off");
    }
  }
}

TEST(VisionBatcher, RefusesABudgetBelowOneBatchAndAStepOutside) {
  const VisionDataset d = VbDataset(10, 4, 4);
  VisionBatchOptions o{.batch = 4, .budget_images = 3};
  EXPECT_EQ(ErrorOf([&] { VisionBatcher vb(d, o); }),
            "synthetic train: a budget of 3 images seen is less than one batch of 4");
  o.budget_images = 8;
  EXPECT_EQ(ErrorOf([&] { VisionBatcher vb(d, o, 3); }),
            "synthetic train: vision batcher step 3 is outside 0..2");
}

// B = 7 over n = 3: one batch spans three epochs; each epoch is still a permutation of the images.
TEST(VisionBatcher, ABatchLargerThanTheDatasetSpansEpochs) {
  const VisionDataset d = VbDataset(3, 2, 2);
  VisionBatchOptions o{.batch = 7, .budget_images = 21, .seed = 5};
  VisionBatcher vb(d, o);
  EXPECT_DOUBLE_EQ(vb.BudgetEpochs(), 7.0);
  std::vector<uint32_t> stream;
  for (int64_t k = 0; k < vb.steps(); ++k) {
    const auto images = vb.BatchImages(k);
    stream.insert(stream.end(), images.begin(), images.end());
  }
  for (size_t e = 0; e < 7; ++e)
    EXPECT_EQ(std::set<uint32_t>(stream.begin() + 3 * e, stream.begin() + 3 * e + 3).size(), 3u)
        << "epoch " << e;
}

TEST(VisionAugment, ParametersOutOfRangeAreOneSentence) {
  EXPECT_EQ(ErrorOf([] {
              ValidateAugment({-1, false, 0.0, 0.0});
            }),
            "augment.pad is -1; expected >= 0");
  EXPECT_EQ(ErrorOf([] {
              ValidateAugment({0, false, 200.0, 0.0});
            }),
            "augment.rotate_deg is 200; expected 0 to 180 degrees");
  EXPECT_EQ(ErrorOf([] {
              ValidateAugment({0, false, 0.0, 1.0});
            }),
            "augment.scale is 1; expected 0 <= scale < 1");
  const VisionDataset d = VbDataset(4, 2, 2);
  VisionBatchOptions o{.batch = 2, .budget_images = 4};
  o.augment.scale = -0.5;
  EXPECT_EQ(ErrorOf([&] { VisionBatcher vb(d, o); }),
            "augment.scale is -0.5; expected 0 <= scale < 1");
}

// A batcher started at step 3 gives batches 3..6 bit for bit as one that ran from 0, with
// augmentation on, single view and two views, B = 4 over n = 7 (batches straddle epochs).
TEST(VisionBatcher, ResumesBitForBit) {
  const VisionDataset d = VbDataset(7, 28, 28);
  VisionBatchOptions o{.batch = 4, .budget_images = 28, .seed = 3};
  o.augment = {2, true, 15.0, 0.1};
  o.norm = PixelStats(d);
  const size_t P = 784;
  VisionBatcher full(d, o), resumed(d, o, 3);
  std::vector<float> a(4 * P), b(4 * P), a2(4 * P), b2(4 * P), fa(4 * P), fb(4 * P);
  std::vector<int32_t> la(4), lb(4);
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(full.Next(fa, la));
  for (int k = 3; k < 7; ++k) {
    ASSERT_TRUE(full.Next(fa, la));
    ASSERT_TRUE(resumed.Next(fb, lb));
    EXPECT_EQ(std::memcmp(fa.data(), fb.data(), fa.size() * sizeof(float)), 0) << "step " << k;
    EXPECT_EQ(la, lb) << "step " << k;
    full.BatchViews(k, a, b, la);
    resumed.BatchViews(k, a2, b2, lb);
    EXPECT_EQ(std::memcmp(a.data(), a2.data(), a.size() * sizeof(float)), 0) << "step " << k;
    EXPECT_EQ(std::memcmp(b.data(), b2.data(), b.size() * sizeof(float)), 0) << "step " << k;
    EXPECT_EQ(std::memcmp(a.data(), fa.data(), a.size() * sizeof(float)), 0) << "view a, " << k;
  }
  EXPECT_FALSE(full.Next(fa, la));
  EXPECT_DOUBLE_EQ(resumed.Epochs(), 4.0);
  // A fresh batcher asked for batch 5 directly (its permutation cache cold) agrees too.
  VisionBatcher cold(d, o);
  cold.Batch(5, fb, lb);
  full.Batch(5, fa, la);
  EXPECT_EQ(std::memcmp(fa.data(), fb.data(), fa.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace ot::data
