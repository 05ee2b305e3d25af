// The linear probe (docs/science.md §9): multinomial logistic regression on frozen features, the
// usual downstream metric of a vision foundation model, and the retention measure of a contrastive
// (SigLIP) backbone after fine-tuning. Features are standardised with the fit set's mean and
// standard deviation; the weights minimise mean cross-entropy + (l2/2)·‖W‖² by Nesterov-accelerated
// gradient descent at step 1/L, where L = ½·λmax(X̃ᵀX̃/N) + l2 bounds the curvature (X̃ the
// standardised features with a column of ones; softmax's Hessian is at most ½ in every direction).
// Double precision, fixed iteration count and summation order: the same bits at any thread count.
// Entry points: LinearProbe, FitLinearProbe, ScoreLinearProbe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ot {

struct LinearProbe {
  int dim = 0, classes = 0;
  std::vector<double> mean, inv_std;  // (dim) the fit set's standardisation
  std::vector<double> weights;        // (classes, dim + 1): the last column is the bias
  double fit_loss = 0;                // mean cross-entropy on the fit set at the end
};

struct ProbeOptions {
  double l2 = 1e-3;
  int iterations = 300;
};

// Fits on n = labels.size() feature rows (n × dim, row-major), labels in [0, classes). Throws Error
// in one sentence for an empty set, a size mismatch or a label outside the classes.
LinearProbe FitLinearProbe(std::span<const float> features, std::span<const int32_t> labels,
                           int dim, int classes, const ProbeOptions& options = {});

struct ProbeScore {
  double loss = 0;      // mean cross-entropy (nats)
  double accuracy = 0;  // largest logit is the label (ties: the lowest class)
};

ProbeScore ScoreLinearProbe(const LinearProbe& probe, std::span<const float> features,
                            std::span<const int32_t> labels);

}  // namespace ot
