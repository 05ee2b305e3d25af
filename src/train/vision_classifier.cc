// TrainVisionClassifier (see vision_classifier.h).
#include "train/vision_classifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/check.h"
#include "engine/backend.h"
#include "model/init.h"
#include "train/vision_pretrain.h"

namespace ot {
namespace {

// Images first..first+B-1 (mod n) of `d` into pixels (B, rows*cols) in [0, 1] and labels (B).
void FillBatch(const data::VisionDataset& d, size_t first, int B, std::vector<float>& pixels,
               std::vector<int32_t>& labels) {
  const size_t area = size_t{d.rows} * d.cols;
  for (int b = 0; b < B; ++b) {
    const size_t i = (first + b) % d.size();
    const uint8_t* img = d.images.data() + i * area;
    for (size_t k = 0; k < area; ++k) pixels[b * area + k] = img[k] / 255.0f;
    labels[b] = d.labels[i];
  }
}

}  // namespace

VisionClassifierResult TrainVisionClassifier(const ModelConfig& config,
                                             const data::VisionDataset& train,
                                             const data::VisionDataset& test, int64_t steps,
                                             int batch, uint64_t seed, const OptimConfig& optim) {
  if (!config.vision() || config.head != "classes")
    throw Error("TrainVisionClassifier needs model.input = patches and model.head = classes");
  OT_CHECK(batch >= 1 && steps >= 0) << "batch " << batch << ", steps " << steps;
  CheckVisionFits(config, train);
  CheckVisionFits(config, test);
  const ParamLayout layout = ParamLayout::ForModel(config);
  std::vector<float> params(layout.total());
  InitParams(layout, params, seed);
  auto backend = MakeBackend(config, {}, {.optim = optim, .image_batch = batch}, std::move(params));

  VisionClassifierResult r;
  std::vector<float> pixels(static_cast<size_t>(batch) * config.pixels());
  std::vector<int32_t> labels(batch);
  for (int64_t step = 0; step < steps; ++step) {
    FillBatch(train, static_cast<size_t>(step) * batch, batch, pixels, labels);
    const StepResult s = backend->TrainStepImages(pixels.data(), labels.data(), batch, optim.lr,
                                                  {.step = step, .clip = optim.clip});
    if (s.bad_pass != 0)
      throw Error(
          fmt::format("TrainVisionClassifier: step {} had a non-finite loss ({}) or "
                      "gradient norm ({}); lower optim.lr",
                      step, s.bad_loss, s.bad_norm));
    r.last_train_loss = s.loss;
    r.steps = step + 1;
  }
  double loss_sum = 0;  // over the test images, in batch order
  int64_t correct = 0;
  for (size_t first = 0; first < test.size(); first += batch) {
    const int B = static_cast<int>(std::min<size_t>(batch, test.size() - first));
    FillBatch(test, first, B, pixels, labels);
    const ImageEval e = backend->EvalImages(pixels.data(), labels.data(), B);
    loss_sum += e.loss * B;
    correct += e.correct;
  }
  r.test_loss = loss_sum / test.size();
  r.test_accuracy = static_cast<double>(correct) / test.size();
  return r;
}

}  // namespace ot
