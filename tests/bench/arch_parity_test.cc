// Parity of the imported Hugging Face architectures (issue 13) with reference/reference.py, whose
// torch modules mirror transformers' llama, olmo, olmo2 and gpt_neox modeling files: per family,
// loss, every gradient and one AdamW step against torch in float64, for the double ReferenceDecoder
// and the fast Decoder, with parity_test.cc's derived tolerances (harness: parity_harness.h).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "bench/parity_harness.h"

namespace ot {
namespace {

using namespace parity;

struct Arch {
  std::string name, family;  // family: the module reference.py must pick for these switches
  ModelConfig config;
};

void PrintTo(const Arch& arch, std::ostream* os) { *os << arch.name; }  // gtest's failure lines

// Small models with every switch of each family on, at parity_test.cc's SmallConfig sizes (V 211, d
// 32, L 2, T 24, init_std 0.2 so logits are far from uniform and every gradient is sizeable).
std::vector<Arch> Archs() {
  ModelConfig base;
  base.vocab_size = 211;
  base.d_model = 32;
  base.n_layers = 2;
  base.n_heads = 4;
  base.max_seq_len = 24;
  base.init_std = 0.2;
  std::vector<Arch> out;
  {  // Llama: grouped-query attention (2 query heads per kv head), attention_bias, mlp_bias, untied
     // head
    ModelConfig c = base;
    c.n_kv_heads = 2, c.attn_bias = true, c.mlp_bias = true, c.tied_head = false;
    out.push_back({"llama_gqa_biases_untied", "llama", c});
  }
  {  // OLMo-1B: non-parametric LayerNorm, clip_qkv, tied. q, k, v have std ~ 0.2 sqrt(32) = 1.1
     // here, so a clip of 1 clamps about a third of them: both sides of the clamp carry weight in
     // the gradients.
    ModelConfig c = base;
    c.norm = NormKind::kLayerNorm, c.clip_qkv = 1.0, c.tied_head = true;
    out.push_back({"olmo_layernorm_clip_tied", "olmo", c});
  }
  {  // OLMo-2: norms after attention and after the MLP, QK-norm over the whole projections, GQA
    ModelConfig c = base;
    c.norm_placement = NormPlacement::kPost, c.qk_norm = true, c.n_kv_heads = 2,
    c.tied_head = false;
    out.push_back({"olmo2_postnorm_qknorm_gqa", "olmo2", c});
  }
  // GPT-NeoX (Pythia): LayerNorm with gain and bias, GELU MLP of width 4d, biases everywhere,
  // untied; 2 heads of 16 dims so rotary_pct 0.25 rotates 4 of them (two pairs) and passes 12
  // through.
  ModelConfig neox = base;
  neox.n_heads = 2, neox.norm = NormKind::kLayerNormAffine, neox.mlp = MlpKind::kGelu;
  neox.attn_bias = true, neox.mlp_bias = true, neox.tied_head = false, neox.rotary_pct = 0.25;
  {
    ModelConfig c = neox;
    c.parallel_residual = true;
    out.push_back({"gpt_neox_parallel_rotary25", "gpt_neox", c});
  }
  {  // use_parallel_residual = false, and half the head rotated
    ModelConfig c = neox;
    c.rotary_pct = 0.5;
    out.push_back({"gpt_neox_sequential_rotary50", "gpt_neox", c});
  }
  return out;
}

class ArchParity : public ::testing::TestWithParam<Arch> {
 protected:
  // One float64 torch run per architecture, shared by its tests.
  const TorchResult& Torch(const Fixture& f) {
    static std::map<std::string, TorchResult> cache;
    auto it = cache.find(GetParam().name);
    if (it != cache.end()) return it->second;
    ScopedTempDir dir;
    TorchResult r = RunTorch(f, dir.path(), "float64");
    return cache.emplace(GetParam().name, std::move(r)).first->second;
  }
};

// The double-precision reference against torch in double at float-epsilon tolerances
// (ExpectReferenceDecoderParity), and our AdamW on torch's gradients to float32 rounding.
TEST_P(ArchParity, ReferenceDecoderMatchesPyTorch) {
  RequireTorch();
  const Fixture f = MakeFixture(GetParam().config, 7);
  const TorchResult& torch = Torch(f);
  EXPECT_EQ(torch.family, GetParam().family) << "reference.py ran another family's module";
  ExpectReferenceDecoderParity(f, torch);
  SCOPED_TRACE("AdamW on torch's gradients");
  ExpectAdamWParity(f, torch);
}

// The fast float32 Decoder (what trains and evaluates) at the tolerances
// (ExpectFastDecoderParity).
TEST_P(ArchParity, FastDecoderMatchesPyTorch) {
  RequireTorch();
  const Fixture f = MakeFixture(GetParam().config, 7);
  ExpectFastDecoderParity(f, Torch(f));
}

INSTANTIATE_TEST_SUITE_P(Families, ArchParity, ::testing::ValuesIn(Archs()),
                         [](const auto& info) { return info.param.name; });

// Switches that no Hugging Face family combines are refused by the reference, naming the switch,
// rather than answered with some other model.
TEST(ArchParityHarness, ReferenceRefusesAnArchitectureOfNoFamily) {
  RequireTorch();
  ModelConfig c = Archs()[0].config;
  c.n_kv_heads = 0;
  c.parallel_residual = true;  // a Llama block (RMSNorm, SwiGLU) with NeoX's parallel residual
  const Fixture f = MakeFixture(c, 7);
  ScopedTempDir dir;
  try {
    RunTorch(f, dir.path(), "float64");
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no Hugging Face family"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("model.norm"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ot
