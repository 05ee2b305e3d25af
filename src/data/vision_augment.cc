// Vision augmentation: Philox draws per (key, index, counter) and one inverse mapping per output
// pixel (flip, then crop shift, then the affine's inverse), so the image is resampled once.
#include "data/vision_augment.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/check.h"
#include "core/rng.h"

namespace ot::data {

PixelNorm PixelStats(const VisionDataset& d) {
  if (d.images.empty()) throw Error(d.name + ": no pixels to compute a mean and std from");
  // Integer sums are exact (60,000 x 784 x 255^2 < 2^63), so the statistics do not depend on the
  // order of summation.
  uint64_t sum = 0, sum_sq = 0;
  for (uint8_t v : d.images) {
    sum += v;
    sum_sq += static_cast<uint64_t>(v) * v;
  }
  const double n = static_cast<double>(d.images.size());
  const double mean = static_cast<double>(sum) / n / 255.0;
  const double var = static_cast<double>(sum_sq) / n / (255.0 * 255.0) - mean * mean;
  if (!(var > 0.0)) throw Error(d.name + ": every pixel has the same value; std is 0");
  return {static_cast<float>(mean), static_cast<float>(std::sqrt(var))};
}

bool FlipAllowed(const std::string& source) {
  if (source == "fashion-mnist") return true;
  if (source == "mnist") return false;
  throw Error("unknown vision source '" + source + "' (expected mnist or fashion-mnist)");
}

void ValidateAugment(const AugmentParams& p) {
  if (p.pad < 0) throw Error(fmt::format("augment.pad is {}; expected >= 0", p.pad));
  if (!(p.rotate_deg >= 0.0 && p.rotate_deg <= 180.0))
    throw Error(fmt::format("augment.rotate_deg is {}; expected 0 to 180 degrees", p.rotate_deg));
  if (!(p.scale >= 0.0 && p.scale < 1.0))
    throw Error(fmt::format("augment.scale is {}; expected 0 <= scale < 1", p.scale));
}

AugmentDraw DrawAugment(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter) {
  OT_CHECK(p.pad >= 0 && p.rotate_deg >= 0.0 && p.rotate_deg <= 180.0 && p.scale >= 0.0 &&
           p.scale < 1.0)
      << "AugmentParams out of range: pad " << p.pad << ", rotate_deg " << p.rotate_deg
      << ", scale " << p.scale;
  const uint64_t k = RngKey(key, StreamId("vision/augment"), index, counter);
  AugmentDraw d;
  if (p.pad > 0) {
    const int span = 2 * p.pad + 1;
    // UniformAt is in (0, 1), so floor(u * span) <= span - 1; the min guards the rounding of
    // u*span.
    const auto offset = [&](uint64_t j) {
      return std::min(static_cast<int>(UniformAt(k, j) * span), span - 1) - p.pad;
    };
    d.dy = offset(0);
    d.dx = offset(1);
  }
  if (p.flip) d.flip = UniformAt(k, 2) < 0.5;
  if (p.rotate_deg > 0.0) d.angle_deg = (2.0 * UniformAt(k, 3) - 1.0) * p.rotate_deg;
  if (p.scale > 0.0) d.scale = 1.0 + (2.0 * UniformAt(k, 4) - 1.0) * p.scale;
  return d;
}

void ApplyAugment(const AugmentDraw& draw, std::span<const uint8_t> image, uint32_t rows,
                  uint32_t cols, const PixelNorm& norm, std::span<float> out) {
  const size_t n = static_cast<size_t>(rows) * cols;
  OT_CHECK(image.size() == n && out.size() == n)
      << "ApplyAugment expects " << n << " pixels in and out, got " << image.size() << " and "
      << out.size();
  // out = a * mul + add with a in 0..255: one multiply-add per pixel.
  const float mul = 1.0f / (255.0f * norm.std), add = -norm.mean / norm.std;
  const int R = static_cast<int>(rows), C = static_cast<int>(cols);
  const uint8_t* img = image.data();
  const bool affine = draw.angle_deg != 0.0 || draw.scale != 1.0;
  // Inverse affine in double: coordinates reach ~4,096 and float would cost bilinear weights
  // ~1e-4; the tests bound the error against the same formula.
  const double t = draw.angle_deg * (3.14159265358979323846 / 180.0);
  const double cs = std::cos(t) / draw.scale, sn = std::sin(t) / draw.scale;
  const double cy = 0.5 * (R - 1), cx = 0.5 * (C - 1);
  for (int y = 0; y < R; ++y) {
    float* o = out.data() + static_cast<size_t>(y) * C;
    const int v = y + draw.dy;
    for (int x = 0; x < C; ++x) {
      const int u = (draw.flip ? C - 1 - x : x) + draw.dx;
      float a = 0.0f;
      if (!affine) {
        if (v >= 0 && v < R && u >= 0 && u < C) a = img[static_cast<size_t>(v) * C + u];
      } else {
        const double ry = v - cy, rx = u - cx;
        const double sy = cy + sn * rx + cs * ry, sx = cx + cs * rx - sn * ry;
        const double fy = std::floor(sy), fx = std::floor(sx);
        const int y0 = static_cast<int>(fy), x0 = static_cast<int>(fx);
        const double wy = sy - fy, wx = sx - fx;
        // The four neighbours, each zero outside the image.
        const auto at = [&](int yy, int xx) -> double {
          return (yy >= 0 && yy < R && xx >= 0 && xx < C) ? img[static_cast<size_t>(yy) * C + xx]
                                                          : 0.0;
        };
        if (y0 >= -1 && y0 < R && x0 >= -1 && x0 < C)
          a = static_cast<float>((1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) +
                                 wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1)));
      }
      o[x] = a * mul + add;
    }
  }
}

void AugmentImage(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter,
                  std::span<const uint8_t> image, uint32_t rows, uint32_t cols,
                  const PixelNorm& norm, std::span<float> out) {
  ApplyAugment(DrawAugment(p, key, index, counter), image, rows, cols, norm, out);
}

void AugmentViews(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter,
                  std::span<const uint8_t> image, uint32_t rows, uint32_t cols,
                  const PixelNorm& norm, std::span<float> view_a, std::span<float> view_b) {
  AugmentImage(p, key, index, 2 * counter, image, rows, cols, norm, view_a);
  AugmentImage(p, key, index, 2 * counter + 1, image, rows, cols, norm, view_b);
}

}  // namespace ot::data
