// InitParams (see init.h).
#include "model/init.h"

#include "core/check.h"
#include "core/rng.h"

namespace ot {

void InitParams(const ParamLayout& layout, std::span<float> params, uint64_t seed) {
  OT_CHECK(static_cast<int64_t>(params.size()) == layout.total())
      << "params has " << params.size() << " floats, layout needs " << layout.total();
  const uint64_t stream = StreamId("init");
  const auto& tensors = layout.tensors();
  for (size_t k = 0; k < tensors.size(); ++k) {
    const TensorInfo& t = tensors[k];
    std::span<float> view = params.subspan(t.offset, t.size);
    if (t.init_std == 0) {
      for (float& x : view) x = t.init_const;
    } else {
      FillNormal(view, RngKey(seed, stream, k), 0, 0.0f, t.init_std, 3.0f);
    }
  }
}

}  // namespace ot
