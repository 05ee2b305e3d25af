// NaN policy names and the EMA spike monitor (see monitor.h).
#include "train/monitor.h"

#include <cmath>

#include "core/check.h"

namespace ot {

NanPolicy ParseNanPolicy(const std::string& name) {
  if (name == "abort") return NanPolicy::kAbort;
  if (name == "skip-step") return NanPolicy::kSkipStep;
  throw Error("train.nan_policy: '" + name + "' is not a policy; expected abort or skip-step");
}

const char* NanPolicyName(NanPolicy policy) {
  return policy == NanPolicy::kAbort ? "abort" : "skip-step";
}

SpikeMonitor::SpikeMonitor(double sigma, int64_t warmup, double decay)
    : sigma_(sigma), decay_(decay), warmup_(warmup) {}

double SpikeMonitor::std() const { return std::sqrt(var_); }

double SpikeMonitor::Sigmas(double loss) const {
  const double s = std();
  return count_ == 0 || s <= 0 ? 0.0 : (loss - mean_) / s;
}

bool SpikeMonitor::Observe(double loss) {
  if (!std::isfinite(loss)) return false;
  if (count_ == 0) {
    mean_ = loss;
    var_ = 0;
    ++count_;
    return false;
  }
  // A floor on σ (1e-3 of the mean) so that a perfectly flat loss does not flag rounding noise.
  const double s = std::max(std(), 1e-3 * std::fabs(mean_));
  if (sigma_ > 0 && count_ >= warmup_ && loss > mean_ + sigma_ * s) {
    ++spikes_;
    return true;
  }
  const double delta = loss - mean_;
  mean_ += (1 - decay_) * delta;
  var_ = decay_ * (var_ + (1 - decay_) * delta * delta);  // EMA variance (West 1979)
  ++count_;
  return false;
}

nlohmann::json SpikeMonitor::ToJson() const {
  return {{"count", count_}, {"spikes", spikes_}, {"mean", mean_}, {"var", var_}};
}

void SpikeMonitor::FromJson(const nlohmann::json& j) {
  count_ = j.at("count").get<int64_t>();
  spikes_ = j.at("spikes").get<int64_t>();
  mean_ = j.at("mean").get<double>();
  var_ = j.at("var").get<double>();
}

}  // namespace ot
