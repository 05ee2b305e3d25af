// Numerics guards of the training loop: the NaN/Inf policy and a loss-spike monitor (running mean
// and std as exponential moving averages; a loss more than k·σ above the mean is flagged and kept
// out of the statistics). Entry points: NanPolicy, ParseNanPolicy, SpikeMonitor.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ot {

enum class NanPolicy { kAbort, kSkipStep };
NanPolicy ParseNanPolicy(const std::string& name);  // "abort" | "skip-step"
const char* NanPolicyName(NanPolicy policy);

class SpikeMonitor {
 public:
  // sigma: flag threshold in standard deviations (<= 0 disables). warmup: losses observed before
  // any flagging (the early loss falls fast). decay: EMA coefficient (0.98 ≈ a 50-step window).
  explicit SpikeMonitor(double sigma = 6.0, int64_t warmup = 20, double decay = 0.98);

  // Observes one loss; returns true when it is a spike (loss > mean + sigma·std). Spikes do not
  // update the statistics, so one outlier cannot hide the next. Non-finite losses are ignored (the
  // NaN policy acts).
  bool Observe(double loss);

  double mean() const { return mean_; }
  double std() const;
  int64_t count() const { return count_; }
  int64_t spikes() const { return spikes_; }
  // How many σ above the running mean `loss` is (0 before any statistics).
  double Sigmas(double loss) const;

  // State for checkpoints (doubles round-trip exactly through nlohmann::json).
  nlohmann::json ToJson() const;
  void FromJson(const nlohmann::json& j);

 private:
  double sigma_, decay_;
  int64_t warmup_;
  int64_t count_ = 0, spikes_ = 0;
  double mean_ = 0, var_ = 0;
};

}  // namespace ot
