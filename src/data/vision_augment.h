// Augmentation of one uint8 image into normalised floats for vision pre-training (docs/data.md
// "Vision"): an affine transform about the centre, a random crop of the zero-padded image, a
// horizontal flip where the classes allow it, then (x/255 - mean)/std. Every draw is a pure
// function of (key, image index, counter) through Philox, so it is the same at any thread count and
// on any machine. Entry points: AugmentParams, PixelNorm, PixelStats, FlipAllowed, DrawAugment,
// ApplyAugment, AugmentImage, AugmentViews, ValidateAugment.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "data/idx.h"

namespace ot::data {

// What to draw; every field at 0 (or false) turns its transform off.
struct AugmentParams {
  int pad = 0;              // crop: pad this many zero pixels per side, crop at offset [0, 2*pad]^2
  bool flip = false;        // horizontal flip with probability 1/2 (only if FlipAllowed)
  double rotate_deg = 0.0;  // rotation uniform in [-rotate_deg, +rotate_deg] degrees
  double scale = 0.0;       // scale factor uniform in [1 - scale, 1 + scale]
  bool operator==(const AugmentParams&) const = default;
};

// Throws Error, one sentence naming the field, unless pad >= 0, rotate_deg in [0, 180] and scale in
// [0, 1) (a factor of 1 - scale must stay positive).
void ValidateAugment(const AugmentParams& p);

// Normalisation: out = (x/255 - mean) / std.
struct PixelNorm {
  float mean = 0.0f, std = 1.0f;
};
// Mean and standard deviation of x/255 over every pixel of `d` (pass the train split: test batches
// are normalised with the train split's statistics). Throws Error for an empty or constant dataset.
PixelNorm PixelStats(const VisionDataset& d);

// Whether a horizontal flip keeps an image in its class: yes for fashion-mnist (a mirrored shoe,
// shirt or bag is still one), no for mnist (a mirrored 2, 3, 4, 5, 7 or 9 is no digit, and the
// model would learn mirrored digits the test set never shows). Throws Error for a source that is
// not a vision source.
bool FlipAllowed(const std::string& source);

// One draw of the transforms, in pixels and degrees.
struct AugmentDraw {
  int dy = 0, dx = 0;  // crop offset minus pad: the image moves by (-dy, -dx)
  bool flip = false;
  double angle_deg = 0.0;  // counter-clockwise as the image is displayed (rows go down)
  double scale = 1.0;
};

// The draw for image `index` at `counter` (the batcher passes 2*epoch, and 2*epoch+1 for a second
// view). Uniforms u_j = UniformAt(RngKey(key, "vision/augment", index, counter), j), one fixed j
// per transform so turning one off does not change the others: j=0,1 crop row/col offset
// floor(u*(2p+1)) - p; j=2 flip when u < 1/2; j=3 angle (2u-1)*rotate_deg; j=4 scale
// 1 + (2u-1)*scale.
AugmentDraw DrawAugment(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter);

// Applies `draw` to one image (rows, cols) into `out` (rows*cols floats). Output pixel (y, x):
//   flip:       x1 = flip ? cols-1-x : x
//   pad + crop: (v, u) = (y + dy, x1 + dx), a shift with zeros coming in
//   affine off: a = image[v][u] (0 outside)
//   affine on:  with centre c = ((rows-1)/2, (cols-1)/2) and (ry, rx) = (v, u) - c, the source is
//               c + (sin t*rx + cos t*ry, cos t*rx - sin t*ry) / scale, the inverse of rotating
//               by t counter-clockwise and scaling about c; a is its bilinear sample, 0 outside
//   out = (a/255 - mean) / std, computed as a * (1/(255 std)) - mean/std.
void ApplyAugment(const AugmentDraw& draw, std::span<const uint8_t> image, uint32_t rows,
                  uint32_t cols, const PixelNorm& norm, std::span<float> out);

// DrawAugment then ApplyAugment.
void AugmentImage(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter,
                  std::span<const uint8_t> image, uint32_t rows, uint32_t cols,
                  const PixelNorm& norm, std::span<float> out);

// Two independent views of one image for the contrastive (SigLIP) objective: view a at counter
// 2*counter, view b at 2*counter+1.
void AugmentViews(const AugmentParams& p, uint64_t key, uint64_t index, uint64_t counter,
                  std::span<const uint8_t> image, uint32_t rows, uint32_t cols,
                  const PixelNorm& norm, std::span<float> view_a, std::span<float> view_b);

}  // namespace ot::data
