// The optimizers over flat device tensors (see torch_optim.h; the rules are optim/*.h's).
#include "engine_torch/torch_optim.h"

#include <cmath>

#include "core/check.h"
#include "optim/muon.h"
#include "optim/param_groups.h"

namespace ot::torch_engine {
namespace {

struct Range {
  int64_t offset = 0, size = 0;
};

// The decayed part of the arena as few contiguous ranges (adjacent decayed tensors merged).
std::vector<Range> DecayRanges(const std::vector<DecaySegment>& segments) {
  std::vector<Range> out;
  for (const auto& s : segments) {
    if (!s.decay || s.size == 0) continue;
    if (!out.empty() && out.back().offset + out.back().size == s.offset)
      out.back().size += s.size;
    else
      out.push_back({s.offset, s.size});
  }
  return out;
}

at::Tensor Zeros(int64_t n, at::Device device) {
  return at::zeros({n}, at::TensorOptions().dtype(at::kFloat).device(device));
}

// AdamW on [offset, offset+size) of the flat tensors (shared by AdamW and Muon's AdamW part).
struct AdamWPart {
  double beta1, beta2, eps, weight_decay;
  void Apply(const at::Tensor& p, const at::Tensor& g, const at::Tensor& m, const at::Tensor& v,
             double lr, int64_t t, bool decay) const {
    const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(t));
    const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(t));
    const float step_size = static_cast<float>(lr / bc1);
    const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
    const float keep = static_cast<float>(1.0 - lr * weight_decay);
    m.mul_(static_cast<float>(beta1)).add_(g, static_cast<float>(1.0 - beta1));
    v.mul_(static_cast<float>(beta2)).addcmul_(g, g, static_cast<float>(1.0 - beta2));
    const at::Tensor denom = v.sqrt().mul_(inv_sqrt_bc2).add_(static_cast<float>(eps));
    if (decay) p.mul_(keep);
    p.addcdiv_(m, denom, -step_size);
  }
};

class TorchAdamW final : public TorchOptimizer {
 public:
  TorchAdamW(const OptimConfig& c, std::vector<DecaySegment> segments, int64_t total,
             at::Device device)
      : adam_{c.beta1, c.beta2, c.eps, c.weight_decay},
        segments_(std::move(segments)),
        m_(Zeros(total, device)),
        v_(Zeros(total, device)) {}
  std::string Name() const override { return "adamw"; }
  void Step(const at::Tensor& theta, const at::Tensor& grad, double lr) override {
    ++steps;
    // Segment by segment only where decay differs: merged runs of equal decay.
    int64_t pos = 0;
    while (pos < static_cast<int64_t>(segments_.size())) {
      int64_t end = pos;
      int64_t size = 0;
      while (end < static_cast<int64_t>(segments_.size()) &&
             segments_[end].decay == segments_[pos].decay)
        size += segments_[end++].size;
      const int64_t off = segments_[pos].offset;
      if (size > 0)
        adam_.Apply(theta.narrow(0, off, size), grad.narrow(0, off, size), m_.narrow(0, off, size),
                    v_.narrow(0, off, size), lr, steps, segments_[pos].decay);
      pos = end;
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> State() override {
    return {{"exp_avg", m_}, {"exp_avg_sq", v_}};
  }

 private:
  AdamWPart adam_;
  std::vector<DecaySegment> segments_;  // covering [0, total), sorted
  at::Tensor m_, v_;
};

class TorchSgd final : public TorchOptimizer {
 public:
  TorchSgd(const OptimConfig& c, const std::vector<DecaySegment>& segments, int64_t total,
           at::Device device)
      : momentum_(c.momentum),
        weight_decay_(c.weight_decay),
        nesterov_(c.nesterov),
        decay_(DecayRanges(segments)) {
    if (momentum_ > 0) buf_ = Zeros(total, device);
  }
  std::string Name() const override { return "sgd"; }
  void Step(const at::Tensor& theta, const at::Tensor& grad, double lr) override {
    ++steps;
    const float mu = static_cast<float>(momentum_), wd = static_cast<float>(weight_decay_);
    at::Tensor d = grad.clone();  // d = g + wd·p on decay tensors (coupled L2, torch.optim.SGD)
    if (weight_decay_ != 0)
      for (const Range& r : decay_)
        d.narrow(0, r.offset, r.size).add_(theta.narrow(0, r.offset, r.size), wd);
    if (buf_.defined()) {
      buf_.mul_(mu).add_(d);
      d = nesterov_ ? d.add(buf_, mu) : buf_;
    }
    theta.add_(d, static_cast<float>(-lr));
  }
  std::vector<std::pair<std::string, at::Tensor>> State() override {
    if (!buf_.defined()) return {};
    return {{"momentum_buffer", buf_}};
  }

 private:
  double momentum_, weight_decay_;
  bool nesterov_;
  std::vector<Range> decay_;
  at::Tensor buf_;
};

class TorchLion final : public TorchOptimizer {
 public:
  TorchLion(const OptimConfig& c, const std::vector<DecaySegment>& segments, int64_t total,
            at::Device device)
      : beta1_(c.beta1),
        beta2_(c.beta2),
        weight_decay_(c.weight_decay),
        decay_(DecayRanges(segments)),
        m_(Zeros(total, device)) {}
  std::string Name() const override { return "lion"; }
  void Step(const at::Tensor& theta, const at::Tensor& grad, double lr) override {
    ++steps;
    const at::Tensor c =
        (m_ * static_cast<float>(beta1_)).add_(grad, static_cast<float>(1.0 - beta1_));
    const float keep = static_cast<float>(1.0 - lr * weight_decay_);
    for (const Range& r : decay_) theta.narrow(0, r.offset, r.size).mul_(keep);
    theta.add_(c.sign(), static_cast<float>(-lr));
    m_.mul_(static_cast<float>(beta2_)).add_(grad, static_cast<float>(1.0 - beta2_));
  }
  std::vector<std::pair<std::string, at::Tensor>> State() override { return {{"exp_avg", m_}}; }

 private:
  double beta1_, beta2_, weight_decay_;
  std::vector<Range> decay_;
  at::Tensor m_;
};

// Jordan's NewtonSchulz5 (optim/muon.h) on a device matrix, fp32.
at::Tensor NewtonSchulz5(const at::Tensor& g, int steps) {
  const bool transpose = g.size(0) > g.size(1);  // iterate on the wide orientation
  at::Tensor X = g / (g.norm() + 1e-7);
  if (transpose) X = X.t();
  for (int s = 0; s < steps; ++s) {
    const at::Tensor A = at::matmul(X, X.t());
    const at::Tensor B = kNewtonSchulzC * at::matmul(A, A) + kNewtonSchulzB * A;
    X = kNewtonSchulzA * X + at::matmul(B, X);
  }
  return transpose ? X.t().contiguous() : X;
}

class TorchMuon final : public TorchOptimizer {
 public:
  TorchMuon(const OptimConfig& c, const ParamLayout& layout,
            const std::vector<DecaySegment>& segments, at::Device device)
      : adam_{c.beta1, c.beta2, c.eps, c.weight_decay},
        momentum_(c.muon_momentum),
        ns_steps_(c.muon_ns_steps),
        weight_decay_(c.weight_decay),
        buf_(Zeros(layout.total(), device)),
        m_(Zeros(layout.total(), device)),
        v_(Zeros(layout.total(), device)) {
    const auto decayed = [&](int64_t offset) {
      for (const auto& s : segments)
        if (s.offset <= offset && offset < s.offset + s.size) return s.decay;
      return false;
    };
    for (const auto& t : layout.tensors()) {
      if (Muon::IsHiddenMatrix(t))
        matrices_.push_back({t.offset, t.shape[0], t.shape[1], decayed(t.offset)});
      else
        adam_tensors_.push_back({t.offset, t.size, decayed(t.offset)});
    }
  }
  std::string Name() const override { return "muon"; }
  void Step(const at::Tensor& theta, const at::Tensor& grad, double lr) override {
    ++steps;
    for (const auto& a : adam_tensors_)
      adam_.Apply(theta.narrow(0, a.offset, a.size), grad.narrow(0, a.offset, a.size),
                  m_.narrow(0, a.offset, a.size), v_.narrow(0, a.offset, a.size), lr, steps,
                  a.decay);
    const float mu = static_cast<float>(momentum_);
    const float keep = static_cast<float>(1.0 - lr * weight_decay_);
    for (const auto& mat : matrices_) {
      const int64_t n = mat.rows * mat.cols;
      const at::Tensor G = grad.narrow(0, mat.offset, n).view({mat.rows, mat.cols});
      const at::Tensor buf = buf_.narrow(0, mat.offset, n).view({mat.rows, mat.cols});
      buf.mul_(mu).add_(G);
      const at::Tensor O = NewtonSchulz5(G.add(buf, mu), ns_steps_);
      const at::Tensor p = theta.narrow(0, mat.offset, n).view({mat.rows, mat.cols});
      if (mat.decay) p.mul_(keep);
      p.add_(O, -static_cast<float>(lr * Muon::UpdateScale(static_cast<int>(mat.rows),
                                                           static_cast<int>(mat.cols))));
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> State() override {
    return {{"momentum_buffer", buf_}, {"exp_avg", m_}, {"exp_avg_sq", v_}};
  }

 private:
  struct Matrix {
    int64_t offset, rows, cols;
    bool decay;
  };
  struct AdamTensor {
    int64_t offset, size;
    bool decay;
  };
  AdamWPart adam_;
  double momentum_;
  int ns_steps_;
  double weight_decay_;
  std::vector<Matrix> matrices_;
  std::vector<AdamTensor> adam_tensors_;
  at::Tensor buf_, m_, v_;
};

}  // namespace

std::unique_ptr<TorchOptimizer> MakeTorchOptimizer(const OptimConfig& c, const ParamLayout& layout,
                                                   at::Device device) {
  std::vector<DecaySegment> segments =
      CoverSegments(layout.total(), DecaySegmentsFor(layout, c.decay_groups));
  if (c.kind == "adamw")
    return std::make_unique<TorchAdamW>(c, std::move(segments), layout.total(), device);
  if (c.kind == "sgd") return std::make_unique<TorchSgd>(c, segments, layout.total(), device);
  if (c.kind == "lion") return std::make_unique<TorchLion>(c, segments, layout.total(), device);
  OT_CHECK(c.kind == "muon") << "optimizer kind " << c.kind << " (the schema admits only four)";
  return std::make_unique<TorchMuon>(c, layout, segments, device);
}

}  // namespace ot::torch_engine
