// The perturbation sweep of one checkpoint.
#include "analysis/perturb_stage.h"

#include <fmt/format.h>

#include <cstdio>

#include "core/fileio.h"
#include "core/result_rows.h"
#include "core/run_lock.h"
#include "engine/data_parallel.h"
#include "model/noise.h"
#include "train/trainer.h"

namespace ot {
namespace fs = std::filesystem;

const ConfigSchema<PerturbConfig>& PerturbSchema() {
  static const ConfigSchema<PerturbConfig> schema = [] {
    ConfigSchema<PerturbConfig> s;
    DeclareCheckpointFields(
        s, [](PerturbConfig& c) -> CheckpointRef& { return c.checkpoint; },
        "checkpoint to perturb");
    DeclareEvalFields(s, [](PerturbConfig& c) -> EvalSuiteConfig& { return c.suite; });
    s.Field(
         "perturb.gammas", "noise scales γ (noise std = γ·s_t per tensor, s_t from perturb.scale)",
         [](PerturbConfig& c) -> std::vector<double>& { return c.gammas; }, AtLeast(0))
        .Field(
            "perturb.draws", "noise draws per γ (mean ± standard error)",
            [](PerturbConfig& c) -> int& { return c.draws; }, AtLeast(1))
        .Field(
            "perturb.seed", "noise seed", [](PerturbConfig& c) -> int64_t& { return c.seed; },
            AtLeast(0))
        .Field("perturb.groups",
               "conditions: \"all\" or one group (embed, attn, mlp, norm, head) each",
               [](PerturbConfig& c) -> std::vector<std::string>& { return c.groups; })
        .Field(
            "perturb.scale",
            "per-tensor noise std: init = γ·σ_init, relative = γ·rms(θ_t) at this checkpoint",
            [](PerturbConfig& c) -> std::string& { return c.scale; }, OneOf(NoiseScaleNames()))
        .Rule({"perturb.groups"}, [](const PerturbConfig& c) -> std::string {
          for (const auto& g : c.groups)
            if (g != "all" && g != "embed" && g != "attn" && g != "mlp" && g != "norm" &&
                g != "head")
              return "'" + g + "' is not one of all, embed, attn, mlp, norm, head";
          return c.groups.empty() ? "expected at least one condition" : "";
        });
    DeclareComputeFields(s, [](PerturbConfig& c) -> ComputeConfig& { return c.compute; });
    return s;
  }();
  return schema;
}

int RunPerturbStage(const PerturbConfig& config, const fs::path& out) {
  RequireOneProcess("overtrain perturb");
  // One process per output directory (docs/reliability.md case 32): two perturb runs into one --out
  // would each write results.jsonl and one would be lost.
  const RunDirLock lock = RunDirLock::Acquire(out, "perturb run");
  LoadedModel model = LoadModel(
      config.checkpoint.dir,
      {.arenas = 1,
       .arenas_what = "the pre-trained snapshot",
       .decoders = {{config.suite.batch, config.suite.seq_len, "eval.batch", "eval.seq_len"}}});
  ApplyThreadPolicy(0, model.config);
  EvalSuiteConfig suite_config = config.suite;
  suite_config.tasks.clear();  // the probe is the general validation set
  BackendPlan plan = EvalPlan(suite_config, model.config);
  plan.snapshots = 1;  // the pre-trained weights every draw starts from
  const std::unique_ptr<Backend> backend =
      MakeBackend(model.config, config.compute, plan, std::move(model.params));
  EvalSuite suite(suite_config, *backend);
  const CheckpointPoint point = PointOf(config.checkpoint, model, suite.train_tokens_per_epoch());
  const PerplexityResult base = suite.GeneralLoss();
  backend->SaveSnapshot(0);
  std::string rows;
  for (const auto& group : config.groups) {
    for (double gamma : config.gammas) {
      for (int draw = 0; draw < config.draws; ++draw) {
        NoiseSpec spec{
            .gamma = gamma,
            .seed = static_cast<uint64_t>(config.seed),
            .draw = draw,
            .groups = group == "all" ? std::vector<std::string>{} : std::vector<std::string>{group},
            .scale = ParseNoiseScale(config.scale)};
        backend->RestoreSnapshot(0);  // every draw starts from the exact pre-trained bits
        backend->AddNoise(spec);
        const PerplexityResult r = suite.GeneralLoss();
        nlohmann::json row = ToJson(PerturbRow{.tokens = point.tokens,
                                               .epochs = point.epochs,
                                               .seed = config.seed,
                                               .gamma = gamma,
                                               .draw = draw,
                                               .group = group,
                                               .loss = r.loss,
                                               .base_loss = base.loss,
                                               .delta = r.loss - base.loss,
                                               .scale = config.scale});
        row["eval_tokens"] = r.tokens;
        rows += row.dump() + "\n";
        std::fprintf(
            stderr,
            "perturb: tokens %lld (%.2f epochs) group %s gamma %g draw %d: loss %.4f (base %.4f)\n",
            static_cast<long long>(point.tokens), point.epochs, group.c_str(), gamma, draw, r.loss,
            base.loss);
      }
    }
  }
  WriteFileAtomic(out / "results.jsonl", rows);
  return 0;
}

}  // namespace ot
