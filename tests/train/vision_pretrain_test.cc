// Vision pre-training to a budget of images (train/vision_pretrain.h): a run is a pure function of
// its options (same bits twice, other bits for another seed), its checkpoint loads back bit for
// bit, the loss falls under either objective, and a head that does not match the objective is
// refused in one sentence.
#include "train/vision_pretrain.h"

#include <gtest/gtest.h>

#include "common/test_util.h"
#include "common/vision_synth.h"

namespace ot {
namespace {

VisionPretrainOptions PretrainOptions(const std::string& objective, const data::VisionDataset& d) {
  VisionPretrainOptions o;
  o.model = testing::TinyVit(objective == "siglip" ? "projection" : "classes");
  o.objective = objective;
  o.batch = 16;
  o.budget_images = 1600;
  o.seed = 7;
  o.augment = {.pad = 1};
  o.norm = data::PixelStats(d);
  return o;
}

TEST(VisionPretrain, IsAPureFunctionOfItsOptionsAndItsCheckpointLoadsBackBitForBit) {
  const data::VisionDataset d = testing::SynthBands("bands", 200, 8, 4, false, 1);
  for (const char* objective : {"supervised", "siglip"}) {
    SCOPED_TRACE(objective);
    VisionPretrainOptions o = PretrainOptions(objective, d);
    const VisionPretrainResult a = PretrainVision(o, d), b = PretrainVision(o, d);
    EXPECT_EQ(a.params, b.params);
    EXPECT_EQ(a.steps, 100);
    EXPECT_EQ(a.images, 1600);
    EXPECT_DOUBLE_EQ(a.epochs, 8.0);
    o.seed = 8;
    EXPECT_NE(PretrainVision(o, d).params, a.params);

    const auto dir = testing::TempDir(std::string("vision_ckpt_") + objective);
    SaveVisionCheckpoint(dir / "ck", o.model, a.params, {{"images", a.images}});
    EXPECT_EQ(LoadVisionParams(dir / "ck", o.model), a.params);
    std::filesystem::remove_all(dir);
  }
}

TEST(VisionPretrain, TheObjectiveFallsUnderEitherObjective) {
  const data::VisionDataset d = testing::SynthBands("bands", 200, 8, 4, false, 1);
  for (const char* objective : {"supervised", "siglip"}) {
    SCOPED_TRACE(objective);
    VisionPretrainOptions o = PretrainOptions(objective, d);
    o.budget_images = 16;  // one step: the loss at init
    const double first = PretrainVision(o, d).last_loss;
    o.budget_images = 3200;
    const VisionPretrainResult r = PretrainVision(o, d);
    EXPECT_LT(r.mean_loss, 0.5 * first) << "first " << first;
  }
}

TEST(VisionPretrain, RefusesAHeadThatDoesNotMatchTheObjective) {
  const data::VisionDataset d = testing::SynthBands("bands", 64, 8, 4, false, 1);
  VisionPretrainOptions o = PretrainOptions("siglip", d);
  o.model.head = "classes";
  EXPECT_EQ(testing::ErrorOf([&] { PretrainVision(o, d); }),
            "pretrain.objective = siglip needs model.input = patches and model.head = projection");
  o.objective = "mae";
  EXPECT_EQ(testing::ErrorOf([&] { PretrainVision(o, d); }),
            "pretrain.objective = 'mae': expected supervised or siglip");
}

}  // namespace
}  // namespace ot
