// Decay masks from the layout: norm gains excluded by default, groups configurable, typos rejected.
#include "optim/param_groups.h"

#include <gtest/gtest.h>

#include "core/check.h"

namespace ot {
namespace {

TEST(ParamGroups, DefaultDecaysEverythingButNorms) {
  ModelConfig c = ModelConfig::Nano();
  c.tied_head = false;
  const ParamLayout layout = ParamLayout::ForModel(c);
  const auto segments = DecaySegmentsFor(layout, DefaultDecayGroups());
  ASSERT_EQ(segments.size(), layout.tensors().size());
  int norms = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const auto& t = layout.tensors()[i];
    EXPECT_EQ(segments[i].offset, t.offset);
    EXPECT_EQ(segments[i].size, t.size);
    EXPECT_EQ(segments[i].decay, t.group != ParamGroup::kNorm) << t.name;
    norms += t.group == ParamGroup::kNorm;
  }
  EXPECT_GT(norms, 0);  // RMSNorm gains exist in nano, so the mask is really exercised
}

TEST(ParamGroups, ConfigurableAndValidated) {
  const ParamLayout layout = ParamLayout::ForModel(ModelConfig::Nano());
  int64_t decayed = 0;
  for (const auto& s : DecaySegmentsFor(layout, {"mlp"})) decayed += s.decay ? s.size : 0;
  int64_t mlp = 0;
  ForEachTensor(layout,
                [&](const TensorInfo& t) { mlp += t.group == ParamGroup::kMlp ? t.size : 0; });
  EXPECT_EQ(decayed, mlp);
  EXPECT_THROW(DecaySegmentsFor(layout, {"attention"}), Error);
}

}  // namespace
}  // namespace ot
