// The GEMM shapes of one training step and their timing with cblas_sgemm (see gemm_ceiling.h).
#include "bench/gemm_ceiling.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "core/check.h"

namespace ot {

namespace {

// Y(N,out) = X(N,in) W^T; dX(N,in) = dY W; dW(out,in) += dY^T X.
void AddLinear(std::vector<GemmShape>& out, const std::string& what, int64_t rows, int64_t n_out,
               int64_t n_in, int64_t count) {
  out.push_back({what + " fwd", false, true, rows, n_out, n_in, count});
  out.push_back({what + " dX", false, false, rows, n_in, n_out, count});
  out.push_back({what + " dW", true, false, n_out, n_in, rows, count, 1.0f});
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::vector<GemmShape> StepGemms(const ModelConfig& config, int B, int T) {
  const int64_t N = int64_t{B} * T, C = config.d_model, F = config.ff_dim(), V = config.vocab_size;
  const int64_t L = config.n_layers, HS = config.head_size(), BH = int64_t{B} * config.n_heads;
  std::vector<GemmShape> out;
  AddLinear(out, "qkv", N, 3 * C, C, L);
  AddLinear(out, "attn.o", N, C, C, L);
  AddLinear(out, "gate|up", N, 2 * F, C, L);
  AddLinear(out, "down", N, C, F, L);
  AddLinear(out, "head", N, V, C, 1);
  // Per (batch, head): scores S(T,T) = Q K^T, output O(T,HS) = P V; backward dP = dO V^T, dV = P^T dO,
  // dQ = dS K, dK = dS^T Q. Full T x T products (the causal mask zeroes the upper triangle).
  out.push_back({"attn QK^T fwd", false, true, T, T, HS, L * BH});
  out.push_back({"attn PV fwd", false, false, T, HS, T, L * BH});
  out.push_back({"attn dP", false, true, T, T, HS, L * BH});
  out.push_back({"attn dV", true, false, T, HS, T, L * BH});
  out.push_back({"attn dQ", false, false, T, HS, T, L * BH});
  out.push_back({"attn dK", true, false, T, HS, T, L * BH});
  return out;
}

double GemmFlops(const std::vector<GemmShape>& shapes) {
  double total = 0;
  for (const auto& s : shapes) total += s.Flops();
  return total;
}

void GemmTimer::Reserve(int64_t a, int64_t b, int64_t c) {
  // Values in [-0.5, 0.5): products stay far from overflow and denormals.
  auto fill = [](std::vector<float>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) >= n) return;
    const int64_t old = static_cast<int64_t>(v.size());
    v.resize(n);
    for (int64_t i = old; i < n; ++i) v[i] = static_cast<float>((i * 7919 % 1000) / 1000.0 - 0.5);
  };
  fill(a_, a);
  fill(b_, b);
  fill(c_, c);
}

std::vector<double> GemmTimer::TimeStep(const std::vector<GemmShape>& shapes, int reps) {
  OT_CHECK(reps >= 1) << "reps = " << reps;
  for (const auto& s : shapes) Reserve(s.m * s.k, s.k * s.n, s.m * s.n);
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& s : shapes) {
      const int lda = static_cast<int>(s.trans_a ? s.m : s.k);
      const int ldb = static_cast<int>(s.trans_b ? s.k : s.n);
      for (int64_t c = 0; c < s.count; ++c)
        cblas_sgemm(CblasRowMajor, s.trans_a ? CblasTrans : CblasNoTrans,
                    s.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                    static_cast<int>(s.k), 1.0f, a_.data(), lda, b_.data(), ldb, s.beta, c_.data(),
                    static_cast<int>(s.n));
    }
    times.push_back(Seconds(t0, std::chrono::steady_clock::now()));
  }
  return times;
}

double GemmTimer::SgemmPeak(int n, int reps) {
  Reserve(int64_t{n} * n, int64_t{n} * n, int64_t{n} * n);
  double best = 1e30;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a_.data(), n, b_.data(), n, 0.0f,
                c_.data(), n);
    const double t = Seconds(t0, std::chrono::steady_clock::now());
    if (r > 0) best = std::min(best, t);  // r == 0 warms up
  }
  return 2.0 * n * n * n / best * 1e-9;
}

}  // namespace ot
