// VisionStudyMain (see vision_study.h).
#include "study/vision_study.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "analysis/vision_stage.h"
#include "core/fileio.h"
#include "core/result_rows.h"
#include "core/run_lock.h"
#include "data/fetch.h"
#include "model/layout.h"
#include "model/noise.h"
#include "report/report.h"
#include "report/sizes.h"
#include "study/plan.h"
#include "study/vision_config.h"
#include "train/checkpoint.h"
#include "train/vision_pretrain.h"

namespace ot {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using C = VisionStudyConfig;

constexpr int kEvalBatch = 256;        // images per evaluation forward
constexpr uint64_t kViewKey = 0x5167;  // the SigLIP evaluation views' augmentation key

struct Datasets {
  data::VisionDataset src_train, src_test, dst_train, dst_test;
  data::PixelNorm src_norm, dst_norm;
};

// The sets every measurement reads, materialised once and shared read-only.
struct EvalSets {
  VisionEvalSet src_test, src_test_views, src_probe, dst_test, dst_probe;
};

struct Variant {
  std::string objective, size, label;  // label "" (one variant), "arm-siglip", "size-vit-pico", …
  fs::path dir;
  ModelConfig model;
};

// The config a unit's files depend on, as an 8-hex-digit key in their names: the resolved config
// with what does not reach them reset (the study's name, seeds and jobs, the cache, the other
// ladders; for a checkpoint also the measurements), so that changing a knob makes new units and a
// rerun never reuses a checkpoint or measurement made under other settings.
std::string UnitKey(const C& c, const Variant& v, bool measure) {
  C k = c;
  k.study = {};
  k.data.cache = "";
  k.model.sizes = {v.size};
  k.pretrain.objectives = {v.objective};
  k.pretrain.budgets = {};
  if (!measure) {
    k.data.downstream = C{}.data.downstream;
    k.data.eval_images = C{}.data.eval_images;
    k.data.probe_images = C{}.data.probe_images;
    k.perturb = {};
    k.finetune = {};
  }
  return HashHex(PrintConfig(VisionStudySchema(), k)).substr(0, 8);
}

struct Unit {
  const Variant* v;
  int64_t seed, budget;
  std::string pretrain_key, measure_key;
  fs::path checkpoint() const {
    return v->dir / "runs" /
           fmt::format("pretrain-s{}-{}-{}", seed, FormatSize(budget), pretrain_key);
  }
  fs::path measured() const {
    return v->dir / "runs" /
           fmt::format("measure-s{}-{}-{}.json", seed, FormatSize(budget), measure_key);
  }
  std::string Name() const {
    return fmt::format("{} {} seed {} at {} images", v->objective, v->size, seed,
                       FormatSize(budget));
  }
};

std::vector<Variant> Variants(const C& c, const fs::path& root) {
  std::vector<Variant> out;
  const bool arms = c.pretrain.objectives.size() > 1, sizes = c.model.sizes.size() > 1;
  for (const auto& o : c.pretrain.objectives)
    for (const auto& size : c.model.sizes) {
      Variant v{o, size, "", root, ModelConfig::FromPreset(size)};
      if (arms) v.label = "arm-" + o;
      if (sizes) v.label += (arms ? "/" : "") + ("size-" + size);
      if (!v.label.empty()) v.dir = root / v.label;
      if (o == "siglip") v.model.head = "projection";
      out.push_back(std::move(v));
    }
  return out;
}

data::AugmentParams Augment(data::AugmentParams a, const std::string& source) {
  a.flip = a.flip && data::FlipAllowed(source);
  return a;
}

// Runs f(i) for i in [0, n), `jobs` at a time, each on one thread (its kernels, OpenBLAS and Eigen
// single-threaded); returns the error of each unit that threw ("" otherwise).
template <typename F>
std::vector<std::string> RunUnits(int jobs, size_t n, F f) {
  std::vector<std::string> errors(n);
#pragma omp parallel for num_threads(jobs) schedule(dynamic, 1)
  for (size_t i = 0; i < n; ++i) {
    omp_set_num_threads(1);
    try {
      f(i);
    } catch (const std::exception& e) {
      errors[i] = e.what();
    }
  }
  return errors;
}

void Pretrain(const C& c, const Datasets& d, const Unit& u) {
  VisionPretrainOptions o{.model = u.v->model,
                          .optim = c.pretrain.optim,
                          .objective = u.v->objective,
                          .batch = c.pretrain.batch,
                          .budget_images = u.budget,
                          .seed = static_cast<uint64_t>(u.seed),
                          .augment = Augment(c.pretrain.augment, c.data.source),
                          .norm = d.src_norm};
  const VisionPretrainResult r = PretrainVision(o, d.src_train);
  SaveVisionCheckpoint(u.checkpoint(), u.v->model, r.params,
                       {{"images", r.images},
                        {"steps", r.steps},
                        {"epochs", r.epochs},
                        {"seed", u.seed},
                        {"objective", u.v->objective},
                        {"source", c.data.source},
                        {"last_loss", r.last_loss},
                        {"final_loss", r.mean_loss}});
}

// Entropy of the label frequencies: the loss of predicting the prior alone.
double LabelPriorLoss(const data::VisionDataset& d) {
  std::vector<double> count(d.classes, 0.0);
  for (uint8_t l : d.labels) count[l] += 1;
  double h = 0;
  for (double k : count)
    if (k > 0) h -= k / d.size() * std::log(k / d.size());
  return h;
}

json Measure(const C& c, const Datasets& d, const EvalSets& sets, const Unit& u) {
  const Variant& v = *u.v;
  const bool siglip = v.objective == "siglip";
  const json state = json::parse(ReadFile(u.checkpoint() / kStateFile));
  const double epochs = state.at("epochs").get<double>();
  const int64_t images = state.at("images").get<int64_t>();
  std::vector<float> params = LoadVisionParams(u.checkpoint(), v.model);
  auto backend = MakeBackend(
      v.model, {}, {.snapshots = 1, .image_batch = std::max(kEvalBatch, c.pretrain.batch)}, params);
  const VisionEvalSet& objective_set = siglip ? sets.src_test_views : sets.src_test;
  const int objective_batch = siglip ? c.pretrain.batch : kEvalBatch;
  const ObjectiveScore base = ScoreObjective(*backend, v.objective, objective_set, objective_batch);

  // The downstream linear probe, and the retention measure's starting point.
  const LinearProbe probe =
      FitLinearProbe(ImageFeatures(*backend, sets.dst_probe, kEvalBatch), sets.dst_probe.labels,
                     v.model.d_model, static_cast<int>(d.dst_train.classes));
  const ProbeScore probe_score = ScoreLinearProbe(
      probe, ImageFeatures(*backend, sets.dst_test, kEvalBatch), sets.dst_test.labels);
  LinearProbe retention;
  ObjectiveScore base_ood;
  if (siglip) {
    retention =
        FitLinearProbe(ImageFeatures(*backend, sets.src_probe, kEvalBatch), sets.src_probe.labels,
                       v.model.d_model, static_cast<int>(d.src_train.classes));
    const ProbeScore s = ScoreLinearProbe(
        retention, ImageFeatures(*backend, sets.src_test, kEvalBatch), sets.src_test.labels);
    base_ood = {s.loss, s.accuracy};
  } else {
    base_ood = ScoreObjective(*backend, "supervised", sets.src_test, kEvalBatch);
  }
  json out = {{"pretrain", ToJson(PretrainRow{.tokens = images,
                                              .epochs = epochs,
                                              .seed = u.seed,
                                              .base_loss = base.loss,
                                              .base_ppl = std::exp(base.loss),
                                              .accuracy = base.accuracy,
                                              .probe_loss = probe_score.loss,
                                              .probe_accuracy = probe_score.accuracy})},
              {"perturb", json::array()},
              {"finetune", json::array()}};

  // Gaussian noise on the backbone (the head is spared), scored on the pre-training objective.
  backend->SaveSnapshot(0);
  for (double gamma : c.perturb.gammas)
    for (int draw = 0; draw < c.perturb.draws; ++draw) {
      backend->RestoreSnapshot(0);
      backend->AddNoise({.gamma = gamma,
                         .seed = static_cast<uint64_t>(u.seed),
                         .draw = draw,
                         .groups = {"embed", "attn", "mlp"}});
      const double loss =
          ScoreObjective(*backend, v.objective, objective_set, objective_batch).loss;
      out["perturb"].push_back(ToJson(PerturbRow{.tokens = images,
                                                 .epochs = epochs,
                                                 .seed = u.seed,
                                                 .gamma = gamma,
                                                 .draw = draw,
                                                 .group = "backbone",
                                                 .loss = loss,
                                                 .base_loss = base.loss,
                                                 .delta = loss - base.loss}));
    }
  backend->RestoreSnapshot(0);

  // Fine-tuning with a new head on the downstream set: ID, and retention of the source task.
  const ModelConfig ft_model = DownstreamModel(v.model, static_cast<int>(d.dst_train.classes));
  const double prior = LabelPriorLoss(d.dst_train);
  for (double lr : c.finetune.lrs)
    for (int64_t ft_seed : c.finetune.seeds) {
      OptimConfig optim = c.finetune.optim;
      optim.lr = lr;
      std::vector<float> ft =
          FinetuneVision(v.model, params, d.dst_train,
                         {.optim = optim,
                          .batch = c.finetune.batch,
                          .images = c.finetune.images,
                          .seed = static_cast<uint64_t>(ft_seed),
                          .augment = Augment(c.finetune.augment, c.data.downstream),
                          .norm = d.dst_norm});
      auto ftb = MakeBackend(ft_model, {}, {.image_batch = kEvalBatch}, ft);
      const ObjectiveScore id = ScoreObjective(*ftb, "supervised", sets.dst_test, kEvalBatch);
      ObjectiveScore ood;
      if (siglip) {
        const ProbeScore s = ScoreLinearProbe(
            retention, ImageFeatures(*ftb, sets.src_test, kEvalBatch), sets.src_test.labels);
        ood = {s.loss, s.accuracy};
      } else {  // the original head on the fine-tuned backbone
        std::vector<float> kept = params;
        TransplantBackbone(ft_model, ft, v.model, kept);
        auto rb = MakeBackend(v.model, {}, {.image_batch = kEvalBatch}, std::move(kept));
        ood = ScoreObjective(*rb, "supervised", sets.src_test, kEvalBatch);
      }
      out["finetune"].push_back(
          ToJson(FinetuneRow{.tokens = images,
                             .epochs = epochs,
                             .seed = u.seed,
                             .ft_seed = ft_seed,
                             .task = c.data.downstream,
                             .lr = lr,
                             .id_loss = id.loss,
                             .ood_loss = ood.loss,
                             .accuracy = id.accuracy,
                             .chance_accuracy = 1.0 / static_cast<double>(d.dst_train.classes),
                             .label_prior_loss = prior,
                             .base_id_loss = probe_score.loss,
                             .base_ood_loss = base_ood.loss,
                             .ood_accuracy = ood.accuracy}));
    }
  return out;
}

void Collect(const C& c, const Datasets& d, const Variant& v, const std::vector<Unit>& units) {
  std::string pretrain, perturb, finetune;
  for (const Unit& u : units) {
    if (u.v != &v || !fs::exists(u.measured())) continue;
    const json m = json::parse(ReadFile(u.measured()));
    pretrain += m.at("pretrain").dump() + "\n";
    for (const auto& r : m.at("perturb")) perturb += r.dump() + "\n";
    for (const auto& r : m.at("finetune")) finetune += r.dump() + "\n";
  }
  const fs::path results = v.dir / "results";
  fs::create_directories(results);
  const json study = {{"name", fmt::format("{} ({}, {})", c.study.name, v.objective, v.size)},
                      {"preset", v.size},
                      {"params", ParamLayout::ForModel(v.model).total()},
                      {"train_tokens_per_epoch", static_cast<int64_t>(d.src_train.size())},
                      {"unit", "images"},
                      {"objective", v.objective},
                      {"source", c.data.source},
                      {"seeds", c.study.seeds.size()},
                      {"tasks", {c.data.downstream}},
                      {"gammas", c.perturb.gammas},
                      {"scales", {"init"}},
                      {"lrs", c.finetune.lrs}};
  WriteFileAtomic(results / "study.json", study.dump(2) + "\n");
  WriteFileAtomic(results / "pretrain.jsonl", pretrain);
  WriteFileAtomic(results / "perturb.jsonl", perturb);
  WriteFileAtomic(results / "finetune.jsonl", finetune);
}

std::string PlanText(const C& c, const std::vector<Variant>& variants, size_t train_images) {
  std::string out =
      fmt::format("vision study '{}': source {} ({} training images), downstream {}\n",
                  c.study.name, c.data.source, train_images, c.data.downstream);
  int64_t total = 0;
  for (const auto& b : c.pretrain.budgets) total += b.value;
  for (const auto& v : variants)
    out += fmt::format("  ladder {}: {} {} ({} parameters) × {} seed(s)\n",
                       v.label.empty() ? "(one)" : v.label, v.objective, v.size,
                       FormatSize(ParamLayout::ForModel(v.model).total()), c.study.seeds.size());
  out += "  budgets (images seen, epochs of the source set):";
  for (const auto& b : c.pretrain.budgets)
    out += fmt::format(" {} ({:.3g} ep)", FormatSize(b.value),
                       static_cast<double>(b.value) / static_cast<double>(train_images));
  const size_t ft_runs = c.finetune.lrs.size() * c.finetune.seeds.size();
  out += fmt::format(
      "\n  per ladder and seed: {} pre-training images; per checkpoint: {} γ × {} draws, {} "
      "fine-tuning runs of {} images\n",
      FormatSize(total), c.perturb.gammas.size(), c.perturb.draws, ft_runs,
      FormatSize(c.finetune.images.value));
  return out;
}

}  // namespace

int VisionStudyMain(const VisionStudyOptions& opt) {
  const C c = LoadVisionStudyConfig(opt.config_path, opt.overrides);
  if (opt.print_config) {
    std::fputs(PrintConfig(VisionStudySchema(), c).c_str(), stdout);
    return 0;
  }
  const fs::path root = !opt.out.empty()
                            ? fs::path(opt.out)
                            : fs::path("runs") / (opt.config_path.empty()
                                                      ? std::string("vision")
                                                      : fs::path(opt.config_path).stem().string());
  const auto start = std::chrono::steady_clock::now();
  const fs::path cache = data::ResolveCacheDir(c.data.cache);
  Datasets d{data::LoadVisionSource(cache, c.data.source, "train"),
             data::LoadVisionSource(cache, c.data.source, "test"),
             data::LoadVisionSource(cache, c.data.downstream, "train"),
             data::LoadVisionSource(cache, c.data.downstream, "test"),
             {},
             {}};
  d.src_norm = data::PixelStats(d.src_train);
  d.dst_norm = data::PixelStats(d.dst_train);
  const std::vector<Variant> variants = Variants(c, root);
  for (const auto& v : variants) {
    CheckVisionFits(v.model, d.src_train);
    CheckVisionFits(DownstreamModel(v.model, static_cast<int>(d.dst_train.classes)), d.dst_train);
  }
  std::fputs(PlanText(c, variants, d.src_train.size()).c_str(), stderr);
  if (opt.dry_run) return 0;

  const RunDirLock lock = RunDirLock::Acquire(root, "vision study");  // one process per study
  WriteFileAtomic(root / "study.toml", PrintConfig(VisionStudySchema(), c));
  std::vector<Unit> units;
  for (const auto& v : variants)
    for (int64_t seed : c.study.seeds)
      for (const auto& b : c.pretrain.budgets)
        units.push_back({&v, seed, b.value, UnitKey(c, v, false), UnitKey(c, v, true)});
  for (const auto& v : variants) fs::create_directories(v.dir / "runs");
  const int cores = std::max(1, omp_get_num_procs());
  const int jobs = opt.jobs > 0 ? opt.jobs : c.study.jobs > 0 ? c.study.jobs : cores;

  // Phase 1: pre-training, the longest budgets first (they bound the wall time).
  std::vector<size_t> todo;
  for (size_t i = 0; i < units.size(); ++i)
    if (!VerifyCheckpoint(units[i].checkpoint()).empty()) todo.push_back(i);
  std::stable_sort(todo.begin(), todo.end(),
                   [&](size_t a, size_t b) { return units[a].budget > units[b].budget; });
  std::fprintf(stderr, "[vision] pre-training: %zu runs (%zu already done), %d at a time\n",
               todo.size(), units.size() - todo.size(), jobs);
  int finished = 0;
  auto report_done = [&](const char* what, const Unit& u, const std::string& error) {
#pragma omp critical(vision_progress)
    {
      ++finished;
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "[vision] %s %d/%zu %s: %s (%.0f s)\n", what, finished, todo.size(),
                   u.Name().c_str(), error.empty() ? "done" : error.c_str(), s);
    }
  };
  std::vector<std::string> errors = RunUnits(jobs, todo.size(), [&](size_t k) {
    const Unit& u = units[todo[k]];
    std::string error;
    try {
      Pretrain(c, d, u);
    } catch (const std::exception& e) {
      error = e.what();
      report_done("pre-training", u, error);
      throw;
    }
    report_done("pre-training", u, error);
  });
  int failed = 0;
  for (const auto& e : errors) failed += !e.empty();

  // Phase 2: measuring every checkpoint.
  const bool any_siglip = std::find(c.pretrain.objectives.begin(), c.pretrain.objectives.end(),
                                    "siglip") != c.pretrain.objectives.end();
  const data::AugmentParams views = Augment(c.pretrain.augment, c.data.source);
  EvalSets sets{
      MakeVisionEvalSet(d.src_test, c.data.eval_images, d.src_norm),
      any_siglip ? MakeVisionEvalSet(d.src_test, c.data.eval_images, d.src_norm, &views, kViewKey)
                 : VisionEvalSet{},
      MakeVisionEvalSet(d.src_train, c.data.probe_images, d.src_norm),
      MakeVisionEvalSet(d.dst_test, c.data.eval_images, d.dst_norm),
      MakeVisionEvalSet(d.dst_train, c.data.probe_images, d.dst_norm)};
  todo.clear();
  for (size_t i = 0; i < units.size(); ++i)
    if (!fs::exists(units[i].measured()) && VerifyCheckpoint(units[i].checkpoint()).empty())
      todo.push_back(i);
  finished = 0;
  std::fprintf(stderr, "[vision] measuring: %zu checkpoints, %d at a time\n", todo.size(), jobs);
  errors = RunUnits(jobs, todo.size(), [&](size_t k) {
    const Unit& u = units[todo[k]];
    std::string error;
    try {
      WriteFileAtomic(u.measured(), Measure(c, d, sets, u).dump() + "\n");
    } catch (const std::exception& e) {
      error = e.what();
      report_done("measuring", u, error);
      throw;
    }
    report_done("measuring", u, error);
  });
  for (const auto& e : errors) failed += !e.empty();

  int missing = 0;
  for (const Unit& u : units) missing += !fs::exists(u.measured());
  for (const auto& v : variants) Collect(c, d, v, units);
  ReportOutput report;
  fs::path report_md;
  if (variants.size() == 1) {
    report = WriteReport(root);
    report_md = report.dir / "report.md";
    std::printf("\nclaims:\n");
    for (const auto& line : report.claims) std::printf("- %s\n", line.c_str());
  } else {
    report_md = WriteVariantReports(root);
    for (const auto& v : variants) {
      const ReportOutput r = WriteReport(v.dir);
      std::printf("\nclaims, %s:\n", v.label.c_str());
      for (const auto& line : r.claims) std::printf("- %s\n", line.c_str());
      std::printf("- %s\n", r.verdict.empty() ? "" : r.verdict.front().c_str());
    }
  }
  if (variants.size() == 1 && !report.verdict.empty())
    std::printf("\nanswer: %s\n", report.verdict.front().c_str());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "\nvision study: %zu checkpoints, %d failed, %d missing from the report; %.0f s\nreport: "
      "%s\n",
      units.size(), failed, missing, wall, report_md.string().c_str());
  return failed ? 1 : 0;
}

}  // namespace ot
