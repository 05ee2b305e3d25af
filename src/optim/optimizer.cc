// AdamW step over flat arenas (see optimizer.h for the update written out) and MakeOptimizer.
#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "optim/adamw_update.h"
#include "optim/lion.h"
#include "optim/muon.h"
#include "optim/optim_config.h"
#include "optim/param_groups.h"
#include "optim/sam.h"
#include "optim/sgd.h"

namespace ot {

std::vector<DecaySegment> CoverSegments(int64_t total, std::vector<DecaySegment> segments) {
  OT_CHECK(total >= 0) << "total = " << total;
  std::sort(segments.begin(), segments.end(),
            [](const DecaySegment& a, const DecaySegment& b) { return a.offset < b.offset; });
  std::vector<DecaySegment> out;
  int64_t pos = 0;
  for (const auto& s : segments) {
    OT_CHECK(s.offset >= pos && s.size >= 0 && s.offset + s.size <= total)
        << "decay segment [" << s.offset << ", " << s.offset + s.size << ") overlaps or exceeds "
        << total;
    if (s.offset > pos) out.push_back({pos, s.offset - pos, false});
    if (s.size > 0) out.push_back(s);
    pos = s.offset + s.size;
  }
  if (pos < total) out.push_back({pos, total - pos, false});
  return out;
}

AdamW::AdamW(int64_t total, const AdamWConfig& config, std::vector<DecaySegment> segments)
    : config_(config),
      segments_(CoverSegments(total, std::move(segments))),
      m_(total, 0.0f),
      v_(total, 0.0f) {}

void AdamW::Step(std::span<float> params, std::span<const float> grads, double lr) {
  const int64_t n = static_cast<int64_t>(m_.size());
  OT_CHECK(static_cast<int64_t>(params.size()) == n && static_cast<int64_t>(grads.size()) == n)
      << "arena sizes: params " << params.size() << ", grads " << grads.size() << ", state " << n;
  ++step_count_;
  const AdamWScalars s = AdamWScalars::For(config_, lr, step_count_);
  for (const auto& seg : segments_)
    AdamWUpdateRange(s, seg.decay, seg.offset, seg.offset + seg.size, params.data(), grads.data(),
                     m_.data(), v_.data());
}

std::vector<OptimizerState> AdamW::State() {
  return {{"exp_avg", std::span<float>(m_)}, {"exp_avg_sq", std::span<float>(v_)}};
}

void AdamW::Reset() {
  std::fill(m_.begin(), m_.end(), 0.0f);
  std::fill(v_.begin(), v_.end(), 0.0f);
  step_count_ = 0;
}

std::unique_ptr<Optimizer> MakeOptimizer(const OptimConfig& c, const ParamLayout& layout,
                                         const std::string& prefix) {
  std::vector<DecaySegment> segments =
      DecaySegmentsFor(layout, c.decay_groups, prefix + ".decay_groups");
  const AdamWConfig adam{
      .beta1 = c.beta1, .beta2 = c.beta2, .eps = c.eps, .weight_decay = c.weight_decay};
  std::unique_ptr<Optimizer> base;
  if (c.kind == "adamw") {
    base = std::make_unique<AdamW>(layout.total(), adam, std::move(segments));
  } else if (c.kind == "sgd") {
    if (c.nesterov && c.momentum <= 0)
      throw Error(prefix + ".nesterov = true needs " + prefix +
                  ".momentum > 0 (as torch.optim.SGD)");
    const SgdConfig sgd{
        .momentum = c.momentum, .nesterov = c.nesterov, .weight_decay = c.weight_decay};
    base = std::make_unique<Sgd>(layout.total(), sgd, std::move(segments));
  } else if (c.kind == "lion") {
    const LionConfig lion{.beta1 = c.beta1, .beta2 = c.beta2, .weight_decay = c.weight_decay};
    base = std::make_unique<Lion>(layout.total(), lion, std::move(segments));
  } else if (c.kind == "muon") {
    const MuonConfig muon{.momentum = c.muon_momentum, .ns_steps = c.muon_ns_steps, .adamw = adam};
    base = std::make_unique<Muon>(layout, muon, std::move(segments));
  } else {
    std::string kinds;
    for (const auto& k : OptimKinds()) kinds += (kinds.empty() ? "" : ", ") + k;
    throw Error(prefix + ".kind: '" + c.kind + "' is not an optimizer; expected one of: " + kinds);
  }
  if (c.sam_rho > 0)
    return std::make_unique<Sam>(std::move(base), SamConfig{c.sam_rho, c.sam_adaptive});
  return base;
}

}  // namespace ot
