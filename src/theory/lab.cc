// The theory lab behind lab.h: the checkpoint sweep, inflection points, result files and the text
// table.
#include "theory/lab.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ot::theory {

namespace {

// One replicate: pre-train from this seed's init on A, measure each checkpoint, append its
// checkpoints and inflection points to `res`.
void RunSeed(const TheoryConfig& c, TheoryResults& res) {
  const Teachers teachers = MakeTeachers(c);
  const Objective pre = TrainingObjective(c, teachers.a, 0);
  const Objective ft = TrainingObjective(c, teachers.b, 1);
  // which = 2: the L2-SP sweep's own finite sample (population unless data.samples > 0).
  const Objective ft_l2sp = TrainingObjective(c, teachers.b_l2sp, 2);
  const bool flow = c.optimizer == "flow";
  const std::vector<int64_t> steps = CheckpointSteps(c);
  const size_t first = res.checkpoints.size();

  Student w = InitStudent(c);
  int64_t at = 0;
  for (int64_t step : steps) {
    Advance(w, pre, c.eta, step - at, flow, c.flow_substeps);
    at = step;
    CheckpointResult cp;
    cp.seed = c.seed;
    cp.step = step;
    cp.base_loss = PopulationLoss(w, teachers.a);
    cp.singular_values = LearnedSingularValues(w);
    cp.w1_sq = w.w1.squaredNorm();
    cp.w2_sq = w.w2.squaredNorm();
    for (double g : c.gammas) {
      const MonteCarlo mc = PerturbedLossMonteCarlo(w, teachers.a, g, c.draws, c.seed);
      cp.perturb.push_back({g, mc.mean, mc.se, PerturbedLossClosedForm(w, teachers.a, g)});
    }
    auto tune = [&](const Objective& obj, const MatrixXd& b, double lr, int ft_steps,
                    double lambda) -> FinetuneResult {
      Student tuned = w;
      Advance(tuned, obj, lr, ft_steps, flow, c.flow_substeps, Anchor{&w, lambda});
      return {lr, lambda, PopulationLoss(tuned, teachers.a), PopulationLoss(tuned, b)};
    };
    for (double lr : c.ft_lrs)
      for (double lambda : c.ft_lambdas)
        cp.finetune.push_back(tune(ft, teachers.b, lr, c.ft_steps, lambda));
    for (double lambda : c.l2sp_lambdas)
      cp.l2sp.push_back(tune(ft_l2sp, teachers.b_l2sp, c.l2sp_lr, c.l2sp_steps, lambda));
    res.checkpoints.push_back(std::move(cp));
  }

  // One inflection per curve.
  const auto at_cp = [&](size_t i) -> const CheckpointResult& {
    return res.checkpoints[first + i];
  };
  std::vector<double> values(steps.size());
  auto add = [&](std::string curve, double gamma, double lr, double lambda) {
    Inflection in = FindInflection(steps, values);
    in.curve = std::move(curve);
    in.seed = c.seed;
    in.gamma = gamma, in.lr = lr, in.lambda = lambda;
    res.inflections.push_back(in);
  };
  for (size_t g = 0; g < c.gammas.size(); ++g) {
    for (size_t i = 0; i < steps.size(); ++i) values[i] = at_cp(i).perturb[g].mc_mean;
    add("perturb", c.gammas[g], 0, 0);
    for (size_t i = 0; i < steps.size(); ++i) values[i] = at_cp(i).perturb[g].closed;
    add("perturb_closed", c.gammas[g], 0, 0);
  }
  for (size_t f = 0; f < c.ft_lrs.size() * c.ft_lambdas.size(); ++f) {
    for (size_t i = 0; i < steps.size(); ++i) values[i] = at_cp(i).finetune[f].loss_a;
    const auto& r = at_cp(0).finetune[f];
    add("finetune", 0, r.lr, r.lambda);
  }
  for (size_t f = 0; f < c.l2sp_lambdas.size(); ++f) {
    for (size_t i = 0; i < steps.size(); ++i) values[i] = at_cp(i).l2sp[f].loss_a;
    add("l2sp", 0, c.l2sp_lr, c.l2sp_lambdas[f]);
  }
}

}  // namespace

TheoryResults RunTheory(const TheoryConfig& c) {
  TheoryResults res;
  res.config = c;
  res.teacher_spectrum = TeacherSpectrum(c);
  for (int r = 0; r < c.num_seeds; ++r) {
    TheoryConfig one = c;
    one.seed = c.seed + r;
    RunSeed(one, res);
  }
  return res;
}

Inflection FindInflection(std::span<const int64_t> steps, std::span<const double> values) {
  OT_CHECK(!steps.empty() && steps.size() == values.size())
      << steps.size() << " vs " << values.size();
  size_t best = 0;
  for (size_t i = 1; i < values.size(); ++i)
    if (values[i] < values[best]) best = i;
  Inflection in;
  in.min_step = steps[best];
  in.min_value = values[best];
  in.inside = best > 0 && best + 1 < values.size();
  in.end_rise = (values.back() - in.min_value) / std::max(std::abs(in.min_value), 1e-300);
  return in;
}

namespace {
void WriteAtomic(const std::filesystem::path& path, const std::string& text) {
  const auto tmp = path.parent_path() / (path.filename().string() + ".tmp");
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << text;
    f.flush();
    if (!f) throw Error(tmp.string() + ": could not write; expected a writable output directory");
  }
  std::filesystem::rename(tmp, path);
}

std::string Line(const nlohmann::json& j) { return j.dump() + "\n"; }
}  // namespace

void WriteTheoryResults(const TheoryResults& res, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create the output directory (" + ec.message() + ")");
  const double time_scale = res.config.eta;
  std::string rows;
  for (const auto& cp : res.checkpoints) {
    std::vector<double> sv(cp.singular_values.data(),
                           cp.singular_values.data() + cp.singular_values.size());
    rows += Line({{"kind", "base"},
                  {"seed", cp.seed},
                  {"step", cp.step},
                  {"loss_a", cp.base_loss},
                  {"singular_values", sv},
                  {"time", cp.step * time_scale},
                  {"w1_sq", cp.w1_sq},
                  {"w2_sq", cp.w2_sq}});
    for (const auto& p : cp.perturb)
      rows += Line({{"kind", "perturb"},
                    {"seed", cp.seed},
                    {"step", cp.step},
                    {"gamma", p.gamma},
                    {"loss_a", p.mc_mean},
                    {"loss_a_se", p.mc_se},
                    {"loss_a_closed", p.closed},
                    {"base_loss", cp.base_loss},
                    {"delta", p.mc_mean - cp.base_loss},
                    {"delta_closed", p.closed - cp.base_loss}});
    auto tuned = [&](const char* kind, const FinetuneResult& f, int ft_steps) {
      return Line({{"kind", kind},
                   {"seed", cp.seed},
                   {"step", cp.step},
                   {"lr", f.lr},
                   {"lambda", f.lambda},
                   {"ft_steps", ft_steps},
                   {"loss_a", f.loss_a},
                   {"loss_b", f.loss_b},
                   {"base_loss", cp.base_loss}});
    };
    for (const auto& f : cp.finetune) rows += tuned("finetune", f, res.config.ft_steps);
    for (const auto& f : cp.l2sp) rows += tuned("l2sp", f, res.config.l2sp_steps);
  }
  std::string infl;
  for (const auto& in : res.inflections)
    infl += Line({{"curve", in.curve},
                  {"seed", in.seed},
                  {"gamma", in.gamma},
                  {"lr", in.lr},
                  {"lambda", in.lambda},
                  {"min_step", in.min_step},
                  {"min_value", in.min_value},
                  {"inside", in.inside},
                  {"end_rise", in.end_rise}});
  WriteAtomic(std::filesystem::path(dir) / "config.toml", PrintConfig(TheorySchema(), res.config));
  WriteAtomic(std::filesystem::path(dir) / "inflections.jsonl", infl);
  WriteAtomic(std::filesystem::path(dir) / "results.jsonl",
              rows);  // last: its presence means complete
}

std::string FormatTheoryTable(const TheoryResults& res) {
  // A minimum whose curve ends within 1% of it is a converged plateau rather than a U: say so in
  // the text.
  constexpr double kPlateau = 0.01;
  const auto& c = res.config;
  std::string out = fmt::format("seed {}:\n{:>7} {:>9} {:>7}", c.seed, "step", "L_A", "learned");
  for (double g : c.gammas) out += fmt::format(" {:>10}", fmt::format("pert{:g}", g));
  for (double lr : c.ft_lrs)
    for (double lambda : c.ft_lambdas)
      out += fmt::format(" {:>12}", lambda > 0 ? fmt::format("ft{:g}/l{:g}", lr, lambda)
                                               : fmt::format("ft{:g}", lr));
  for (double lambda : c.l2sp_lambdas) out += fmt::format(" {:>10}", fmt::format("sp{:g}", lambda));
  out += "\n";
  for (const auto& cp : res.checkpoints) {
    if (cp.seed != c.seed) continue;  // the other replicates are in results.jsonl
    int learned = 0;                  // singular values past half their teacher's value
    for (int i = 0; i < std::min<int>(cp.singular_values.size(), res.teacher_spectrum.size()); ++i)
      learned += cp.singular_values[i] > 0.5 * res.teacher_spectrum[i];
    out += fmt::format("{:>7} {:>9.5f} {:>7}", cp.step, cp.base_loss, learned);
    for (const auto& p : cp.perturb) out += fmt::format(" {:>10.5f}", p.mc_mean);
    for (const auto& f : cp.finetune) out += fmt::format(" {:>12.5f}", f.loss_a);
    for (const auto& f : cp.l2sp) out += fmt::format(" {:>10.5f}", f.loss_a);
    out += "\n";
  }
  auto name = [](const Inflection& in) {
    if (in.curve == "finetune")
      return fmt::format("L_A after fine-tuning, lr={:g} lambda={:g}", in.lr, in.lambda);
    if (in.curve == "l2sp")
      return fmt::format("L_A after the L2-SP sweep, lr={:g} lambda={:g}", in.lr, in.lambda);
    return fmt::format("perturbed loss{} gamma={:g}",
                       in.curve == "perturb" ? " (Monte-Carlo)" : " (closed form)", in.gamma);
  };
  if (c.num_seeds > 1) {
    // One line per curve: its minimum in every seed (the report takes medians and flags flat
    // curves).
    out += fmt::format("inflection points (step of each curve's minimum, seeds {}..{}):\n", c.seed,
                       c.seed + c.num_seeds - 1);
    const size_t per_seed = res.inflections.size() / c.num_seeds;
    for (size_t k = 0; k < per_seed; ++k) {
      std::vector<int64_t> at;
      for (int r = 0; r < c.num_seeds; ++r)
        at.push_back(res.inflections[r * per_seed + k].min_step);
      out += fmt::format("  {:<52} {}\n", name(res.inflections[k]), fmt::join(at, " "));
    }
    return out;
  }
  out += "inflection points (checkpoint of each curve's minimum):\n";
  for (const auto& in : res.inflections) {
    if (in.inside && in.end_rise < kPlateau)
      out += fmt::format(
          "  {:<48} minimum at step {} ({:.5f}); flat after it (last checkpoint {:.2f}% higher)\n",
          name(in), in.min_step, in.min_value, 100 * in.end_rise);
    else if (in.inside)
      out += fmt::format("  {:<48} minimum at step {} ({:.5f})\n", name(in), in.min_step,
                         in.min_value);
    else
      out += fmt::format(
          "  {:<48} no inflection inside the range (minimum at the {} checkpoint, step {}, "
          "{:.5f})\n",
          name(in), in.min_step == res.checkpoints.front().step ? "first" : "last", in.min_step,
          in.min_value);
  }
  return out;
}

int TheoryMain(const std::string& config_path, const std::vector<std::string>& overrides,
               const std::string& out, bool print_config) {
  const TheoryConfig c = LoadConfig(TheorySchema(), config_path, overrides);
  if (print_config) {
    std::fputs(PrintConfig(TheorySchema(), c).c_str(), stdout);
    return 0;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const TheoryResults res = RunTheory(c);
  const std::string dir =
      !out.empty() ? out
                   : (std::filesystem::path("runs/theory") /
                      (config_path.empty() ? std::string("default")
                                           : std::filesystem::path(config_path).stem().string()))
                         .string();
  WriteTheoryResults(res, dir);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fputs(FormatTheoryTable(res).c_str(), stdout);
  std::printf("wrote %s/results.jsonl (%.2f s)\n", dir.c_str(), secs);
  return 0;
}

}  // namespace ot::theory
