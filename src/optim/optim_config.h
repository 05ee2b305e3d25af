// The optimizer, schedule, regulariser and numerics knobs of one training stage, declared ONCE
// (docs/design.md, style rule 7) and embedded by every stage that trains: pretrain under `optim.*`,
// finetune under `finetune.*`, the study under `pretrain.*` and `finetune.*` (each stage's keys
// keep their section; the knob list, help, validation and kind rules are this one declaration).
// Entry points: OptimConfig, DeclareOptimFields, OptimKinds, ScheduleFor, OptimizerNeedsArenas.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "optim/schedule.h"

namespace ot {

struct OptimConfig {
  std::string kind = "adamw";      // adamw | sgd | lion | muon (optim/optimizer.h)
  double lr = 3e-3, lr_min = 0.0;  // peak and floor of the schedule
  double beta1 = 0.9,
         beta2 = 0.95;  // adamw, lion (c = β1·m + (1−β1)·g; m ← β2·m + (1−β2)·g), muon's AdamW part
  double eps = 1e-8;            // adamw, muon's AdamW part
  double momentum = 0.9;        // sgd
  bool nesterov = false;        // sgd
  double muon_momentum = 0.95;  // muon: Nesterov momentum of the orthogonalised matrices
  int muon_ns_steps = 5;        // muon: Newton–Schulz iterations
  double weight_decay =
      0.1;  // decoupled (adamw, lion, muon); coupled L2 for sgd (as torch.optim.SGD)
  std::vector<std::string> decay_groups{"embed", "attn", "mlp", "head"};
  double clip = 1.0;  // max global gradient norm; 0 = off
  Size warmup{0};     // warmup tokens; 0 = warmup_fraction of the run
  double warmup_fraction = 0.05;
  std::string schedule = "cosine";  // cosine | constant | linear | wsd
  double wsd_decay_fraction = 0.2;  // WSD: share of the run in the final decay
  double sam_rho = 0.0;       // SAM (Foret et al. 2021) radius around any base optimizer; 0 = off
  bool sam_adaptive = false;  // ASAM (Kwon et al. 2021): the radius scaled by |θ|
  double z_loss = 0.0;        // PaLM's auxiliary loss weight: + z_loss·log²Z per token; 0 = off
  std::string precision =
      "fp32";  // fp32 | bf16 (matmul inputs rounded to bf16, fp32 accumulate and master)
};

const std::vector<std::string>& OptimKinds();  // {"adamw", "sgd", "lion", "muon"}

// "" when every knob set away from its default belongs to `c.kind` (e.g. momentum is sgd's), else
// one sentence naming the key under `prefix` (e.g. "optim.momentum = 0.5 applies to kind sgd only
// ...").
std::string KindProblem(const OptimConfig& c, const std::string& prefix);

// The schedule of a run of `total_steps` updates of `tokens_per_step` tokens each.
ScheduleConfig ScheduleFor(const OptimConfig& c, int64_t total_steps, int64_t tokens_per_step);

// Float arenas (beyond parameters and gradients) the optimizer of `c` holds: 2 for adamw, 3 for
// muon (its momentum plus AdamW's m and v, each a full arena), 1 for sgd and lion; SAM adds one
// (the perturbation). For memory plans.
int OptimizerStateArenas(const OptimConfig& c);

// Declares every OptimConfig knob as `<prefix>.<name>` in `s`, minus `skip` (a study's fine-tuning
// grid owns lr), with the cross-field rules (lr_min <= lr, decay groups, knobs of another kind).
template <typename S, typename Get>
void DeclareOptimFields(ConfigSchema<S>& s, const std::string& prefix, Get get,
                        const std::vector<std::string>& skip = {}) {
  const auto has = [&](const char* name) {
    return std::find(skip.begin(), skip.end(), name) == skip.end();
  };
  const auto key = [&](const char* name) { return prefix + "." + name; };
  const auto field = [&](const char* name, const char* help, auto member, auto check) {
    if (!has(name)) return;
    s.Field(
        key(name), help, [ get, member ](S & c) -> auto& { return get(c).*member; }, check);
  };
  using O = OptimConfig;
  field("kind", "optimizer: adamw | sgd | lion | muon", &O::kind, OneOf(OptimKinds()));
  field("lr", "peak learning rate", &O::lr, Above(0));
  field("lr_min", "final learning rate of cosine/linear/wsd decay", &O::lr_min, AtLeast(0));
  field("beta1", "adamw/lion/muon(AdamW part) beta1", &O::beta1, Between(0, 0.999999));
  field("beta2", "adamw/lion/muon(AdamW part) beta2", &O::beta2, Between(0, 0.999999));
  field("eps", "adamw/muon(AdamW part) epsilon", &O::eps, Above(0));
  field("momentum", "sgd momentum", &O::momentum, Between(0, 0.999999));
  field("nesterov", "sgd: Nesterov momentum", &O::nesterov, nullptr);
  field("muon_momentum", "muon: Nesterov momentum of the hidden matrices", &O::muon_momentum,
        Between(0, 0.999999));
  field("muon_ns_steps", "muon: Newton-Schulz iterations", &O::muon_ns_steps, Between(1, 20));
  field("weight_decay", "weight decay (decoupled; coupled L2 for sgd, as torch.optim.SGD)",
        &O::weight_decay, AtLeast(0));
  field("decay_groups", "parameter groups that get weight decay", &O::decay_groups, nullptr);
  field("clip", "max global gradient norm (0 = off)", &O::clip, AtLeast(0));
  field("warmup", "warmup tokens (0 = use warmup_fraction)", &O::warmup, nullptr);
  field("warmup_fraction", "warmup as a share of the run (when warmup = 0)", &O::warmup_fraction,
        Between(0, 1));
  field("schedule", "cosine | constant | linear | wsd", &O::schedule,
        OneOf({"cosine", "constant", "linear", "wsd"}));
  field("wsd_decay_fraction", "WSD: share of the run in the final decay", &O::wsd_decay_fraction,
        Between(0, 1));
  field("sam_rho",
        "SAM radius rho around the base optimizer (0 = off; each step then costs 2 passes)",
        &O::sam_rho, AtLeast(0));
  field("sam_adaptive", "adaptive SAM (ASAM): the radius scaled elementwise by |theta|",
        &O::sam_adaptive, nullptr);
  field("z_loss", "z-loss weight: + z_loss * log^2 Z per target token (PaLM: 1e-4; 0 = off)",
        &O::z_loss, AtLeast(0));
  field("precision",
        "fp32 | bf16 (emulated mixed precision: bf16 matmul inputs, fp32 accumulate/master)",
        &O::precision, OneOf({"fp32", "bf16"}));
  s.Rule({key("lr_min"), key("lr")}, [get, prefix](const S& c) {
    const O& o = get(const_cast<S&>(c));
    return !(o.lr_min > o.lr) ? std::string() : prefix + ".lr_min must be <= " + prefix + ".lr";
  });
  s.Rule({key("decay_groups")}, [get](const S& c) {
    for (const auto& g : get(const_cast<S&>(c)).decay_groups)
      if (g != "embed" && g != "attn" && g != "mlp" && g != "norm" && g != "head" && g != "bias")
        return "'" + g +
               "' is not a parameter group; expected embed, attn, mlp, norm, head or bias";
    return std::string();
  });
  s.Rule({key("kind")},
         [get, prefix](const S& c) { return KindProblem(get(const_cast<S&>(c)), prefix); });
}

}  // namespace ot
