// The vision study's per-checkpoint measurements (analysis/vision_stage.h, linear_probe.h): the
// linear probe reaches a stationary point of its objective and reads standardised features; the
// objective scores average the backend's batches; the backbone transplant copies exactly the
// non-head tensors; fine-tuning learns a new task through a new head.
#include "analysis/vision_stage.h"

#include <gtest/gtest.h>

#include <cmath>

#include "analysis/linear_probe.h"
#include "common/test_util.h"
#include "common/vision_synth.h"
#include "core/rng.h"
#include "model/layout.h"
#include "train/vision_pretrain.h"

namespace ot {
namespace {

using testing::TinyVit;
using testing::TinyVitInit;

// Three Gaussian blobs in 5 dimensions, centres 3 apart, unit noise: 100 rows each.
void Blobs(std::vector<float>& f, std::vector<int32_t>& labels) {
  for (int i = 0; i < 300; ++i) {
    labels.push_back(i % 3);
    for (int j = 0; j < 5; ++j) {
      const double u1 = UniformAt(RngKey(3, 1, i), 2 * j),
                   u2 = UniformAt(RngKey(3, 1, i), 2 * j + 1);
      const double z = std::sqrt(-2 * std::log(u1 + 1e-300)) * std::cos(2 * M_PI * u2);
      f.push_back(static_cast<float>(z + (j == i % 3 ? 3.0 : 0.0)));
    }
  }
}

// ∇ of mean cross-entropy + (l2/2)‖W‖² (bias not decayed) at `w`, on the probe's standardised
// features: what FitLinearProbe descends.
std::vector<double> ProbeGradient(const LinearProbe& p, const std::vector<double>& w,
                                  const std::vector<float>& f, const std::vector<int32_t>& y,
                                  double l2) {
  const int D = p.dim + 1, K = p.classes;
  std::vector<double> g(w.size(), 0.0);
  for (size_t i = 0; i < y.size(); ++i) {
    std::vector<double> x(D, 1.0), z(K, 0.0);
    for (int j = 0; j < p.dim; ++j) x[j] = (f[i * p.dim + j] - p.mean[j]) * p.inv_std[j];
    double top = -1e300, sum = 0;
    for (int k = 0; k < K; ++k) {
      for (int j = 0; j < D; ++j) z[k] += w[k * D + j] * x[j];
      top = std::max(top, z[k]);
    }
    for (int k = 0; k < K; ++k) sum += std::exp(z[k] - top);
    for (int k = 0; k < K; ++k) {
      const double r = std::exp(z[k] - top) / sum - (k == y[i] ? 1.0 : 0.0);
      for (int j = 0; j < D; ++j) g[k * D + j] += r * x[j] / y.size();
    }
  }
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < p.dim; ++j) g[k * D + j] += l2 * w[k * D + j];
  return g;
}

double Norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Accelerated gradient descent on a μ-strongly convex, L-smooth objective shrinks the gradient like
// (1 − sqrt(μ/L))^k: here μ ≥ l2 = 1e-3 and L ≤ ½·λmax + l2 ≈ 1.5 (standardised blobs), so 300
// iterations give (1 − 0.026)^300 ≈ 4e-4 of the start even in the worst direction; 1e-2 leaves a
// factor of 25 for the bound's constant.
TEST(LinearProbe, SeparatesGaussianBlobsAndStopsAtAStationaryPoint) {
  std::vector<float> f;
  std::vector<int32_t> y;
  Blobs(f, y);
  const LinearProbe p = FitLinearProbe(f, y, 5, 3);
  const ProbeScore s = ScoreLinearProbe(p, f, y);
  EXPECT_GT(s.accuracy, 0.9);
  EXPECT_NEAR(s.loss, p.fit_loss, 1e-12);
  const double start =
      Norm(ProbeGradient(p, std::vector<double>(p.weights.size(), 0.0), f, y, 1e-3));
  const double end = Norm(ProbeGradient(p, p.weights, f, y, 1e-3));
  EXPECT_LT(end, 1e-2 * start) << "start " << start << ", end " << end;
}

TEST(LinearProbe, ReadsStandardisedFeaturesSoAnAffineRescalingChangesNothing) {
  std::vector<float> f, g;
  std::vector<int32_t> y;
  Blobs(f, y);
  for (float v : f) g.push_back(4.0f * v + 7.0f);
  const ProbeScore a = ScoreLinearProbe(FitLinearProbe(f, y, 5, 3), f, y);
  const ProbeScore b = ScoreLinearProbe(FitLinearProbe(g, y, 5, 3), g, y);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_NEAR(a.loss, b.loss, 1e-5);  // float features: 4x+7 rounds at ~1e-7 relative
}

TEST(LinearProbe, RefusesLabelsOutsideTheClassesInOneSentence) {
  const std::vector<float> f = {0, 1, 2, 3};
  const std::vector<int32_t> y = {0, 3};
  EXPECT_EQ(testing::ErrorOf([&] { FitLinearProbe(f, y, 2, 3); }),
            "linear probe: label 3 of row 1 is outside the classes [0, 3)");
}

TEST(VisionStage, TransplantCopiesTheBackboneAndKeepsTheNewHead) {
  const ModelConfig from = TinyVit("projection"), to = DownstreamModel(from, 4);
  const std::vector<float> a = TinyVitInit(from, 1);
  std::vector<float> b = TinyVitInit(to, 2);
  const std::vector<float> before = b;
  TransplantBackbone(from, a, to, b);
  const ParamLayout la = ParamLayout::ForModel(from), lb = ParamLayout::ForModel(to);
  int heads = 0;
  for (const auto& t : lb.tensors()) {
    const bool head = t.name.starts_with("head");
    heads += head;
    for (int64_t i = 0; i < t.size; ++i)
      ASSERT_EQ(b[t.offset + i], head ? before[t.offset + i] : a[la.Get(t.name).offset + i])
          << t.name << "[" << i << "]";
  }
  EXPECT_EQ(heads, 2);  // head.weight and head.bias
}

TEST(VisionStage, ObjectiveScoresAverageTheBackendsBatches) {
  const data::VisionDataset d = testing::SynthBands("bands", 10, 8, 4, false, 1);
  const data::PixelNorm norm = data::PixelStats(d);
  const data::AugmentParams views{.pad = 1, .flip = false};
  const VisionEvalSet plain = MakeVisionEvalSet(d, 10, norm);
  const VisionEvalSet pairs = MakeVisionEvalSet(d, 10, norm, &views, 9);
  ASSERT_EQ(pairs.b.size(), plain.a.size());
  EXPECT_NE(pairs.a, pairs.b);

  const ModelConfig c = TinyVit();
  auto backend = MakeBackend(c, {}, {.image_batch = 4}, TinyVitInit(c, 3));
  const ObjectiveScore s = ScoreObjective(*backend, "supervised", plain, 4);
  double sum = 0;
  int64_t correct = 0;
  for (int first = 0; first < 10; first += 4) {
    const int B = std::min(4, 10 - first);
    const ImageEval e =
        backend->EvalImages(plain.a.data() + first * 64, plain.labels.data() + first, B);
    sum += e.loss * B;
    correct += e.correct;
  }
  EXPECT_DOUBLE_EQ(s.loss, sum / 10);
  EXPECT_DOUBLE_EQ(*s.accuracy, correct / 10.0);

  const ModelConfig p = TinyVit("projection");
  auto pb = MakeBackend(p, {}, {.image_batch = 4}, TinyVitInit(p, 3));
  // Two whole chunks of 4 pairs; the last 2 pairs are dropped (SigLIP's loss depends on the size).
  const double want = (pb->EvalPairs(pairs.a.data(), pairs.b.data(), 4) +
                       pb->EvalPairs(pairs.a.data() + 4 * 64, pairs.b.data() + 4 * 64, 4)) /
                      2;
  const ObjectiveScore ps = ScoreObjective(*pb, "siglip", pairs, 4);
  EXPECT_DOUBLE_EQ(ps.loss, want);
  EXPECT_FALSE(ps.accuracy.has_value());
}

TEST(VisionStage, FinetuningLearnsANewTaskThroughANewHeadDeterministically) {
  const data::VisionDataset rows = testing::SynthBands("rows", 256, 8, 4, false, 1);
  const data::VisionDataset cols = testing::SynthBands("cols", 256, 8, 4, true, 2);
  const data::VisionDataset cols_test = testing::SynthBands("cols test", 64, 8, 4, true, 3);
  const ModelConfig c = TinyVit();
  OptimConfig optim;
  optim.lr = 3e-3;
  const VisionPretrainResult pre = PretrainVision({.model = c,
                                                   .optim = optim,
                                                   .batch = 32,
                                                   .budget_images = 3200,
                                                   .seed = 4,
                                                   .norm = data::PixelStats(rows)},
                                                  rows);
  const VisionFinetuneOptions o{
      .optim = optim, .batch = 32, .images = 3200, .seed = 5, .norm = data::PixelStats(cols)};
  const std::vector<float> ft = FinetuneVision(c, pre.params, cols, o);
  EXPECT_EQ(ft, FinetuneVision(c, pre.params, cols, o));
  const ModelConfig down = DownstreamModel(c, 4);
  auto b = MakeBackend(down, {}, {.image_batch = 64}, ft);
  const ObjectiveScore id =
      ScoreObjective(*b, "supervised", MakeVisionEvalSet(cols_test, 64, o.norm), 64);
  EXPECT_GT(*id.accuracy, 0.9) << "loss " << id.loss;
  // The backbone moved (full fine-tuning, not a probe).
  const TensorInfo& patch = ParamLayout::ForModel(c).Get("patch_embed.weight");
  EXPECT_NE(std::vector<float>(ft.begin() + patch.offset, ft.begin() + patch.offset + patch.size),
            std::vector<float>(pre.params.begin() + patch.offset,
                               pre.params.begin() + patch.offset + patch.size));
}

}  // namespace
}  // namespace ot
