// The native backend's image path (model.input = patches, see backend.h): the ViT's training steps
// run the token path's Step (passes, cross-rank sum, fault hook, clipping, optimizer, bad_pass) on
// the Decoder's ForwardImages / ForwardPairs; evaluation and features are its forward-only calls.
#include <fmt/format.h>

#include <cmath>
#include <string>

#include "core/check.h"
#include "engine/native_backend.h"

namespace ot {

Decoder& NativeBackend::Images(const char* what, int B, int capacity_per_item) {
  if (!config_.vision())
    throw Error(fmt::format(
        "{} takes image batches; this model reads tokens (model.input = tokens): use TrainStep, "
        "Loss and LogProbs",
        what));
  OT_CHECK(train_ != nullptr) << what << " needs a backend planned with image_batch";
  OT_CHECK(B >= 1 && int64_t{B} * capacity_per_item <= train_->max_batch())
      << what << ": B=" << B << " exceeds the planned image_batch " << plan_.image_batch;
  return *train_;
}

StepResult NativeBackend::TrainStepImages(const float* pixels, const int32_t* labels, int B,
                                          double lr, const StepControl& control) {
  // head = projection sizes the decoder for 2·image_batch images; one image per item counts here
  // against that, and ForwardImages refuses the head in one sentence.
  Decoder& decoder = Images("TrainStepImages", B, 1);
  return Step(
      [&](std::span<const float> at, std::span<float> grads) {
        const float loss = decoder.ForwardImages(at, pixels, labels, B);
        decoder.Backward(at, grads);
        return loss;
      },
      lr, control);
}

StepResult NativeBackend::TrainStepPairs(const float* pixels_a, const float* pixels_b, int B,
                                         double lr, const StepControl& control) {
  Decoder& decoder = Images("TrainStepPairs", B, 2);
  return Step(
      [&](std::span<const float> at, std::span<float> grads) {
        const float loss = decoder.ForwardPairs(at, pixels_a, pixels_b, B);
        decoder.Backward(at, grads);
        return loss;
      },
      lr, control);
}

ImageEval NativeBackend::EvalImages(const float* pixels, const int32_t* labels, int B) {
  Decoder& decoder = Images("EvalImages", B, 1);
  const int K = config_.n_classes;
  if (config_.head != "classes")
    throw Error("EvalImages needs model.head = classes; the model has head = " + config_.head);
  OT_CHECK(B <= plan_.image_batch) << "EvalImages: B=" << B << " > image_batch";
  for (int b = 0; b < B; ++b)
    if (labels[b] < 0 || labels[b] >= K)
      throw Error(fmt::format("EvalImages: label {} of image {} is outside the classes [0, {})",
                              labels[b], b, K));
  decoder.ClassLogits(params_, pixels, B, logits_.data());
  ImageEval e;
  double sum = 0;  // in image order: a fixed-order reduction
  for (int b = 0; b < B; ++b) {
    const float* z = logits_.data() + (int64_t)b * K;
    int best = 0;
    for (int k = 1; k < K; ++k)
      if (z[k] > z[best]) best = k;
    double s = 0;
    for (int k = 0; k < K; ++k) s += std::exp(static_cast<double>(z[k]) - z[best]);
    sum += z[best] + std::log(s) - z[labels[b]];
    e.correct += best == labels[b];
  }
  e.loss = sum / B;
  return e;
}

double NativeBackend::EvalPairs(const float* pixels_a, const float* pixels_b, int B) {
  Decoder& decoder = Images("EvalPairs", B, 2);
  if (config_.head != "projection")
    throw Error("EvalPairs needs model.head = projection; the model has head = " + config_.head);
  return decoder.ForwardPairs(params_, pixels_a, pixels_b, B);
}

void NativeBackend::FeaturesImages(const float* pixels, int B, float* features) {
  Images("FeaturesImages", B, 1).Features(params_, pixels, B, features);
}

}  // namespace ot
