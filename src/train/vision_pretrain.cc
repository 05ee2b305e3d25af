// PretrainVision, SaveVisionCheckpoint, LoadVisionParams (see vision_pretrain.h).
#include "train/vision_pretrain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "data/vision_batches.h"
#include "engine/backend.h"
#include "model/init.h"
#include "model/layout.h"
#include "optim/schedule.h"
#include "train/checkpoint.h"

namespace ot {

void CheckVisionFits(const ModelConfig& config, const data::VisionDataset& d) {
  if (d.size() == 0) throw Error(fmt::format("{}: no images", d.name));
  if (d.rows != static_cast<uint32_t>(config.image_size) ||
      d.cols != static_cast<uint32_t>(config.image_size) || config.channels != 1)
    throw Error(
        fmt::format("{}: images of {}x{} with one channel do not fit model.image_size = {}, "
                    "model.channels = {}",
                    d.name, d.rows, d.cols, config.image_size, config.channels));
  if (config.head == "classes" && d.classes > static_cast<uint32_t>(config.n_classes))
    throw Error(fmt::format("{}: {} classes do not fit model.n_classes = {}", d.name, d.classes,
                            config.n_classes));
}

ImageStepsResult RunImageSteps(Backend& backend, data::VisionBatcher& batcher,
                               const OptimConfig& optim, bool pairs, const std::string& what,
                               const std::string& knob, std::FILE* progress) {
  const int64_t B = batcher.batch();
  const ScheduleConfig schedule = ScheduleFor(optim, batcher.steps(), B);
  const size_t floats = static_cast<size_t>(B) * batcher.pixels_per_image();
  std::vector<float> a(floats), b(pairs ? floats : 0);
  std::vector<int32_t> labels(B);
  const int64_t total = batcher.steps(), tail_from = total - std::max<int64_t>(1, total / 10);
  ImageStepsResult r;
  double tail_sum = 0;
  for (int64_t step = batcher.step(); step < total; ++step) {
    if (pairs)
      batcher.NextViews(a, b, labels);
    else
      batcher.Next(a, labels);
    const double lr = LearningRate(schedule, step);
    const StepControl control{.step = step, .clip = optim.clip};
    const StepResult s =
        pairs ? backend.TrainStepPairs(a.data(), b.data(), static_cast<int>(B), lr, control)
              : backend.TrainStepImages(a.data(), labels.data(), static_cast<int>(B), lr, control);
    if (s.bad_pass != 0)
      throw Error(
          fmt::format("{}: step {} had a non-finite loss ({}) or gradient norm ({}); lower {}",
                      what, step, s.bad_loss, s.bad_norm, knob));
    r.last_loss = s.loss;
    if (step >= tail_from) tail_sum += s.loss;
    if (progress && total >= 10 && (step + 1) % (total / 10) == 0)
      std::fprintf(progress, "  [%s] step %lld/%lld loss %.4f\n", what.c_str(),
                   static_cast<long long>(step + 1), static_cast<long long>(total), s.loss);
  }
  r.tail_loss = tail_sum / static_cast<double>(total - tail_from);
  return r;
}

VisionPretrainResult PretrainVision(const VisionPretrainOptions& o,
                                    const data::VisionDataset& train, std::FILE* progress) {
  const bool siglip = o.objective == "siglip";
  if (!siglip && o.objective != "supervised")
    throw Error("pretrain.objective = '" + o.objective + "': expected supervised or siglip");
  if (!o.model.vision() || o.model.head != (siglip ? "projection" : "classes"))
    throw Error(
        fmt::format("pretrain.objective = {} needs model.input = patches and model.head = {}",
                    o.objective, siglip ? "projection" : "classes"));
  CheckVisionFits(o.model, train);
  const ParamLayout layout = ParamLayout::ForModel(o.model);
  std::vector<float> init(layout.total());
  InitParams(layout, init, o.seed);
  auto backend =
      MakeBackend(o.model, {}, {.optim = o.optim, .image_batch = o.batch}, std::move(init));
  data::VisionBatcher batcher(train, {.batch = o.batch,
                                      .budget_images = o.budget_images,
                                      .seed = o.seed,
                                      .augment = o.augment,
                                      .norm = o.norm});
  const ImageStepsResult steps =
      RunImageSteps(*backend, batcher, o.optim, siglip,
                    fmt::format("vision pre-training ({}, {} images, seed {})", o.objective,
                                o.budget_images, o.seed),
                    "pretrain.lr", progress);
  VisionPretrainResult r;
  r.last_loss = steps.last_loss;
  r.mean_loss = steps.tail_loss;
  r.steps = batcher.steps();
  r.images = batcher.images_seen();
  r.epochs = batcher.Epochs();
  r.params = HostParams(*backend);
  return r;
}

void SaveVisionCheckpoint(const std::filesystem::path& dir, const ModelConfig& model,
                          const std::vector<float>& params, const nlohmann::json& state) {
  const ParamLayout layout = ParamLayout::ForModel(model);
  OT_CHECK(static_cast<int64_t>(params.size()) == layout.total()) << "params of another layout";
  CheckpointContents c;
  for (const auto& t : layout.tensors())
    c.model.push_back({t.name, t.shape, std::span<const float>(params).subspan(t.offset, t.size)});
  c.config = {{"overtrain", model.ToJson()}};
  c.state = state;
  SaveCheckpoint(dir, c);
}

std::vector<float> LoadVisionParams(const std::filesystem::path& dir, const ModelConfig& model) {
  const LoadedCheckpoint ck = LoadCheckpoint(dir, /*with_optimizer=*/false);
  const ParamLayout layout = ParamLayout::ForModel(model);
  std::vector<float> params(layout.total());
  for (const auto& t : layout.tensors()) {
    auto it = ck.model.find(t.name);
    if (it == ck.model.end() || it->second.shape != t.shape)
      throw Error(fmt::format("{}: tensor '{}' is missing or of another shape than the model's",
                              dir.string(), t.name));
    std::copy(it->second.data.begin(), it->second.data.end(), params.begin() + t.offset);
  }
  return params;
}

}  // namespace ot
