// The native backend's image path: a ViT learns a separable toy task (bright quadrants) through
// TrainStepImages; its first step is the Decoder's ForwardImages + Backward + clip + AdamW by hand,
// bit for bit, and so is SigLIP's pairs step; SAM's second pass and the NaN policy hold on images;
// a resumed run matches an uninterrupted one; the data-parallel sum weighs by image count;
// evaluation and features are the Decoder's; the token and image paths refuse each other's models
// in one sentence; the backbone noise covers the ViT's input tensors and spares the head.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <set>

#include "common/test_util.h"
#include "engine/backend.h"
#include "engine/native_backend.h"
#include "model/decoder.h"
#include "model/init.h"
#include "optim/clip.h"
#include "optim/optimizer.h"

namespace ot {
namespace {

// vit-pico (28x28x1, patch 7, C 32, L 2) with four classes: one per quadrant.
ModelConfig VtQuadrantVit() {
  ModelConfig c = ModelConfig::VitPico();
  c.n_classes = 4;
  return c;
}

std::vector<float> VtInit(const ModelConfig& c, uint64_t seed) {
  const ParamLayout layout = ParamLayout::ForModel(c);
  std::vector<float> p(layout.total());
  InitParams(layout, p, seed);
  return p;
}

// B images of the quadrant task: uniform noise in [0, 0.5) everywhere, plus 1 on the pixels of the
// label's quadrant (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right): separable by a mean.
struct VtBatch {
  std::vector<float> pixels;
  std::vector<int32_t> labels;
};
VtBatch VtQuadrants(const ModelConfig& c, int B, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(0.0f, 0.5f);
  const int S = c.image_size, half = S / 2;
  VtBatch batch{std::vector<float>((size_t)B * c.pixels()), std::vector<int32_t>(B)};
  for (int b = 0; b < B; ++b) {
    const int label = static_cast<int>(rng() % 4);
    batch.labels[b] = label;
    float* img = batch.pixels.data() + (size_t)b * c.pixels();
    for (int y = 0; y < S; ++y)
      for (int x = 0; x < S; ++x) {
        const int quadrant = (y >= half) * 2 + (x >= half);
        img[y * S + x] = noise(rng) + (quadrant == label ? 1.0f : 0.0f);
      }
  }
  return batch;
}

OptimConfig VtAdamW() {
  OptimConfig o;
  o.lr = 3e-3;
  return o;
}

bool VtSameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// One OpenMP thread for the scope (the bound on time is for one thread: two threads on a shared
// 2-core machine spend most of a step in barriers); the previous count is restored.
struct VtOneThread {
  int before = omp_get_max_threads();
  VtOneThread() { omp_set_num_threads(1); }
  ~VtOneThread() { omp_set_num_threads(before); }
};

TEST(NativeVision, LearnsBrightQuadrantsAboveNinetyPercent) {
  const VtOneThread one_thread;
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 32, kSteps = 200, kTest = 256;
  auto backend = MakeBackend(c, {}, {.optim = VtAdamW(), .image_batch = kB}, VtInit(c, 7));
  const VtBatch test = VtQuadrants(c, kTest, 999);
  auto accuracy = [&] {
    int64_t correct = 0;
    for (int i = 0; i < kTest; i += kB)
      correct +=
          backend
              ->EvalImages(test.pixels.data() + (size_t)i * c.pixels(), test.labels.data() + i, kB)
              .correct;
    return static_cast<double>(correct) / kTest;
  };
  const double before = accuracy();
  const auto start = std::chrono::steady_clock::now();
  double last_loss = 0;
  for (int step = 0; step < kSteps; ++step) {
    const VtBatch batch = VtQuadrants(c, kB, 100 + step);
    const StepResult r = backend->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB,
                                                  3e-3, {.step = step, .clip = 1.0});
    ASSERT_EQ(r.bad_pass, 0) << "step " << step;
    EXPECT_EQ(r.counted_tokens, kB);
    last_loss = r.loss;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double after = accuracy();
  std::printf(
      "quadrants: accuracy %.3f -> %.3f after %d steps at B=%d (last loss %.4f), %.2f ms "
      "per step on %s\n",
      before, after, kSteps, kB, last_loss, 1e3 * seconds / kSteps, backend->Describe().c_str());
  EXPECT_GT(after, 0.9);
  EXPECT_LT(before, 0.6) << "the task must not be solved at initialisation";
  EXPECT_LT(seconds, 10.0);
}

// The backend's step is the Decoder's image pass, clipping and the optimizer, nothing else: the
// same bits as running them by hand.
TEST(NativeVision, FirstStepIsForwardImagesBackwardClipAndAdamWByHand) {
  const ModelConfig c = VtQuadrantVit();
  const ParamLayout layout = ParamLayout::ForModel(c);
  constexpr int kB = 8;
  const VtBatch batch = VtQuadrants(c, kB, 5);
  const std::vector<float> init = VtInit(c, 3);
  auto backend = MakeBackend(c, {}, {.optim = VtAdamW(), .image_batch = kB}, init);
  const double clip = 0.05;  // small enough to clip: the clip is part of what is compared
  const StepResult r =
      backend->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 2e-3, {.clip = clip});

  Decoder decoder(c, kB, c.image_tokens());
  std::vector<float> params = init, grads(layout.total(), 0.0f);
  const float loss = decoder.ForwardImages(params, batch.pixels.data(), batch.labels.data(), kB);
  decoder.Backward(params, grads);
  const double norm = ClipGradNorm(grads, clip);
  MakeOptimizer(VtAdamW(), layout, "optim")->Step(params, grads, 2e-3);

  EXPECT_EQ(r.loss, loss);
  EXPECT_EQ(r.grad_norm, norm);
  EXPECT_GT(norm, clip);
  EXPECT_TRUE(VtSameBits(HostParams(*backend), params));
  EXPECT_FALSE(VtSameBits(params, init));
}

// head = projection: B pairs run as one batch of 2B images through ForwardPairs (SigLIP), then the
// same clip and optimizer; the class step refuses the head.
TEST(NativeVision, PairsStepIsForwardPairsBackwardClipAndAdamWByHand) {
  ModelConfig c = ModelConfig::VitPico();
  c.head = "projection";
  c.proj_dim = 8;
  const ParamLayout layout = ParamLayout::ForModel(c);
  constexpr int kPairs = 4;
  const VtBatch a = VtQuadrants(c, kPairs, 21), b = VtQuadrants(c, kPairs, 22);
  const std::vector<float> init = VtInit(c, 8);
  auto backend = MakeBackend(c, {}, {.optim = VtAdamW(), .image_batch = kPairs}, init);
  const StepResult r =
      backend->TrainStepPairs(a.pixels.data(), b.pixels.data(), kPairs, 2e-3, {.clip = 1.0});

  Decoder decoder(c, 2 * kPairs, c.image_tokens());
  std::vector<float> params = init, grads(layout.total(), 0.0f);
  const float loss = decoder.ForwardPairs(params, a.pixels.data(), b.pixels.data(), kPairs);
  decoder.Backward(params, grads);
  const double norm = ClipGradNorm(grads, 1.0);
  MakeOptimizer(VtAdamW(), layout, "optim")->Step(params, grads, 2e-3);

  EXPECT_EQ(r.loss, loss);
  EXPECT_EQ(r.grad_norm, norm);
  EXPECT_EQ(r.counted_tokens, kPairs);
  EXPECT_TRUE(VtSameBits(HostParams(*backend), params));
  EXPECT_EQ(testing::ErrorOf([&] {
              backend->TrainStepImages(a.pixels.data(), a.labels.data(), kPairs, 1e-3, {});
            }),
            "decoder: this entry point needs model.head = classes; the model has head = "
            "projection");
}

// EvalPairs is the pairs step's first-pass loss at the current weights, and changes nothing; a
// class head is refused.
TEST(NativeVision, EvalPairsIsThePairsStepsLossWithoutAStep) {
  ModelConfig c = ModelConfig::VitPico();
  c.head = "projection";
  c.proj_dim = 8;
  constexpr int kPairs = 4;
  const VtBatch a = VtQuadrants(c, kPairs, 31), b = VtQuadrants(c, kPairs, 32);
  const std::vector<float> init = VtInit(c, 9);
  auto backend = MakeBackend(c, {}, {.optim = VtAdamW(), .image_batch = kPairs}, init);
  const double eval = backend->EvalPairs(a.pixels.data(), b.pixels.data(), kPairs);
  EXPECT_TRUE(VtSameBits(HostParams(*backend), init));
  EXPECT_EQ(backend->optimizer_steps(), 0);
  const StepResult r =
      backend->TrainStepPairs(a.pixels.data(), b.pixels.data(), kPairs, 2e-3, {.clip = 1.0});
  EXPECT_EQ(eval, r.loss);
  const ModelConfig classes = VtQuadrantVit();
  auto other = MakeBackend(classes, {}, {.image_batch = kPairs}, VtInit(classes, 1));
  EXPECT_EQ(testing::ErrorOf([&] { other->EvalPairs(a.pixels.data(), b.pixels.data(), 1); }),
            "EvalPairs needs model.head = projection; the model has head = classes");
}

// SAM's second pass runs at the ascended weights on the same images; a non-finite second pass
// unwinds to the weights before the step (bad_pass 2), as on the token path.
TEST(NativeVision, SamTakesTwoPassesAndUnwindsABadSecondOne) {
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 4;
  const VtBatch batch = VtQuadrants(c, kB, 31);
  const std::vector<float> init = VtInit(c, 9);
  OptimConfig sam = VtAdamW();
  sam.sam_rho = 0.05;
  auto b = MakeBackend(c, {}, {.optim = sam, .image_batch = kB}, init);
  EXPECT_EQ(b->PassesPerStep(), 2);
  const StepResult bad = b->TrainStepImages(
      batch.pixels.data(), batch.labels.data(), kB, 3e-3, {.fault = [](int64_t, int pass) {
        return pass == 1 ? PassFault::kLossNaN : PassFault::kNone;
      }});
  EXPECT_EQ(bad.bad_pass, 2);
  EXPECT_TRUE(VtSameBits(HostParams(*b), init));
  const StepResult good =
      b->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 3e-3, {});
  EXPECT_EQ(good.bad_pass, 0);
  EXPECT_FALSE(VtSameBits(HostParams(*b), init));
}

// Six steps straight equal three, a fresh backend given the weights, optimizer state and step
// count, and three more: the resume the trainer's checkpoints rely on, bit for bit.
TEST(NativeVision, ResumedRunMatchesAnUninterruptedOneBitForBit) {
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 4;
  const BackendPlan plan{.optim = VtAdamW(), .image_batch = kB};
  auto step = [&](Backend& b, int k) {
    const VtBatch batch = VtQuadrants(c, kB, 40 + k);
    ASSERT_EQ(
        b.TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 3e-3, {.step = k}).bad_pass,
        0);
  };
  auto straight = MakeBackend(c, {}, plan, VtInit(c, 11));
  auto first = MakeBackend(c, {}, plan, VtInit(c, 11));
  for (int k = 0; k < 6; ++k) step(*straight, k);
  for (int k = 0; k < 3; ++k) step(*first, k);
  auto resumed = MakeBackend(c, {}, plan, HostParams(*first));
  for (const std::string& name : first->OptimizerStateNames()) {
    std::vector<float> state(first->layout().total());
    first->ReadOptimizerState(name, state);
    resumed->WriteOptimizerState(name, state);
  }
  resumed->set_optimizer_steps(first->optimizer_steps());
  for (int k = 3; k < 6; ++k) step(*resumed, k);
  EXPECT_TRUE(VtSameBits(HostParams(*resumed), HostParams(*straight)));
  EXPECT_FALSE(VtSameBits(HostParams(*resumed), VtInit(c, 11)));
}

// Two identical ranks: the sum doubles gradients and counts, the division by the summed count
// undoes it exactly (powers of two), so the step is the one-process step and the count is 2B.
class VtTwinRanks final : public Collective {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  void AllReduceSum(std::span<float> data) override {
    for (float& x : data) x *= 2;
  }
  void AllReduceSum(std::span<double> data) override {
    for (double& x : data) x *= 2;
  }
  void Broadcast(std::span<float>, int) override {}
  void Barrier() override {}
};

TEST(NativeVision, DataParallelStepSumsGradientsWeightedByImages) {
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 8;
  const VtBatch batch = VtQuadrants(c, kB, 8);
  const BackendPlan plan{.optim = VtAdamW(), .image_batch = kB};
  auto alone = MakeBackend(c, {}, plan, VtInit(c, 2));
  auto twin = MakeBackend(c, {}, plan, VtInit(c, 2));
  VtTwinRanks ranks;
  const StepResult a =
      alone->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 3e-3, {});
  const StepResult t = twin->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 3e-3,
                                             {.collective = &ranks});
  EXPECT_EQ(a.counted_tokens, kB);
  EXPECT_EQ(t.counted_tokens, 2 * kB);
  EXPECT_EQ(t.loss, a.loss);
  EXPECT_TRUE(VtSameBits(HostParams(*twin), HostParams(*alone)));
}

// A non-finite pass leaves the weights and the optimizer as they were (the token path's policy).
TEST(NativeVision, NonFinitePassLeavesTheWeightsAlone) {
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 4;
  const VtBatch batch = VtQuadrants(c, kB, 9);
  const std::vector<float> init = VtInit(c, 4);
  auto b = MakeBackend(c, {}, {.optim = VtAdamW(), .image_batch = kB}, init);
  const StepResult r =
      b->TrainStepImages(batch.pixels.data(), batch.labels.data(), kB, 3e-3,
                         {.fault = [](int64_t, int) { return PassFault::kGradientNaN; }});
  EXPECT_EQ(r.bad_pass, 1);
  EXPECT_TRUE(VtSameBits(HostParams(*b), init));
  EXPECT_EQ(b->optimizer_steps(), 0);
}

TEST(NativeVision, EvaluationAndFeaturesAreTheDecoders) {
  const ModelConfig c = VtQuadrantVit();
  constexpr int kB = 6;
  const VtBatch batch = VtQuadrants(c, kB, 12);
  const std::vector<float> params = VtInit(c, 5);
  auto b = MakeBackend(c, {}, {.image_batch = kB}, params);
  Decoder decoder(c, kB, c.image_tokens());
  const ImageEval e = b->EvalImages(batch.pixels.data(), batch.labels.data(), kB);
  // Double from the float logits vs the decoder's float sum: a few float roundings apart.
  EXPECT_NEAR(e.loss, decoder.LossImages(params, batch.pixels.data(), batch.labels.data(), kB),
              1e-5);
  std::vector<float> logits((size_t)kB * c.n_classes);
  decoder.ClassLogits(params, batch.pixels.data(), kB, logits.data());
  int64_t correct = 0;
  for (int i = 0; i < kB; ++i) {
    const float* z = logits.data() + (size_t)i * c.n_classes;
    correct += std::max_element(z, z + c.n_classes) - z == batch.labels[i];
  }
  EXPECT_EQ(e.correct, correct);
  std::vector<float> got((size_t)kB * c.d_model), want(got.size());
  b->FeaturesImages(batch.pixels.data(), kB, got.data());
  decoder.Features(params, batch.pixels.data(), kB, want.data());
  EXPECT_TRUE(VtSameBits(got, want));
}

TEST(NativeVision, TokenAndImagePathsRefuseEachOthersModelInOneSentence) {
  const ModelConfig vit = VtQuadrantVit();
  auto b = MakeBackend(vit, {}, {.optim = VtAdamW(), .image_batch = 2}, VtInit(vit, 1));
  std::vector<int32_t> tokens(4, 1);
  const std::string vit_tail =
      " takes token batches; model.input = patches (a vision transformer) runs through "
      "TrainStepImages, TrainStepPairs, EvalImages and FeaturesImages";
  EXPECT_EQ(testing::ErrorOf([&] { b->TrainStep(tokens.data(), tokens.data(), 1, 4, 1e-3, {}); }),
            "TrainStep" + vit_tail);
  EXPECT_EQ(testing::ErrorOf([&] { b->Loss(tokens.data(), tokens.data(), 1, 4); }),
            "Loss" + vit_tail);

  ModelConfig text;
  text.vocab_size = 40;
  text.d_model = 16;
  text.n_layers = 1;
  text.n_heads = 2;
  text.max_seq_len = 8;
  auto t = MakeBackend(text, {}, {.train_batch = 1, .train_seq = 8, .optim = VtAdamW()},
                       VtInit(text, 1));
  std::vector<float> pixels(vit.pixels(), 0.0f);
  std::vector<int32_t> labels(1, 0);
  EXPECT_EQ(
      testing::ErrorOf([&] { t->TrainStepImages(pixels.data(), labels.data(), 1, 1e-3, {}); }),
      "TrainStepImages takes image batches; this model reads tokens (model.input = tokens): "
      "use TrainStep, Loss and LogProbs");
  EXPECT_EQ(testing::ErrorOf([&] {
              MakeBackend(vit, {}, {.optim = OptimConfig{.z_loss = 1e-4}, .image_batch = 1},
                          VtInit(vit, 1));
            }),
            "model.input = patches trains in plain float32: optim.z_loss must be 0 and "
            "optim.precision fp32");
}

// The perturbation θ + N(0, γ²Σ_init) on the backbone: the groups embed (patch_embed,
// cls_token, pos_embed), attn and mlp; the class head (group head) untouched, as are norms and
// biases (σ_init = 0). Naming the head's group too perturbs it.
TEST(NativeVision, BackboneNoiseCoversTheVitInputsAndSparesTheHead) {
  const ModelConfig c = VtQuadrantVit();
  const ParamLayout layout = ParamLayout::ForModel(c);
  const std::vector<float> base = VtInit(c, 6);
  auto changed = [&](const std::vector<std::string>& groups) {
    auto b = MakeBackend(c, {}, {}, base);
    b->AddNoise({.gamma = 0.1, .seed = 1, .groups = groups});
    const std::vector<float> after = HostParams(*b);
    std::set<std::string> names;
    for (const TensorInfo& t : layout.tensors())
      if (std::memcmp(after.data() + t.offset, base.data() + t.offset, t.size * sizeof(float)))
        names.insert(t.name);
    return names;
  };
  const std::set<std::string> backbone = changed({"embed", "attn", "mlp"});
  for (const char* name :
       {"patch_embed.weight", "cls_token", "pos_embed", "model.layers.0.self_attn.q_proj.weight",
        "model.layers.1.mlp.down_proj.weight"})
    EXPECT_TRUE(backbone.count(name)) << name << " is backbone and must be perturbed";
  for (const char* name : {"head.weight", "head.bias", "patch_embed.bias"})
    EXPECT_FALSE(backbone.count(name)) << name;
  EXPECT_TRUE(changed({}).count("head.weight")) << "every group includes the head";
}

}  // namespace
}  // namespace ot
