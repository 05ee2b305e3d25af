// Schedule formulas (see schedule.h for the conventions).
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/check.h"

namespace ot {

ScheduleKind ParseScheduleKind(const std::string& name) {
  if (name == "cosine") return ScheduleKind::kCosine;
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "linear") return ScheduleKind::kLinear;
  if (name == "wsd") return ScheduleKind::kWsd;
  throw Error("optim.schedule: '" + name +
              "' is not a schedule; expected cosine, constant, linear or wsd");
}

const char* ScheduleKindName(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kCosine:
      return "cosine";
    case ScheduleKind::kConstant:
      return "constant";
    case ScheduleKind::kLinear:
      return "linear";
    case ScheduleKind::kWsd:
      return "wsd";
  }
  return "?";
}

double LearningRate(const ScheduleConfig& c, int64_t step) {
  OT_CHECK(step >= 0) << "step = " << step;
  if (c.warmup > 0 && step < c.warmup)
    return c.lr_peak * static_cast<double>(step + 1) / static_cast<double>(c.warmup);
  if (c.kind == ScheduleKind::kConstant) return c.lr_peak;
  if (step >= c.total) return c.lr_min;
  // Start of the decay phase and its progress p in [0, 1).
  const int64_t start =
      c.kind == ScheduleKind::kWsd ? std::max(c.warmup, c.total - c.decay) : c.warmup;
  if (step < start) return c.lr_peak;  // WSD's stable phase
  const double p = static_cast<double>(step - start) / static_cast<double>(c.total - start);
  switch (c.kind) {
    case ScheduleKind::kCosine:
      return c.lr_min + (c.lr_peak - c.lr_min) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
    case ScheduleKind::kLinear:
    case ScheduleKind::kWsd:
      return c.lr_peak + (c.lr_min - c.lr_peak) * p;
    case ScheduleKind::kConstant:
      break;
  }
  return c.lr_peak;
}

int64_t WsdDecaySteps(int64_t total, double decay_fraction) {
  return static_cast<int64_t>(std::llround(static_cast<double>(total) * decay_fraction));
}

}  // namespace ot
