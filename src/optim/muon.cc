// Muon's step and the Newton-Schulz iteration (see muon.h for the update written out and its
// sources).
#include "optim/muon.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "optim/adamw_update.h"

namespace ot {

int64_t NewtonSchulzScratchSize(int rows, int cols) {
  const int64_t r = std::min(rows, cols), c = std::max(rows, cols);
  return 2 * r * c + 2 * r * r;  // X, X_next (r, c); A, B (r, r)
}

void NewtonSchulz5(float* out, const float* g, int rows, int cols, int steps, float* scratch) {
  const bool transpose = rows > cols;  // iterate on the wide orientation: A = XXᵀ is the small Gram
  const int r = transpose ? cols : rows, c = transpose ? rows : cols;
  const int64_t n = static_cast<int64_t>(r) * c;
  float* X = scratch;             // (r, c)
  float* X_next = X + n;          // (r, c)
  float* A = X_next + n;          // (r, r)
  float* B = A + int64_t{r} * r;  // (r, r)
  double sq = 0;                  // fixed order: the same bits at any thread count
  for (int64_t i = 0; i < n; ++i) sq += static_cast<double>(g[i]) * g[i];
  const float inv = static_cast<float>(1.0 / (std::sqrt(sq) + 1e-7));  // Jordan's X / (‖X‖ + 1e-7)
  if (transpose) {
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) X[int64_t{j} * c + i] = g[int64_t{i} * cols + j] * inv;
  } else {
    for (int64_t i = 0; i < n; ++i) X[i] = g[i] * inv;
  }
  for (int s = 0; s < steps; ++s) {
    // A = X Xᵀ (r, r)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r, r, c, 1.0f, X, c, X, c, 0.0f, A, r);
    // B = b·A + c·A·A (r, r)
    std::copy(A, A + int64_t{r} * r, B);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, r, r, kNewtonSchulzC, A, r, A, r,
                kNewtonSchulzB, B, r);
    // X_next = a·X + B·X (r, c)
    std::copy(X, X + n, X_next);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, c, r, 1.0f, B, r, X, c,
                kNewtonSchulzA, X_next, c);
    std::swap(X, X_next);
  }
  if (transpose) {
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) out[int64_t{i} * cols + j] = X[int64_t{j} * c + i];
  } else {
    std::copy(X, X + n, out);
  }
}

bool Muon::IsHiddenMatrix(const TensorInfo& t) {
  return t.shape.size() == 2 && (t.group == ParamGroup::kAttn || t.group == ParamGroup::kMlp);
}

double Muon::UpdateScale(int rows, int cols) {
  return 0.2 * std::sqrt(static_cast<double>(std::max(rows, cols)));
}

Muon::Muon(const ParamLayout& layout, const MuonConfig& config, std::vector<DecaySegment> segments)
    : config_(config), total_(layout.total()) {
  OT_CHECK(config.momentum >= 0 && config.momentum < 1) << "muon momentum = " << config.momentum;
  OT_CHECK(config.ns_steps >= 1) << "muon ns_steps = " << config.ns_steps;
  const std::vector<DecaySegment> covered = CoverSegments(total_, std::move(segments));
  for (const auto& t : layout.tensors()) {
    if (!IsHiddenMatrix(t)) continue;
    const auto seg = std::find_if(covered.begin(), covered.end(), [&](const DecaySegment& s) {
      return s.offset <= t.offset && t.offset < s.offset + s.size;
    });
    OT_CHECK(seg != covered.end() && t.offset + t.size <= seg->offset + seg->size)
        << "a decay segment boundary cuts the matrix " << t.name;
    matrices_.push_back(
        {t.offset, static_cast<int>(t.shape[0]), static_cast<int>(t.shape[1]), seg->decay});
    scratch_size_ = std::max(
        scratch_size_,
        2 * t.size + NewtonSchulzScratchSize(matrices_.back().rows, matrices_.back().cols));
  }
  std::sort(matrices_.begin(), matrices_.end(),
            [](const Matrix& a, const Matrix& b) { return a.offset < b.offset; });
  // The AdamW part: every covered segment with the matrices cut out.
  size_t k = 0;
  for (const auto& s : covered) {
    int64_t pos = s.offset;
    const int64_t end = s.offset + s.size;
    for (; k < matrices_.size() && matrices_[k].offset < end; ++k) {
      if (matrices_[k].offset > pos)
        adam_segments_.push_back({pos, matrices_[k].offset - pos, s.decay});
      pos = matrices_[k].offset + int64_t{matrices_[k].rows} * matrices_[k].cols;
    }
    if (pos < end) adam_segments_.push_back({pos, end - pos, s.decay});
  }
  buf_.assign(total_, 0.0f);
  m_.assign(total_, 0.0f);
  v_.assign(total_, 0.0f);
}

void Muon::Step(std::span<float> params, std::span<const float> grads, double lr) {
  OT_CHECK(static_cast<int64_t>(params.size()) == total_ &&
           static_cast<int64_t>(grads.size()) == total_)
      << "arena sizes: params " << params.size() << ", grads " << grads.size() << ", state "
      << total_;
  ++step_count_;
  float* p = params.data();
  const float* g = grads.data();
  const AdamWScalars adam = AdamWScalars::For(config_.adamw, lr, step_count_);
  for (const auto& seg : adam_segments_)
    AdamWUpdateRange(adam, seg.decay, seg.offset, seg.offset + seg.size, p, g, m_.data(),
                     v_.data());

  const size_t threads = static_cast<size_t>(omp_get_max_threads());
  if (scratch_.size() < threads) scratch_.resize(threads);  // once per thread count, then reused
  const float mu = static_cast<float>(config_.momentum);
  const float decay_factor = static_cast<float>(1.0 - lr * config_.adamw.weight_decay);
  const int64_t count = static_cast<int64_t>(matrices_.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t k = 0; k < count; ++k) {
    std::vector<float>& ws = scratch_[omp_get_thread_num()];
    if (static_cast<int64_t>(ws.size()) < scratch_size_) ws.resize(scratch_size_);
    const Matrix& mat = matrices_[k];
    const int64_t n = int64_t{mat.rows} * mat.cols;
    float* u = ws.data();  // (rows, cols) Nesterov direction
    float* o = u + n;      // (rows, cols) its orthogonalisation
    float* buf = buf_.data() + mat.offset;
    const float* gk = g + mat.offset;
    for (int64_t i = 0; i < n; ++i) {
      buf[i] = mu * buf[i] + gk[i];
      u[i] = gk[i] + mu * buf[i];
    }
    NewtonSchulz5(o, u, mat.rows, mat.cols, config_.ns_steps, o + n);
    const float keep = mat.decay ? decay_factor : 1.0f;
    const float step = static_cast<float>(lr * UpdateScale(mat.rows, mat.cols));
    float* pk = p + mat.offset;
    for (int64_t i = 0; i < n; ++i) pk[i] = pk[i] * keep - step * o[i];
  }
}

std::vector<OptimizerState> Muon::State() {
  return {{"momentum_buffer", std::span<float>(buf_)},
          {"exp_avg", std::span<float>(m_)},
          {"exp_avg_sq", std::span<float>(v_)}};
}

void Muon::Reset() {
  std::fill(buf_.begin(), buf_.end(), 0.0f);
  std::fill(m_.begin(), m_.end(), 0.0f);
  std::fill(v_.begin(), v_.end(), 0.0f);
  step_count_ = 0;
}

}  // namespace ot
