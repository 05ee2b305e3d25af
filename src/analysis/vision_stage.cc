// The per-checkpoint vision measurements (see vision_stage.h).
#include "analysis/vision_stage.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "data/vision_batches.h"
#include "model/init.h"
#include "model/layout.h"
#include "train/vision_pretrain.h"

namespace ot {
namespace {

bool IsHead(const std::string& name) {
  return name.starts_with("head") || name.starts_with("siglip.");
}

}  // namespace

VisionEvalSet MakeVisionEvalSet(const data::VisionDataset& d, int64_t n,
                                const data::PixelNorm& norm, const data::AugmentParams* views,
                                uint64_t key) {
  n = std::min<int64_t>(n, static_cast<int64_t>(d.size()));
  VisionEvalSet s{d.name, n, static_cast<int>(d.rows * d.cols), {}, {}, {}};
  s.a.resize(static_cast<size_t>(n) * s.pixels);
  if (views) s.b.resize(s.a.size());
  s.labels.assign(d.labels.begin(), d.labels.begin() + n);
  const data::AugmentParams none{};
  for (int64_t i = 0; i < n; ++i) {
    const std::span<const uint8_t> img(d.images.data() + i * s.pixels, s.pixels);
    const std::span<float> a(s.a.data() + i * s.pixels, s.pixels);
    if (views)
      data::AugmentViews(*views, key, i, 0, img, d.rows, d.cols, norm, a,
                         std::span<float>(s.b.data() + i * s.pixels, s.pixels));
    else
      data::AugmentImage(none, key, i, 0, img, d.rows, d.cols, norm, a);
  }
  return s;
}

ObjectiveScore ScoreObjective(Backend& backend, const std::string& objective,
                              const VisionEvalSet& set, int batch) {
  ObjectiveScore s;
  if (objective == "siglip") {
    OT_CHECK(!set.b.empty()) << set.name << ": the SigLIP objective needs two views";
    if (set.n < batch)
      throw Error(
          fmt::format("{}: {} evaluation images hold no chunk of {} pairs (data.eval_images)",
                      set.name, set.n, batch));
    double sum = 0;
    int64_t chunks = 0;
    for (int64_t first = 0; first + batch <= set.n; first += batch, ++chunks)
      sum += backend.EvalPairs(set.a.data() + first * set.pixels, set.b.data() + first * set.pixels,
                               batch);
    s.loss = sum / static_cast<double>(chunks);
    return s;
  }
  OT_CHECK(objective == "supervised") << objective;
  double loss = 0;
  int64_t correct = 0;
  for (int64_t first = 0; first < set.n; first += batch) {
    const int B = static_cast<int>(std::min<int64_t>(batch, set.n - first));
    const ImageEval e =
        backend.EvalImages(set.a.data() + first * set.pixels, set.labels.data() + first, B);
    loss += e.loss * B;
    correct += e.correct;
  }
  s.loss = loss / static_cast<double>(set.n);
  s.accuracy = static_cast<double>(correct) / static_cast<double>(set.n);
  return s;
}

std::vector<float> ImageFeatures(Backend& backend, const VisionEvalSet& set, int batch) {
  const int C = backend.config().d_model;
  std::vector<float> f(static_cast<size_t>(set.n) * C);
  for (int64_t first = 0; first < set.n; first += batch) {
    const int B = static_cast<int>(std::min<int64_t>(batch, set.n - first));
    backend.FeaturesImages(set.a.data() + first * set.pixels, B, f.data() + first * C);
  }
  return f;
}

ModelConfig DownstreamModel(const ModelConfig& base, int classes) {
  ModelConfig m = base;
  m.head = "classes";
  m.n_classes = classes;
  return m;
}

void TransplantBackbone(const ModelConfig& from, const std::vector<float>& from_params,
                        const ModelConfig& to, std::vector<float>& to_params) {
  const ParamLayout src = ParamLayout::ForModel(from), dst = ParamLayout::ForModel(to);
  OT_CHECK(static_cast<int64_t>(from_params.size()) == src.total() &&
           static_cast<int64_t>(to_params.size()) == dst.total())
      << "params of another layout";
  for (const auto& t : dst.tensors()) {
    if (IsHead(t.name)) continue;
    const TensorInfo* s = src.Find(t.name);
    OT_CHECK(s && s->shape == t.shape) << "backbone tensor " << t.name << " differs";
    std::copy_n(from_params.begin() + s->offset, t.size, to_params.begin() + t.offset);
  }
}

std::vector<float> FinetuneVision(const ModelConfig& base_model, const std::vector<float>& base,
                                  const data::VisionDataset& train,
                                  const VisionFinetuneOptions& o) {
  const ModelConfig model = DownstreamModel(base_model, static_cast<int>(train.classes));
  CheckVisionFits(model, train);
  const ParamLayout layout = ParamLayout::ForModel(model);
  std::vector<float> params(layout.total());
  InitParams(layout, params, o.seed);  // the new head's init; the backbone is replaced next
  TransplantBackbone(base_model, base, model, params);
  auto backend =
      MakeBackend(model, {}, {.optim = o.optim, .image_batch = o.batch}, std::move(params));
  data::VisionBatcher batcher(train, {.batch = o.batch,
                                      .budget_images = o.images,
                                      .seed = o.seed,
                                      .augment = o.augment,
                                      .norm = o.norm});
  RunImageSteps(*backend, batcher, o.optim, /*pairs=*/false,
                fmt::format("vision fine-tuning at lr {}", o.optim.lr), "finetune.lrs");
  return HostParams(*backend);
}

}  // namespace ot
