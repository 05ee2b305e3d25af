// SGD, Lion and Muon against reference/reference.py's float64 versions (SGD: torch.optim.SGD
// itself; Lion and Muon: their published rules), on a small model's layout over several steps.
// Every bound is derived from float32 rounding (u = 2^-24): elementwise by running error analysis
// for SGD and Lion, normwise for Muon's Newton–Schulz (tests/optim/newton_schulz_bound.h). Fails
// (never skips) without torch, as parity_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "bench/parity_harness.h"
#include "bench/torch_reference.h"
#include "core/check.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "model/init.h"
#include "model/layout.h"
#include "optim/lion.h"
#include "optim/muon.h"
#include "optim/newton_schulz_bound.h"
#include "optim/param_groups.h"
#include "optim/sgd.h"

namespace ot {
namespace {

namespace fs = std::filesystem;
constexpr double kU = 0x1p-24;

// Running error analysis (Higham §3.3): v is the exact value (double, from the same float32
// inputs), e a bound on |float32 result − v|. Each float op adds u·|result|; a constant α is itself
// rounded to float (another u·|αx|). An FMA (one rounding) is within the bound of the two separate
// operations.
struct Bounded {
  double v = 0, e = 0;
};
Bounded Add(Bounded a, Bounded b) { return {a.v + b.v, a.e + b.e + kU * std::abs(a.v + b.v)}; }
Bounded Scale(double alpha, Bounded a) {
  return {alpha * a.v, std::abs(alpha) * a.e + 2 * kU * std::abs(alpha * a.v)};
}
// The reference computes in double and returns float32: + u·|v| for that rounding, + 1e-14·|v| for
// its own double rounding over the handful of operations per step (each 2^-53).
double ReferenceSlack(double v) { return (kU + 1e-14) * std::abs(v); }

ModelConfig OptimParityModel() {
  ModelConfig c;
  c.vocab_size = 67;
  c.d_model = 32;
  c.n_layers = 2;
  c.n_heads = 4;
  c.max_seq_len = 16;
  c.tied_head = false;
  return c;
}

struct OptimFixture {
  ParamLayout layout = ParamLayout::ForModel(OptimParityModel());
  std::vector<float> params;
  std::vector<std::vector<float>> grads;  // per step
  std::vector<std::string> decay;         // names of tensors that decay (default groups)
};

OptimFixture MakeOptimFixture(int steps) {
  OptimFixture f;
  f.params.resize(f.layout.total());
  InitParams(f.layout, f.params, 21);
  for (int s = 0; s < steps; ++s) {
    const uint64_t key = RngKey(21, StreamId("optim-parity"), s);
    std::vector<float> g(f.layout.total());
    for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<float>(0.01 * NormalAt(key, i));
    for (const auto& t :
         f.layout.tensors())  // exact zeros: sign(0) for Lion, an idle buffer for SGD
      for (int64_t i = 0; i < 3 && i < t.size; ++i) g[t.offset + i] = 0.0f;
    f.grads.push_back(g);
  }
  const auto groups = DefaultDecayGroups();
  for (const auto& t : f.layout.tensors())
    if (std::find(groups.begin(), groups.end(), GroupName(t.group)) != groups.end())
      f.decay.push_back(t.name);
  return f;
}

using parity::ScopedTempDir;  // the parity harness's per-test temporary directory

// Writes the fixture, runs the reference, returns its file (kept open in `file`).
SafetensorsFile RunReference(const OptimFixture& f, nlohmann::json optim, const fs::path& dir) {
  try {
    CheckPythonTorch();
  } catch (const Error& e) {
    ADD_FAILURE() << e.what();
    throw;
  }
  optim["steps"] = f.grads.size();
  optim["decay"] = f.decay;
  std::vector<TensorToWrite> tensors;
  for (const auto& t : f.layout.tensors()) {
    tensors.push_back(
        F32Tensor("param." + t.name, t.shape, std::span(f.params).subspan(t.offset, t.size)));
    for (size_t k = 0; k < f.grads.size(); ++k)
      tensors.push_back(F32Tensor("grad." + std::to_string(k) + "." + t.name, t.shape,
                                  std::span(f.grads[k]).subspan(t.offset, t.size)));
  }
  const fs::path in = dir / "in.safetensors", out = dir / "out.safetensors";
  WriteSafetensorsFile(in, tensors, {{"optim", optim.dump()}});
  RunReferenceOptimParity(in, out);
  return SafetensorsFile::Open(out);
}

std::vector<float> RefStep(const SafetensorsFile& file, size_t k, const std::string& name) {
  return ToF32(file.Get("step." + std::to_string(k) + "." + name));
}

bool Decays(const OptimFixture& f, const std::string& name) {
  return std::find(f.decay.begin(), f.decay.end(), name) != f.decay.end();
}

// SGD (plain, Nesterov, no momentum) against torch.optim.SGD in float64, 3 steps, every element
// within its running error bound (ours) plus the reference's own rounding.
TEST(OptimParity, SgdMatchesTorch) {
  struct Variant {
    double momentum;
    bool nesterov;
  };
  const double lr = 0.05, wd = 0.1;
  for (const Variant var : {Variant{0.9, false}, Variant{0.9, true}, Variant{0.0, false}}) {
    SCOPED_TRACE("momentum " + std::to_string(var.momentum) + (var.nesterov ? " nesterov" : ""));
    ScopedTempDir dir;
    const OptimFixture f = MakeOptimFixture(3);
    const SafetensorsFile ref = RunReference(f,
                                             {{"kind", "sgd"},
                                              {"lr", lr},
                                              {"weight_decay", wd},
                                              {"momentum", var.momentum},
                                              {"nesterov", var.nesterov}},
                                             dir.path());
    Sgd sgd(f.layout.total(), SgdConfig{var.momentum, var.nesterov, wd},
            DecaySegmentsFor(f.layout, DefaultDecayGroups()));
    std::vector<float> p = f.params;
    std::vector<Bounded> bp(p.size()), bbuf(p.size());
    for (size_t i = 0; i < p.size(); ++i) bp[i] = {f.params[i], 0};
    double worst = 0;
    for (size_t k = 0; k < f.grads.size(); ++k) {
      sgd.Step(p, f.grads[k], lr);
      for (const auto& t : f.layout.tensors()) {
        const bool decay = Decays(f, t.name);
        const std::vector<float> r = RefStep(ref, k, t.name);
        for (int64_t j = 0; j < t.size; ++j) {
          const int64_t i = t.offset + j;
          const Bounded g{f.grads[k][i], 0};
          Bounded d = decay ? Add(g, Scale(wd, bp[i])) : g;
          if (var.momentum > 0) {
            bbuf[i] = Add(Scale(var.momentum, bbuf[i]), d);
            d = var.nesterov ? Add(d, Scale(var.momentum, bbuf[i])) : bbuf[i];
          }
          bp[i] = Add(bp[i], Scale(-lr, d));
          const double bound = bp[i].e + ReferenceSlack(bp[i].v);
          const double err = std::abs(double(p[i]) - double(r[j]));
          worst = std::max(worst, err / bound);
          ASSERT_LE(err, bound) << t.name << "[" << j << "] step " << k + 1;
        }
      }
    }
    std::printf("  sgd momentum %.1f%s: worst error %.3f of its float32 bound\n", var.momentum,
                var.nesterov ? " nesterov" : "", worst);
  }
}

// Lion against its float64 rule, 3 steps. Where |c| is within c's own error bound the sign is
// uncertain and the step may differ by 2·lr; with these gradients only exact zeros (c = 0 on both
// sides) get there.
TEST(OptimParity, LionMatchesFloat64Rule) {
  const double lr = 3e-3, wd = 0.2, b1 = 0.9, b2 = 0.99;
  ScopedTempDir dir;
  const OptimFixture f = MakeOptimFixture(3);
  const SafetensorsFile ref = RunReference(
      f, {{"kind", "lion"}, {"lr", lr}, {"weight_decay", wd}, {"beta1", b1}, {"beta2", b2}},
      dir.path());
  Lion lion(f.layout.total(), LionConfig{b1, b2, wd},
            DecaySegmentsFor(f.layout, DefaultDecayGroups()));
  std::vector<float> p = f.params;
  std::vector<Bounded> bp(p.size()), bm(p.size());
  for (size_t i = 0; i < p.size(); ++i) bp[i] = {f.params[i], 0};
  double worst = 0;
  int uncertain = 0;
  for (size_t k = 0; k < f.grads.size(); ++k) {
    lion.Step(p, f.grads[k], lr);
    for (const auto& t : f.layout.tensors()) {
      const double keep = Decays(f, t.name) ? 1 - lr * wd : 1.0;
      const std::vector<float> r = RefStep(ref, k, t.name);
      for (int64_t j = 0; j < t.size; ++j) {
        const int64_t i = t.offset + j;
        const Bounded g{f.grads[k][i], 0};
        const Bounded c = Add(Scale(b1, bm[i]), Scale(1 - b1, g));
        const double sign = (c.v > 0) - (c.v < 0);
        const bool sure = std::abs(c.v) > c.e || (c.v == 0 && c.e == 0);
        uncertain += !sure;
        const Bounded step{-lr * sign, sure ? kU * lr * std::abs(sign) : 2 * lr};
        bp[i] = Add(Scale(keep, bp[i]), step);
        bm[i] = Add(Scale(b2, bm[i]), Scale(1 - b2, g));
        const double bound = bp[i].e + ReferenceSlack(bp[i].v);
        const double err = std::abs(double(p[i]) - double(r[j]));
        worst = std::max(worst, err / bound);
        ASSERT_LE(err, bound) << t.name << "[" << j << "] step " << k + 1;
      }
    }
  }
  std::printf("  lion: worst error %.3f of its float32 bound (%d signs within rounding of 0)\n",
              worst, uncertain);
}

// Muon's hidden matrices against the float64 rule (Moonshot's code with Jordan's Newton–Schulz), 2
// steps from a zero buffer (step 2 mixes g and the buffer: Nesterov). Per matrix and step, in
// Frobenius norm:
//   ‖δp_k‖ <= keep·‖δp_{k−1}‖ + lr·scale·B_O + 4u(‖p_{k−1}‖ + lr·scale·‖O‖) + ref rounding,
// B_O = NewtonSchulzErrorBound on the reference's iterations with the input error 2‖δU‖/‖U‖ + 2u,
// δU from the running error analysis of buf and U. (The AdamW tensors are bit-identical to AdamW:
// muon_test.cc.)
TEST(OptimParity, MuonMatricesMatchFloat64Rule) {
  const double lr = 0.02, wd = 0.1, mu = 0.95;
  const int ns_steps = 5;
  ScopedTempDir dir;
  const OptimFixture f = MakeOptimFixture(2);
  std::vector<std::string> matrices;
  for (const auto& t : f.layout.tensors())
    if (Muon::IsHiddenMatrix(t)) matrices.push_back(t.name);
  const SafetensorsFile ref = RunReference(f,
                                           {{"kind", "muon"},
                                            {"lr", lr},
                                            {"weight_decay", wd},
                                            {"muon_momentum", mu},
                                            {"ns_steps", ns_steps},
                                            {"beta1", 0.9},
                                            {"beta2", 0.95},
                                            {"eps", 1e-8},
                                            {"matrices", matrices}},
                                           dir.path());
  const MuonConfig config{mu, ns_steps, AdamWConfig{0.9, 0.95, 1e-8, wd}};
  Muon muon(f.layout, config, DecaySegmentsFor(f.layout, DefaultDecayGroups()));
  std::vector<float> p = f.params;
  std::vector<Bounded> bbuf(p.size());
  std::map<std::string, double> ep;  // ‖δp‖_F bound per matrix
  double worst = 0;
  for (size_t k = 0; k < f.grads.size(); ++k) {
    const std::vector<float> before = p;
    muon.Step(p, f.grads[k], lr);
    for (const auto& t : f.layout.tensors()) {
      if (!Muon::IsHiddenMatrix(t)) continue;
      const int rows = static_cast<int>(t.shape[0]), cols = static_cast<int>(t.shape[1]);
      const double keep = Decays(f, t.name) ? 1 - lr * wd : 1.0,
                   step = lr * Muon::UpdateScale(rows, cols);
      double du_sq = 0, u_sq = 0, p_sq = 0;
      for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
        const Bounded g{f.grads[k][i], 0};
        bbuf[i] = Add(Scale(mu, bbuf[i]), g);
        const Bounded u = Add(g, Scale(mu, bbuf[i]));
        du_sq += u.e * u.e;
        u_sq += u.v * u.v;
        p_sq += double(before[i]) * before[i];
      }
      const std::vector<float> norms = ToF32(ref.Get("ns." + std::to_string(k) + "." + t.name));
      ASSERT_EQ(norms.size(), size_t{11} * ns_steps);
      std::vector<NsIterationNorms> its(ns_steps);
      for (int s = 0; s < ns_steps; ++s) {
        const float* n = norms.data() + 11 * s;
        its[s] = {n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10]};
      }
      const double input_error = 2 * std::sqrt(du_sq / u_sq) + 2 * kU;
      const double b_o = NewtonSchulzErrorBound(its, rows, cols, input_error);
      const double o_norm = its.back().x_next;
      double& e = ep[t.name];
      e = keep * e + step * b_o + 4 * kU * (std::sqrt(p_sq) + step * o_norm);
      const std::vector<float> r = RefStep(ref, k, t.name);
      double diff_sq = 0, ref_sq = 0;
      for (int64_t j = 0; j < t.size; ++j) {
        diff_sq += std::pow(double(p[t.offset + j]) - r[j], 2);
        ref_sq += double(r[j]) * r[j];
      }
      const double bound = e + (kU + 1e-14) * std::sqrt(ref_sq);
      const double err = std::sqrt(diff_sq);
      worst = std::max(worst, err / bound);
      EXPECT_LE(err, bound) << t.name << " step " << k + 1;
      // The bound is small next to the update itself, so the comparison can fail: a wrong scale,
      // quintic, step count or momentum rule moves the update by far more than 5% (5 vs 4
      // Newton–Schulz steps alone moves each singular value of O by ~30%).
      EXPECT_LT(bound, 0.05 * step * o_norm) << t.name;
    }
  }
  std::printf("  muon matrices: worst ||p - p_ref||_F %.3g of its derived float32 bound\n", worst);
}

}  // namespace
}  // namespace ot
