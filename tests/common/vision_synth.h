// Synthetic image datasets for the vision stage and study tests: class k of `classes` is a bright
// band at rows (or, transposed, columns) proportional to k over a dim noisy background, so a tiny
// ViT separates them in a few hundred steps, and the two orientations are two different tasks for
// transfer; and the tiny ViT that reads them. Entry points: SynthBands, PutIdxSplit, TinyVit,
// TinyVitInit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/idx.h"
#include "model/config.h"
#include "model/init.h"
#include "model/layout.h"

namespace ot::testing {

// n images of side×side, labels i mod classes; `columns` transposes the band.
inline data::VisionDataset SynthBands(const std::string& name, int n, int side, int classes,
                                      bool columns, uint64_t seed) {
  data::VisionDataset d;
  d.name = name;
  d.rows = d.cols = static_cast<uint32_t>(side);
  d.classes = static_cast<uint32_t>(classes);
  d.images.resize(static_cast<size_t>(n) * side * side);
  d.labels.resize(n);
  const int width = std::max(1, side / classes);
  for (int i = 0; i < n; ++i) {
    const int k = i % classes;
    d.labels[i] = static_cast<uint8_t>(k);
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x) {
        const int at = columns ? x : y;
        const bool band = at >= k * width && at < (k + 1) * width;
        const double u = UniformAt(RngKey(seed, 7, i), y * side + x);
        d.images[(static_cast<size_t>(i) * side + y) * side + x] =
            static_cast<uint8_t>(band ? 180 + 70 * u : 60 * u);
      }
  }
  return d;
}

// Writes `d` as the idx pair of split `split` ("train" or "t10k") into `dir`.
inline void PutIdxSplit(const std::filesystem::path& dir, const std::string& split,
                        const data::VisionDataset& d) {
  auto put = [](const std::filesystem::path& path, const std::vector<uint32_t>& dims,
                const std::vector<uint8_t>& bytes) {
    std::string out = {'\0', '\0', '\x08', static_cast<char>(dims.size())};
    for (uint32_t v : dims)
      for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
    out.append(bytes.begin(), bytes.end());
    std::ofstream(path, std::ios::binary) << out;
  };
  std::filesystem::create_directories(dir);
  const auto n = static_cast<uint32_t>(d.size());
  put(dir / (split + "-images-idx3-ubyte"), {n, d.rows, d.cols}, d.images);
  put(dir / (split + "-labels-idx1-ubyte"), {n}, d.labels);
}

// 8x8 grey images, patch 4 (4 patches + CLS), C 16, one block, 4 classes (head = classes) or an
// 8-wide SigLIP projection (head = projection).
inline ModelConfig TinyVit(const std::string& head = "classes") {
  ModelConfig c = ModelConfig::VitPico();
  c.image_size = 8;
  c.patch_size = 4;
  c.d_model = 16;
  c.n_layers = 1;
  c.n_heads = 2;
  c.max_seq_len = 5;
  c.n_classes = 4;
  c.head = head;
  c.proj_dim = 8;
  return c;
}

inline std::vector<float> TinyVitInit(const ModelConfig& c, uint64_t seed) {
  const ParamLayout layout = ParamLayout::ForModel(c);
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  return p;
}

}  // namespace ot::testing
