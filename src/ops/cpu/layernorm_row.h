// One row of the LayerNorm input gradient, shared by LayerNormBackward (kernels.cc) and
// LayerNormAffineBackward (arch_kernels.cc). Internal to ops/cpu. Entry point:
// LayerNormBackwardRow.
#pragma once

namespace ot::cpu {

// d (C) += the LayerNorm input gradient of one row x (C) with mean m and rstd r, given the gradient
// of its normalised output dxhat (C): dout * gain when kGain, else dout itself (gain unused, may be
// null). kGain is a template switch so that the non-parametric row compiles without the
// multiplication and keeps its bits: dxhat = dout exactly, no rounding step added.
template <bool kGain>
inline void LayerNormBackwardRow(float* d, const float* dout, const float* gain, const float* x,
                                 float m, float r, int C) {
  float mdy = 0, mdyx = 0;
#pragma omp simd reduction(+ : mdy, mdyx)
  for (int c = 0; c < C; ++c) {
    const float g = kGain ? dout[c] * gain[c] : dout[c];
    mdy += g;
    mdyx += g * (x[c] - m);
  }
  mdy /= C;
  mdyx *= r / C;
  for (int c = 0; c < C; ++c) {
    const float g = kGain ? dout[c] * gain[c] : dout[c];
    d[c] += r * (g - mdy - (x[c] - m) * r * mdyx);
  }
}

}  // namespace ot::cpu
