// VisionStudySchema, LoadVisionStudyConfig (see vision_config.h).
#include "study/vision_config.h"

#include <fmt/format.h>

#include <algorithm>

#include "data/fetch.h"
#include "data/idx.h"
#include "model/config.h"

namespace ot {
namespace {

using C = VisionStudyConfig;

std::string VisionSourceProblem(const std::string& key, const std::string& source) {
  const auto sources = data::VisionSources();
  if (std::find(sources.begin(), sources.end(), source) != sources.end()) return "";
  std::string list;
  for (const auto& s : sources) list += (list.empty() ? "" : ", ") + s;
  return fmt::format("{} = '{}' is not a vision source; expected one of: {}", key, source, list);
}

template <typename Get>
void AugmentFields(ConfigSchema<C>& s, const std::string& prefix, Get get) {
  s.Field(
       prefix + ".pad", "random crop: zero pixels padded per side (0 = no crop)",
       [get](C& c) -> int& { return get(c).pad; }, Between(0, 14))
      .Field(
          prefix + ".flip", "horizontal flips, only where the classes allow (fashion-mnist)",
          [get](C& c) -> bool& { return get(c).flip; }, nullptr)
      .Field(
          prefix + ".rotate_deg", "rotation uniform in ±rotate_deg degrees (0 = off)",
          [get](C& c) -> double& { return get(c).rotate_deg; }, Between(0, 180))
      .Field(
          prefix + ".scale", "scale factor uniform in [1 − scale, 1 + scale] (0 = off)",
          [get](C& c) -> double& { return get(c).scale; }, Between(0, 0.99));
}

}  // namespace

const ConfigSchema<C>& VisionStudySchema() {
  static const ConfigSchema<C> schema = [] {
    ConfigSchema<C> s;
    s.Field(
         "study.name", "the study's name (report titles)",
         [](C& c) -> std::string& { return c.study.name; }, nullptr)
        .Field(
            "study.seeds", "pre-training seeds (init and data order), one ladder replicate each",
            [](C& c) -> std::vector<int64_t>& { return c.study.seeds; }, AtLeast(0))
        .Field(
            "study.jobs", "work units at a time, one thread each (0 = all cores)",
            [](C& c) -> int& { return c.study.jobs; }, Between(0, 256))
        .Field(
            "data.cache", "fetch cache (\"\" = $OVERTRAIN_CACHE or ~/.cache/overtrain)",
            [](C& c) -> std::string& { return c.data.cache; }, nullptr)
        .Field(
            "data.source",
            "pre-training set: fashion-mnist | mnist (overtrain data fetch --group "
            "vision)",
            [](C& c) -> std::string& { return c.data.source; }, nullptr)
        .Field(
            "data.downstream", "fine-tuning set, with a new head: mnist | fashion-mnist",
            [](C& c) -> std::string& { return c.data.downstream; }, nullptr)
        .Field(
            "data.eval_images", "test images per evaluation (the first n of the test split)",
            [](C& c) -> Size& { return c.data.eval_images; }, Between(1, 1e5))
        .Field(
            "data.probe_images", "training images a linear probe is fit on (the first n)",
            [](C& c) -> Size& { return c.data.probe_images; }, Between(10, 1e5))
        .Field(
            "model.sizes", "ViT presets (vit-pico, vit-pico-48), one ladder each",
            [](C& c) -> std::vector<std::string>& { return c.model.sizes; }, nullptr)
        .Field(
            "pretrain.objectives",
            "supervised (classes of the source) | siglip (two views, pairwise sigmoid loss); "
            "one ladder each, the first the reference",
            [](C& c) -> std::vector<std::string>& { return c.pretrain.objectives; }, nullptr)
        .Field(
            "pretrain.budgets", "images seen, ascending (one run per budget, its own schedule)",
            [](C& c) -> std::vector<Size>& { return c.pretrain.budgets; }, AtLeast(1))
        .Field(
            "pretrain.batch", "images (supervised) or pairs (siglip) per step",
            [](C& c) -> int& { return c.pretrain.batch; }, Between(2, 4096));
    AugmentFields(s, "pretrain.augment",
                  [](C& c) -> data::AugmentParams& { return c.pretrain.augment; });
    DeclareOptimFields(s, "pretrain.optim", [](C& c) -> OptimConfig& { return c.pretrain.optim; });
    s.Field(
         "perturb.gammas", "noise scales γ: θ + N(0, γ²σ_init²) on the backbone",
         [](C& c) -> std::vector<double>& { return c.perturb.gammas; }, Above(0))
        .Field(
            "perturb.draws", "noise draws per checkpoint and γ",
            [](C& c) -> int& { return c.perturb.draws; }, Between(1, 1000))
        .Field(
            "finetune.lrs", "fine-tuning learning rates (peak of finetune.optim's schedule)",
            [](C& c) -> std::vector<double>& { return c.finetune.lrs; }, Above(0))
        .Field(
            "finetune.seeds", "fine-tuning seeds (new head's init and data order)",
            [](C& c) -> std::vector<int64_t>& { return c.finetune.seeds; }, AtLeast(0))
        .Field(
            "finetune.images", "images seen per fine-tuning run",
            [](C& c) -> Size& { return c.finetune.images; }, AtLeast(1))
        .Field(
            "finetune.batch", "images per fine-tuning step",
            [](C& c) -> int& { return c.finetune.batch; }, Between(1, 4096));
    AugmentFields(s, "finetune.augment",
                  [](C& c) -> data::AugmentParams& { return c.finetune.augment; });
    DeclareOptimFields(s, "finetune.optim", [](C& c) -> OptimConfig& { return c.finetune.optim; },
                       {"lr"});
    s.Rule({"data.source"},
           [](const C& c) { return VisionSourceProblem("data.source", c.data.source); })
        .Rule({"data.downstream"},
              [](const C& c) {
                if (auto p = VisionSourceProblem("data.downstream", c.data.downstream); !p.empty())
                  return p;
                return c.data.downstream == c.data.source
                           ? std::string(
                                 "data.downstream must differ from data.source (transfer "
                                 "to another dataset)")
                           : std::string();
              })
        .Rule({"model.sizes"},
              [](const C& c) -> std::string {
                if (c.model.sizes.empty()) return "model.sizes must name at least one ViT preset";
                for (const auto& name : c.model.sizes) {
                  const auto names = ModelConfig::PresetNames();
                  if (std::find(names.begin(), names.end(), name) == names.end() ||
                      !ModelConfig::FromPreset(name).vision())
                    return "model.sizes: '" + name +
                           "' is not a ViT preset; expected vit-pico or vit-pico-48";
                }
                return "";
              })
        .Rule({"pretrain.objectives"},
              [](const C& c) -> std::string {
                if (c.pretrain.objectives.empty())
                  return "pretrain.objectives must name supervised and/or siglip";
                for (const auto& o : c.pretrain.objectives)
                  if (o != "supervised" && o != "siglip")
                    return "pretrain.objectives: '" + o +
                           "' is not an objective; expected "
                           "supervised or siglip";
                return "";
              })
        .Rule({"pretrain.budgets", "pretrain.batch"},
              [](const C& c) -> std::string {
                const auto& b = c.pretrain.budgets;
                if (b.size() < 2) return "pretrain.budgets needs at least two budgets (a ladder)";
                for (size_t i = 0; i < b.size(); ++i) {
                  if (b[i].value < c.pretrain.batch)
                    return fmt::format("pretrain.budgets: {} images is less than one batch ({})",
                                       b[i].value, c.pretrain.batch);
                  if (b[i].value % c.pretrain.batch != 0)
                    return fmt::format(
                        "pretrain.budgets: {} images is not a whole number of batches of {}",
                        b[i].value, c.pretrain.batch);
                  if (i > 0 && b[i].value <= b[i - 1].value)
                    return "pretrain.budgets must be strictly ascending";
                }
                return "";
              })
        .Rule({"study.seeds", "finetune.seeds", "finetune.lrs"}, [](const C& c) -> std::string {
          if (c.study.seeds.empty() || c.finetune.seeds.empty() || c.finetune.lrs.empty())
            return "study.seeds, finetune.seeds and finetune.lrs each need at least one entry";
          return "";
        });
    return s;
  }();
  return schema;
}

VisionStudyConfig LoadVisionStudyConfig(const std::string& path,
                                        const std::vector<std::string>& overrides) {
  return LoadConfig(VisionStudySchema(), path, overrides);
}

}  // namespace ot
