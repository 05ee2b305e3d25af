// FitLinearProbe, ScoreLinearProbe (see linear_probe.h).
#include "analysis/linear_probe.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "core/check.h"

namespace ot {
namespace {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void CheckSet(std::span<const float> features, std::span<const int32_t> labels, int dim,
              int classes) {
  if (labels.empty()) throw Error("linear probe: no feature rows to fit or score");
  if (dim <= 0 || classes < 2 || features.size() != labels.size() * static_cast<size_t>(dim))
    throw Error(fmt::format(
        "linear probe: {} features do not make {} rows of dim {} (and classes {} must be >= 2)",
        features.size(), labels.size(), dim, classes));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= classes)
      throw Error(fmt::format("linear probe: label {} of row {} is outside the classes [0, {})",
                              labels[i], i, classes));
}

// The standardised features with a trailing column of ones: (n, dim + 1).
Mat Design(const LinearProbe& p, std::span<const float> features, size_t n) {
  Mat x(n, p.dim + 1);
  for (size_t i = 0; i < n; ++i) {
    for (int j = 0; j < p.dim; ++j) x(i, j) = (features[i * p.dim + j] - p.mean[j]) * p.inv_std[j];
    x(i, p.dim) = 1.0;
  }
  return x;
}

// Softmax probabilities of logits (n, K) in place; returns the mean cross-entropy.
double SoftmaxInPlace(Mat& z, std::span<const int32_t> labels) {
  double loss = 0;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    const double top = z.row(i).maxCoeff();
    double sum = 0;
    for (Eigen::Index k = 0; k < z.cols(); ++k) sum += std::exp(z(i, k) - top);
    loss += top + std::log(sum) - z(i, labels[i]);
    for (Eigen::Index k = 0; k < z.cols(); ++k) z(i, k) = std::exp(z(i, k) - top) / sum;
  }
  return loss / z.rows();
}

}  // namespace

LinearProbe FitLinearProbe(std::span<const float> features, std::span<const int32_t> labels,
                           int dim, int classes, const ProbeOptions& options) {
  CheckSet(features, labels, dim, classes);
  OT_CHECK(options.l2 > 0 && options.iterations >= 1) << "probe options";
  const size_t n = labels.size();
  LinearProbe p{dim, classes, std::vector<double>(dim, 0.0), std::vector<double>(dim, 1.0), {}, 0};
  for (int j = 0; j < dim; ++j) {
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; ++i) s += features[i * dim + j];
    p.mean[j] = s / n;
    for (size_t i = 0; i < n; ++i) s2 += std::pow(features[i * dim + j] - p.mean[j], 2);
    const double sd = std::sqrt(s2 / n);
    p.inv_std[j] = sd > 1e-12 ? 1.0 / sd : 1.0;  // a constant feature stays 0 after centring
  }
  const Mat x = Design(p, features, n);
  const Mat gram = x.transpose() * x / static_cast<double>(n);
  const double curvature = 0.5 * Eigen::SelfAdjointEigenSolver<Mat>(gram).eigenvalues().maxCoeff();
  const double step = 1.0 / (curvature + options.l2);
  Mat y = Mat::Zero(n, classes);
  for (size_t i = 0; i < n; ++i) y(i, labels[i]) = 1.0;
  Mat w = Mat::Zero(classes, dim + 1), prev = w, look = w;
  for (int it = 0; it < options.iterations; ++it) {
    Mat z = x * look.transpose();
    SoftmaxInPlace(z, labels);
    Mat grad = (z - y).transpose() * x / static_cast<double>(n);
    grad.leftCols(dim) += options.l2 * look.leftCols(dim);  // the bias is not decayed
    prev.swap(w);
    w = look - step * grad;
    look = w + (static_cast<double>(it) / (it + 3)) * (w - prev);
  }
  p.weights.assign(w.data(), w.data() + w.size());
  Mat z = x * w.transpose();
  p.fit_loss = SoftmaxInPlace(z, labels);
  return p;
}

ProbeScore ScoreLinearProbe(const LinearProbe& probe, std::span<const float> features,
                            std::span<const int32_t> labels) {
  CheckSet(features, labels, probe.dim, probe.classes);
  const Mat x = Design(probe, features, labels.size());
  const Eigen::Map<const Mat> w(probe.weights.data(), probe.classes, probe.dim + 1);
  Mat z = x * w.transpose();
  ProbeScore s;
  for (Eigen::Index i = 0; i < z.rows(); ++i) {
    Eigen::Index best = 0;
    for (Eigen::Index k = 1; k < z.cols(); ++k)
      if (z(i, k) > z(i, best)) best = k;
    s.accuracy += best == labels[i];
  }
  s.accuracy /= static_cast<double>(labels.size());
  s.loss = SoftmaxInPlace(z, labels);
  return s;
}

}  // namespace ot
