// Learning-rate schedules over optimizer steps: linear warmup, then cosine (to 0 or a floor
// lr_min), constant, linear decay, or WSD (warmup-stable-decay). Entry points: ScheduleConfig,
// LearningRate, ParseScheduleKind. Convention: LearningRate(c, s) is the lr of update s (0-based).
// Warmup is lr_peak·(s+1)/warmup for s < warmup; after it the decay progress is p = (s −
// start)/(total − start), so lr(total) == lr_min exactly and the last update (s = total−1) uses a
// small positive lr.
#pragma once

#include <cstdint>
#include <string>

namespace ot {

enum class ScheduleKind { kCosine, kConstant, kLinear, kWsd };
ScheduleKind ParseScheduleKind(const std::string& name);  // "cosine"|"constant"|"linear"|"wsd"
const char* ScheduleKindName(ScheduleKind kind);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kCosine;
  double lr_peak = 1e-3;
  double lr_min = 0.0;  // floor of cosine / linear / WSD decay
  int64_t warmup = 0;   // steps of linear warmup
  int64_t total = 1;    // steps of the whole schedule (the run's own budget)
  // WSD only: the decay phase covers the last `decay` steps, [total − decay, total). The WSD
  // branches of a ladder are WSD schedules that share the stable phase and differ in `total` (decay
  // starts at the branch point). Linear decay from lr_peak to lr_min.
  int64_t decay = 0;
};

// The learning rate of update `step`; steps past `total` return lr_min (constant: lr_peak).
double LearningRate(const ScheduleConfig& c, int64_t step);

// The WSD decay length for a fraction of the total, rounded to whole steps.
int64_t WsdDecaySteps(int64_t total, double decay_fraction);

}  // namespace ot
