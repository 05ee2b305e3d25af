// The pretrain stage and its ladder modes (see pretrain.h).
#include "train/pretrain.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/check.h"
#include "core/fileio.h"
#include "core/run_lock.h"
#include "model/hf_config.h"
#include "model/init.h"
#include "model/memory_plan.h"
#include "optim/clip.h"
#include "optim/param_groups.h"
#include "train/model_check.h"

namespace ot {

int64_t StepsForTokens(int64_t tokens, int batch_size, int seq_len) {
  const int64_t per_step = int64_t{batch_size} * seq_len;
  return (tokens + per_step - 1) / per_step;
}

ScheduleConfig ScheduleFor(const PretrainConfig& c) {
  const int64_t per_step = int64_t{c.train.batch_size} * c.train.seq_len;
  return ScheduleFor(c.optim, StepsForTokens(c.train.budget, c.train.batch_size, c.train.seq_len),
                     per_step);
}

BatchSource LoaderBatchSource(data::TokenLoader& loader) {
  BatchSource s;
  s.next = [&loader](std::span<int32_t> in, std::span<int32_t> tg) { loader.Next(in, tg); };
  s.save = [&loader] { return data::CursorToJson(loader.cursor()); };
  s.load = [&loader](const nlohmann::json& j) { loader.SetCursor(data::CursorFromJson(j)); };
  s.epoch = [&loader] { return loader.Epochs(); };
  return s;
}

double MeanLoss(Backend& backend, const data::TokenLoader& loader, int batch_size, int seq_len,
                int batches, Collective* collective) {
  const int64_t n = std::min<int64_t>(batches, loader.batches_per_epoch());
  OT_CHECK(n > 0) << "the evaluation file holds no full batch";
  std::vector<int32_t> in(int64_t{batch_size} * seq_len), tg(in.size());
  const int world = collective ? collective->world_size() : 1;
  const RowRange rows =
      RankRows(batch_size, collective ? collective->rank() : 0, world, "train.batch_size");
  const int64_t first = int64_t{rows.first} * seq_len;
  double sum = 0;
  for (int64_t k = 0; k < n; ++k) {
    loader.Batch({0, k}, in, tg);
    // float, as the decoder returns it: one process gives the same bits as before the seam. Data
    // parallel: each rank's slice, averaged across ranks (every row counts every target).
    sum +=
        static_cast<float>(backend.Loss(in.data() + first, tg.data() + first, rows.count, seq_len));
  }
  if (collective != nullptr) {
    collective->AllReduceSum(std::span<double>(&sum, 1));
    sum /= world;
  }
  return sum / static_cast<double>(n);
}

namespace {
constexpr const char* kOptimPrefixSep = ".";  // optimizer tensors: "<state>.<param name>"
}

void SaveTrainingCheckpoint(const fs::path& dir, Backend& backend, const TrainState& state,
                            const nlohmann::json& extra_state, const std::string& run_config_toml) {
  const ParamLayout& layout = backend.layout();
  std::vector<float> params(layout.total());
  backend.ReadParams(params);
  if (!AllFinite(params))
    throw Error(dir.string() +
                ": refusing to save a checkpoint whose parameters contain NaN or Inf");
  const std::vector<std::string> names = backend.OptimizerStateNames();
  std::vector<std::vector<float>> states(names.size(), std::vector<float>(layout.total()));
  for (size_t k = 0; k < names.size(); ++k) backend.ReadOptimizerState(names[k], states[k]);
  CheckpointContents c;
  for (const auto& t : layout.tensors())
    c.model.push_back({t.name, t.shape, std::span<const float>(params).subspan(t.offset, t.size)});
  for (size_t k = 0; k < names.size(); ++k)
    for (const auto& t : layout.tensors())
      c.optimizer.push_back({names[k] + kOptimPrefixSep + t.name, t.shape,
                             std::span<const float>(states[k]).subspan(t.offset, t.size)});
  c.config = HfConfigJson(backend.config());
  c.state = state.ToJson();
  c.state["optimizer"] = {{"kind", backend.OptimizerName()}, {"step", backend.optimizer_steps()}};
  for (const auto& [k, v] : extra_state.items()) c.state[k] = v;
  c.metadata["overtrain_config"] = backend.config().ToJson().dump();
  if (!run_config_toml.empty()) c.metadata["overtrain_run_config"] = run_config_toml;
  SaveCheckpoint(dir, c);
}

namespace {

// Copies tensor `name` of `from` into `to` at t's offset, or records why it cannot.
void CopyTensor(const std::map<std::string, LoadedTensor>& from, const std::string& name,
                const TensorInfo& t, std::span<float> to, std::vector<std::string>& problems) {
  auto it = from.find(name);
  if (it == from.end()) {
    problems.push_back("tensor '" + name + "' is missing");
    return;
  }
  if (it->second.shape != t.shape) {
    problems.push_back(
        fmt::format("tensor '{}' has shape [{}] in the checkpoint, the model expects [{}]", name,
                    fmt::join(it->second.shape, ", "), fmt::join(t.shape, ", ")));
    return;
  }
  std::copy(it->second.data.begin(), it->second.data.end(), to.begin() + t.offset);
}

// The weights of a checkpoint into a host arena, headers checked against `layout` before any
// payload is read and NaN/Inf refused after.
LoadedCheckpoint ReadCheckpointWeights(const fs::path& dir, const ParamLayout& layout,
                                       std::span<float> params, bool with_optimizer,
                                       bool verified) {
  if (!verified) {  // else the caller checked the layout against this very model, and verified
    CheckCheckpointLayout(dir, layout, "the configured model");
    RequireValidCheckpoint(dir);
  }
  LoadedCheckpoint ck = LoadCheckpoint(dir, with_optimizer, /*verified=*/true);
  std::vector<std::string> problems;
  for (const auto& t : layout.tensors()) CopyTensor(ck.model, t.name, t, params, problems);
  OT_CHECK(problems.empty()) << "model tensors passed CheckCheckpointLayout, then failed: "
                             << problems[0];
  if (std::string bad = NonFiniteTensors(layout, params); !bad.empty())
    throw Error((dir / kModelFile).string() + ": " + bad +
                "; a checkpoint's weights must be finite");
  return ck;
}

}  // namespace

TrainState LoadCheckpointParams(const fs::path& dir, const ParamLayout& layout,
                                std::span<float> params, bool verified) {
  return TrainState::FromJson(ReadCheckpointWeights(dir, layout, params, false, verified).state);
}

TrainState LoadTrainingCheckpoint(const fs::path& dir, Backend& backend, bool with_optimizer) {
  const ParamLayout& layout = backend.layout();
  std::vector<float> host(layout.total());
  const LoadedCheckpoint ck = ReadCheckpointWeights(dir, layout, host, with_optimizer, false);
  backend.WriteParams(host);
  if (with_optimizer) {
    const auto& o = ck.state.at("optimizer");
    if (o.at("kind").get<std::string>() != backend.OptimizerName())
      throw Error(dir.string() + "/" + kStateFile + ": optimizer '" +
                  o.at("kind").get<std::string>() + "' in the checkpoint, '" +
                  backend.OptimizerName() + "' configured");
    std::vector<std::string> problems;
    for (const auto& name : backend.OptimizerStateNames()) {
      for (const auto& t : layout.tensors())
        CopyTensor(ck.optimizer, name + kOptimPrefixSep + t.name, t, host, problems);
      if (!problems.empty())
        throw Error(dir.string() + "/" + kOptimizerFile + ": " + problems.front());
      if (std::string bad = NonFiniteTensors(layout, host, name + kOptimPrefixSep); !bad.empty())
        throw Error((dir / kOptimizerFile).string() + ": " + bad +
                    "; optimizer state must be finite");
      backend.WriteOptimizerState(name, host);
    }
    backend.set_optimizer_steps(o.at("step").get<int64_t>());
  }
  return TrainState::FromJson(ck.state);
}

namespace {

std::string JoinProblems(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// What pruning keeps (case 6, issue 10 defect 11): the ladder and final checkpoints, plus the
// newest `keep_periodic` others (periodic saves) present under `root`.
std::set<int64_t> KeptCheckpoints(const fs::path& root, const std::set<int64_t>& ladder_tokens,
                                  int keep_periodic) {
  std::set<int64_t> keep = ladder_tokens;
  const auto list = ListCheckpoints(root);
  int periodic = 0;
  for (auto it = list.rbegin(); it != list.rend() && periodic < keep_periodic; ++it)
    if (!ladder_tokens.count(it->tokens)) {
      keep.insert(it->tokens);
      ++periodic;
    }
  return keep;
}

// Step indices (completed-step counts) at which to save, from token counts.
std::set<int64_t> SaveSteps(const PretrainConfig& c, int64_t total_steps) {
  std::set<int64_t> steps = {total_steps};
  for (const auto& t : c.train.ladder)
    steps.insert(std::min(total_steps, StepsForTokens(t, c.train.batch_size, c.train.seq_len)));
  return steps;
}

}  // namespace

PretrainResult RunPretrain(const PretrainConfig& config, const fs::path& run_dir,
                           const PretrainHooks& hooks, const fs::path& init_from) {
  const auto& c = config;
  if (c.data.train.empty()) throw Error("data.train: no training token file given");
  ApplyThreadPolicy(c.train.threads, c.model);
  // Data parallel (hooks.collective): each rank trains on its slice of every global batch; rank 0
  // alone writes (lock, config.toml, metrics, checkpoints), every rank reads the run directory.
  Collective* const dp = hooks.collective;
  const int rank = dp ? dp->rank() : 0, world = dp ? dp->world_size() : 1;
  const bool writer = rank == 0;
  const RowRange rows = RankRows(c.train.batch_size, rank, world, "train.batch_size");
  // Before anything is written or allocated: the steady state of training (a resume briefly also
  // holds the checkpoint's copy, which this does not count).
  CheckMemoryPlan(c.model,
                  {.arenas = 2 + OptimizerStateArenas(c.optim),
                   .arenas_what = "parameters, gradients and " + c.optim.kind + " state",
                   .decoders = {{rows.count, c.train.seq_len, "train.batch_size", "train.seq_len",
                                 NumericsFor(c.optim).bf16_matmul}}},
                  run_dir.string() + ": pretraining");
  // One process per run directory (docs/reliability.md case 32), held until this function returns.
  const RunDirLock lock = writer ? RunDirLock::Acquire(run_dir, "pretrain run") : RunDirLock();
  const fs::path config_path = run_dir / "config.toml", ckpt_root = run_dir / "ckpt";
  const fs::path metrics_path = run_dir / "metrics.jsonl";
  if (writer) CleanPartialCheckpoints(ckpt_root);
  if (dp) dp->Barrier();  // the others list checkpoints after rank 0 has cleaned

  // The newest checkpoint that fully verifies; newer damaged ones are reported, never skipped
  // silently.
  std::vector<SkippedCheckpoint> skipped;
  std::optional<fs::path> start = NewestValidCheckpoint(ckpt_root, &skipped);
  if (!start && !init_from.empty()) start = init_from;
  if (dp)  // every rank resumes from the same checkpoint (a shared run directory)
    EnsureSameOnEveryRank(*dp, start ? Xxh3(AsBytes(start->filename().string())) : 0,
                          "the checkpoint to start from (is " + run_dir.string() +
                              " on a filesystem every rank shares?)");
  for (const auto& s : skipped)
    std::fprintf(stderr, "pretrain: skipping checkpoint %s, which fails verification: %s; %s\n",
                 s.dir.c_str(), JoinProblems(s.problems).c_str(),
                 start ? ("resuming from " + start->string() + " instead").c_str()
                       : "no older checkpoint verifies");

  // Resume guard: once a checkpoint exists, the saved config must agree on everything that shapes
  // the weights. Before that nothing is locked in (case 35): a start that failed (bad data, a
  // diverging lr) leaves a config.toml that the corrected retry simply replaces.
  if (start && fs::exists(config_path)) {
    const PretrainConfig saved = LoadPretrainConfig(config_path.string(), {});
    const std::string problem = ResumeProblem(saved, c);
    if (!problem.empty()) throw Error(config_path.string() + ": " + problem);
  }
  const std::string config_toml = PrintConfig(PretrainSchema(), c);
  if (writer) WriteFileAtomic(config_path, config_toml);

  data::TokenLoader loader(c.data.train, c.train.batch_size, c.train.seq_len,
                           static_cast<uint64_t>(c.train.seed));
  if (loader.file().info().vocab_size > static_cast<uint32_t>(c.model.vocab_size))
    throw Error(c.data.train + ": token vocabulary " +
                std::to_string(loader.file().info().vocab_size) +
                " exceeds model.vocab_size = " + std::to_string(c.model.vocab_size));
  std::unique_ptr<data::TokenLoader> val;
  if (!c.data.val.empty())
    val =
        std::make_unique<data::TokenLoader>(c.data.val, c.train.batch_size, c.train.seq_len,
                                            static_cast<uint64_t>(c.train.seed), /*shuffle=*/false);
  const ParamLayout layout = ParamLayout::ForModel(c.model);
  std::vector<float> params(layout.total());
  InitParams(layout, params, static_cast<uint64_t>(c.train.seed));
  const std::unique_ptr<Backend> backend =
      MakeBackend(c.model, c.compute,
                  {.train_batch = rows.count, .train_seq = c.train.seq_len, .optim = c.optim},
                  std::move(params));

  TrainerOptions opt;
  opt.batch_size = rows.count;
  opt.world_size = world;
  opt.seq_len = c.train.seq_len;
  opt.schedule = ScheduleFor(c);
  opt.total_steps = opt.schedule.total;
  opt.clip = c.optim.clip;
  opt.nan_policy = ParseNanPolicy(c.train.nan_policy);
  opt.spike_sigma = c.train.spike_sigma;
  opt.log_every = c.train.log_every;
  opt.eval_every = c.train.eval_every;
  opt.quiet = c.train.quiet;

  // Find the starting point before opening the metrics file (a resume first drops rows logged after
  // it).
  PretrainResult result;
  TrainState restored;
  if (start) {
    restored = LoadTrainingCheckpoint(*start, *backend, /*with_optimizer=*/true);
    result.resumed_from_tokens = restored.tokens;
  }
  if (writer) TruncateMetrics(metrics_path, restored.step);
  const auto metrics_writer = writer ? std::make_unique<MetricsWriter>(metrics_path)
                                     : std::make_unique<MetricsWriter>();  // disabled elsewhere
  MetricsWriter& metrics = *metrics_writer;
  for (const auto& s : skipped)
    metrics.Write({{"step", restored.step},
                   {"event", "checkpoint_skipped"},
                   {"checkpoint", s.dir.string()},
                   {"problems", s.problems}});

  const std::set<int64_t> save_steps = SaveSteps(c, opt.total_steps);
  const int64_t per_step = int64_t{c.train.batch_size} * c.train.seq_len;
  std::set<int64_t>
      ladder_tokens;  // token counts of the ladder and final checkpoints: never pruned
  for (int64_t step : save_steps) ladder_tokens.insert(step * per_step);
  const int64_t periodic =
      c.train.checkpoint_every.value > 0
          ? StepsForTokens(c.train.checkpoint_every, c.train.batch_size, c.train.seq_len)
          : 0;

  TrainerHooks th;
  th.fault = hooks.fault;
  th.collective = hooks.collective;
  if (val)
    th.evaluate = [&] {
      return MeanLoss(*backend, *val, c.train.batch_size, c.train.seq_len, c.train.eval_batches,
                      dp);
    };
  Trainer* trainer_ptr = nullptr;
  th.after_step = [&](const StepInfo& info) {
    Trainer& trainer = *trainer_ptr;
    if (save_steps.count(info.step) || (periodic > 0 && info.step % periodic == 0)) {
      const TrainState state = trainer.CaptureState();
      const ScheduleConfig& s = opt.schedule;
      nlohmann::json extra = {
          {"schedule",
           {{"kind", ScheduleKindName(s.kind)},
            {"step", state.step},
            {"total", s.total},
            {"warmup", s.warmup},
            {"decay", s.decay},
            {"lr_peak", s.lr_peak},
            {"lr_min", s.lr_min},
            {"lr_next", LearningRate(s, state.step)}}},
          {"rng", {{"seed", c.train.seed}, {"init_stream", "init"}, {"data_cursor", state.data}}},
          {"tokens_per_step", per_step},
          {"budget", c.train.budget.value}};
      const fs::path dir = ckpt_root / CheckpointDirName(state.tokens);
      metrics
          .Sync();  // the rows a resume from this checkpoint keeps are as durable as the checkpoint
      // Every rank holds the same weights after every step: checked where it is cheap, at saves.
      if (dp)
        EnsureSameOnEveryRank(*dp, ParamsHash(trainer.backend()),
                              fmt::format("the weights after step {}", state.step));
      if (writer) SaveTrainingCheckpoint(dir, trainer.backend(), state, extra, config_toml);
      result.checkpoints.push_back(dir);
      if (writer && periodic > 0 && c.train.keep_periodic > 0)
        PruneCheckpoints(ckpt_root,
                         KeptCheckpoints(ckpt_root, ladder_tokens, c.train.keep_periodic));
    }
    if (hooks.after_step) hooks.after_step(info, trainer);
  };

  Trainer trainer(*backend,
                  RankSlice(LoaderBatchSource(loader), c.train.batch_size, c.train.seq_len, rank,
                            world, "train.batch_size"),
                  opt, metrics, th);
  trainer_ptr = &trainer;
  if (start) trainer.RestoreState(restored);
  if (!c.train.quiet && start)
    std::fprintf(stderr, "resuming %s from %s (step %lld)\n", run_dir.c_str(), start->c_str(),
                 static_cast<long long>(restored.step));
  trainer.Run();
  result.steps = trainer.state().step;
  result.tokens = trainer.state().tokens;
  result.val_loss = trainer.last_val_loss();
  result.wall_s = trainer.CaptureState().wall_s;
  const auto logged = writer ? ReadMetrics(metrics_path) : std::vector<nlohmann::json>{};
  for (auto it = logged.rbegin(); it != logged.rend(); ++it)
    if (it->contains("train/loss") && !it->contains("event")) {
      result.final_loss = (*it)["train/loss"].is_number() ? (*it)["train/loss"].get<double>() : NAN;
      break;
    }
  return result;
}

std::vector<PretrainResult> RunPretrainLadder(const PretrainConfig& config, const fs::path& out_dir,
                                              const PretrainHooks& hooks) {
  const auto& mode = config.train.ladder_mode;
  if (mode == "series" || config.train.ladder.empty()) return {RunPretrain(config, out_dir, hooks)};
  std::vector<int64_t> budgets;
  for (const auto& t : config.train.ladder) budgets.push_back(t.value);
  std::sort(budgets.begin(), budgets.end());
  budgets.erase(std::unique(budgets.begin(), budgets.end()), budgets.end());
  std::vector<PretrainResult> results;
  // The ladder's directory as a whole (each sub-run also locks its own directory).
  const bool writer = hooks.collective == nullptr || hooks.collective->rank() == 0;
  const RunDirLock lock = writer ? RunDirLock::Acquire(out_dir, "pretrain ladder") : RunDirLock();
  if (mode == "runs") {
    // One run per budget, the schedule laid out over that budget.
    for (int64_t n : budgets) {
      PretrainConfig sub = config;
      sub.train.budget.value = n;
      sub.train.ladder.clear();
      sub.train.ladder_mode = "series";
      results.push_back(RunPretrain(sub, out_dir / ("budget-" + FormatSize(n)), hooks));
    }
    return results;
  }
  OT_CHECK(mode == "wsd") << mode;
  // A warmup-stable trunk saved at each branch point; branch N decays over the last
  // wsd_decay_fraction of its own N tokens, starting from the trunk's checkpoint at the branch
  // point. Warmup is fixed in steps (from train.budget) so the trunk and every branch share it
  // exactly.
  const int B = config.train.batch_size, T = config.train.seq_len;
  const int64_t per_step = int64_t{B} * T;
  const int64_t warmup_steps = ScheduleFor(config).warmup;
  std::vector<int64_t> branch_steps;
  for (int64_t n : budgets) {
    const int64_t total = StepsForTokens(n, B, T);
    const int64_t point = total - WsdDecaySteps(total, config.optim.wsd_decay_fraction);
    if (point < warmup_steps)
      throw Error(
          fmt::format("train.ladder: the branch for {} tokens would start its decay at step {}, "
                      "inside the {}-step warmup; use larger budgets or a shorter warmup",
                      FormatSize(n), point, warmup_steps));
    branch_steps.push_back(point);
  }
  PretrainConfig trunk = config;
  trunk.optim.schedule = "wsd";
  trunk.optim.wsd_decay_fraction = 0;
  trunk.optim.warmup.value = warmup_steps * per_step;
  trunk.train.budget.value = *std::max_element(branch_steps.begin(), branch_steps.end()) * per_step;
  trunk.train.ladder.clear();
  for (int64_t s : branch_steps) trunk.train.ladder.push_back(Size{s * per_step});
  trunk.train.ladder_mode = "series";
  results.push_back(RunPretrain(trunk, out_dir / "trunk", hooks));
  for (size_t i = 0; i < budgets.size(); ++i) {
    PretrainConfig branch = config;
    branch.optim.schedule = "wsd";
    branch.optim.warmup.value = warmup_steps * per_step;
    branch.train.budget.value = budgets[i];
    branch.train.ladder.clear();
    branch.train.ladder_mode = "series";
    const fs::path from =
        out_dir / "trunk" / "ckpt" / CheckpointDirName(branch_steps[i] * per_step);
    results.push_back(
        RunPretrain(branch, out_dir / ("branch-" + FormatSize(budgets[i])), hooks, from));
  }
  return results;
}

}  // namespace ot
