// One fine-tuning run: a fresh optimizer over the pre-trained weights on a backend, task batches,
// evaluation.
#include "analysis/finetune.h"

#include <fmt/format.h>

#include <cmath>

#include "core/check.h"
#include "core/fileio.h"
#include "core/run_lock.h"
#include "data/loader.h"
#include "data/task_tokens.h"
#include "engine/data_parallel.h"
#include "train/metrics.h"
#include "train/trainer.h"

namespace ot {
namespace fs = std::filesystem;

const ConfigSchema<FinetuneConfig>& FinetuneSchema() {
  static const ConfigSchema<FinetuneConfig> schema = [] {
    using C = FinetuneConfig;
    ConfigSchema<C> s;
    DeclareCheckpointFields(
        s, [](C& c) -> CheckpointRef& { return c.checkpoint; }, "pre-trained checkpoint");
    DeclareEvalFields(s, [](C& c) -> EvalSuiteConfig& { return c.suite; });
    s.Field("finetune.task", "task to fine-tune on (docs/tasks.md)",
            [](C& c) -> std::string& { return c.ft.task; })
        .Field(
            "finetune.tokens", "fine-tuning budget in tokens (B*T per step)",
            [](C& c) -> Size& { return c.ft.tokens; }, AtLeast(1))
        .Field(
            "finetune.batch_size", "rows per step", [](C& c) -> int& { return c.ft.batch_size; },
            Between(1, kMaxBatchSize))
        .Field(
            "finetune.seq_len", "row length; 0 = the model's max_seq_len",
            [](C& c) -> int& { return c.ft.seq_len; }, Between(0, kMaxSeqLen))
        .Field(
            "finetune.seed", "batch order seed", [](C& c) -> int64_t& { return c.ft.seed; },
            AtLeast(0))
        .Field(
            "finetune.l2sp", "λ of the L2-SP pull toward the pre-trained weights (0 = off)",
            [](C& c) -> double& { return c.ft.l2sp; }, AtLeast(0))
        .Field(
            "finetune.replay", "fraction of steps on pre-training batches (0 = off)",
            [](C& c) -> double& { return c.ft.replay; }, Between(0, 0.99))
        .Field(
            "finetune.wise_alphas", "WiSE-FT: evaluate α·θ_ft + (1−α)·θ_pre for each α",
            [](C& c) -> std::vector<double>& { return c.ft.wise_alphas; }, Between(0, 1))
        .Field(
            "finetune.evals_during", "general-loss evaluations during training",
            [](C& c) -> int& { return c.ft.evals_during; }, AtLeast(0))
        .Rule({"finetune.task"},
              [](const C& c) { return c.ft.task.empty() ? "expected a task name" : ""; });
    DeclareOptimFields(s, "finetune", [](C& c) -> OptimConfig& { return c.ft.optim; });
    DeclareComputeFields(s, [](C& c) -> ComputeConfig& { return c.compute; });
    return s;
  }();
  return schema;
}

int RunFinetuneStage(const FinetuneConfig& config, const fs::path& out) {
  const auto& ft = config.ft;
  const bool wise = !ft.wise_alphas.empty();
  LoadedModel model = LoadModel(
      config.checkpoint.dir,
      {.arenas = 2 + OptimizerStateArenas(ft.optim) + (wise ? 1 : 0),
       .arenas_what =
           "anchor, gradients, " + ft.optim.kind + " state" + (wise ? ", WiSE-FT blend" : ""),
       .decoders = {{ft.batch_size, ft.seq_len, "finetune.batch_size", "finetune.seq_len",
                     NumericsFor(ft.optim).bf16_matmul},
                    {config.suite.batch, config.suite.seq_len, "eval.batch", "eval.seq_len"}}});
  ApplyThreadPolicy(0, model.config);
  // Data parallel when launched by torchrun / srun with several processes: each rank trains on its
  // slice of every global batch of finetune.batch_size rows; rank 0 alone writes.
  const std::unique_ptr<Collective> dp = JoinDataParallel(config.compute, "overtrain finetune");
  const int rank = dp ? dp->rank() : 0, world = dp ? dp->world_size() : 1;
  const RowRange rows = RankRows(ft.batch_size, rank, world, "finetune.batch_size");
  const int B = ft.batch_size, T = ft.seq_len > 0 ? ft.seq_len : model.config.max_seq_len;
  if (T > model.config.max_seq_len)
    throw Error(fmt::format("finetune.seq_len = {} exceeds the model's max_seq_len {}", T,
                            model.config.max_seq_len));
  const fs::path data_dir = config.suite.data_dir;
  const data::TaskSplit train = data::ReadTaskSplit(data_dir / "tasks", ft.task, "train");
  data::FinetuneBatcher batcher(train, B, T, static_cast<uint64_t>(ft.seed));
  std::unique_ptr<data::TokenLoader> replay;
  if (ft.replay > 0)
    replay = std::make_unique<data::TokenLoader>(data_dir / "general.train.tok", B, T,
                                                 static_cast<uint64_t>(ft.seed) + 7919);

  EvalSuiteConfig suite_config = config.suite;
  if (std::find(suite_config.tasks.begin(), suite_config.tasks.end(), ft.task) ==
      suite_config.tasks.end())
    suite_config.tasks.push_back(ft.task);
  // Snapshot 0: θ_pre, the L2-SP anchor and WiSE-FT's other end; 1: θ_ft while WiSE-FT blends.
  constexpr int kPretrained = 0, kFinetuned = 1;
  const bool anchored = ft.l2sp > 0 || wise;
  BackendPlan plan = EvalPlan(suite_config, model.config);
  plan.train_batch = rows.count;
  plan.train_seq = T;
  plan.optim = ft.optim;
  plan.snapshots = !anchored ? 0 : wise ? 2 : 1;
  const std::unique_ptr<Backend> backend =
      MakeBackend(model.config, config.compute, plan, std::move(model.params));
  if (anchored) backend->SaveSnapshot(kPretrained);
  EvalSuite suite(suite_config, *backend);
  const int64_t steps =
      std::max<int64_t>(1, (ft.tokens.value + int64_t{B} * T - 1) / (int64_t{B} * T));

  int64_t source_step = 0;
  BatchSource source;
  source.next = [&](std::span<int32_t> inputs, std::span<int32_t> targets) {
    // Step k replays when floor((k+1)·r) > floor(k·r): exactly a fraction r of steps, evenly
    // spread.
    const bool from_pretrain =
        replay && std::floor((source_step + 1) * ft.replay) > std::floor(source_step * ft.replay);
    ++source_step;
    if (from_pretrain)
      replay->Next(inputs, targets);
    else
      batcher.Next(inputs, targets);
  };
  source.save = [&] {
    return nlohmann::json{{"task", data::CursorToJson(batcher.cursor())}, {"step", source_step}};
  };
  source.load = [&](const nlohmann::json& j) {
    batcher.SetCursor(data::CursorFromJson(j.at("task")));
    source_step = j.at("step").get<int64_t>();
  };
  source.epoch = [&] { return batcher.Epochs(); };

  TrainerOptions options;
  options.batch_size = rows.count;
  options.world_size = world;
  options.seq_len = T;
  options.total_steps = steps;
  options.clip = ft.optim.clip;
  options.schedule = ScheduleFor(ft.optim, steps, int64_t{B} * T);
  options.log_every = std::max<int64_t>(1, steps / 20);
  options.eval_every =
      ft.evals_during > 0 ? std::max<int64_t>(1, steps / (ft.evals_during + 1)) : 0;
  options.quiet = true;
  const RunDirLock lock = rank == 0 ? RunDirLock::Acquire(out, "finetune run")
                                    : RunDirLock();  // one process per run (case 32)
  if (rank == 0)
    fs::remove(out / "metrics.jsonl");  // a restarted run starts over (fine-tuning runs are short)
  const auto metrics_writer = rank == 0 ? std::make_unique<MetricsWriter>(out / "metrics.jsonl")
                                        : std::make_unique<MetricsWriter>();
  MetricsWriter& metrics = *metrics_writer;
  TrainerHooks hooks;
  hooks.collective = dp.get();
  hooks.evaluate = [&] { return suite.GeneralLoss().loss; };
  if (ft.l2sp > 0)
    hooks.after_step = [&](const StepInfo& info) {
      backend->PullToward(kPretrained, info.lr, ft.l2sp);
    };
  Trainer trainer(*backend, RankSlice(source, B, T, rank, world, "finetune.batch_size"), options,
                  metrics, hooks);
  trainer.Run();

  nlohmann::json result = suite.Run();
  const LmEvalSampleSet samples = suite.samples();  // the fine-tuned model's, not a WiSE blend's
  const CheckpointPoint point = PointOf(config.checkpoint, model, suite.train_tokens_per_epoch());
  result["checkpoint"] = {{"dir", fs::absolute(model.dir).string()},
                          {"tokens", point.tokens},
                          {"epochs", point.epochs}};
  result["finetune"] = {
      {"task", ft.task},
      {"lr", ft.optim.lr},
      {"seed", ft.seed},
      {"steps", steps},
      {"tokens", steps * B * T},
      {"task_epochs", batcher.Epochs()},
      {"optimizer",
       "fresh " + backend->OptimizerName() + ": the pre-training optimizer state was reset"},
      {"backend", backend->Describe()},
      {"optimizer_reset", true},
      {"pretrain_steps", model.step}};  // the steps whose AdamW moments were discarded
  result["config"] = PrintConfig(FinetuneSchema(), config);
  if (wise) {
    backend->SaveSnapshot(kFinetuned);
    for (double alpha : ft.wise_alphas) {
      backend->RestoreSnapshot(kFinetuned);
      backend->InterpolateToward(kPretrained, alpha);  // α·θ_ft + (1−α)·θ_pre
      result["wise"][fmt::format("{}", alpha)] = suite.Run()["results"];
    }
  }
  if (dp) {  // the ranks trained identical weights; rank 0 reports them
    EnsureSameOnEveryRank(*dp, ParamsHash(*backend), "the fine-tuned weights");
    if (rank != 0) return 0;
  }
  if (result.contains("lm_eval"))  // a fresh run directory: no earlier samples to clear
    WriteLmEvalSamples(out, samples, result["lm_eval"], nullptr);
  WriteFileAtomic(out / "eval.json", result.dump(2) + "\n");
  std::fprintf(stderr, "finetune: %s lr %g from %lld tokens: ID loss %.4f, OOD loss %.4f\n",
               ft.task.c_str(), ft.optim.lr, static_cast<long long>(model.tokens),
               result["results"][ft.task]["loss"].get<double>(),
               result["results"]["general"]["loss"].get<double>());
  return 0;
}

}  // namespace ot
