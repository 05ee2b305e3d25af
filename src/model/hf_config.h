// The Hugging Face config.json <-> ModelConfig mapping, both ways, in one place: FromHfConfig reads
// the four families overtrain imports (llama, olmo, olmo2, gpt_neox) with transformers' key names
// and defaults; HfConfigJson writes our checkpoints' config.json (the HF fields when a family reads
// our tensor names, plus the "overtrain" block). Entry points: FromHfConfig, HfConfigJson,
// HfExportType.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "model/config.h"

namespace ot {

// The model_types FromHfConfig reads, in the order errors list them.
inline constexpr const char* kHfModelTypes[] = {"llama", "olmo", "olmo2", "gpt_neox"};

// The ModelConfig a Hugging Face config.json describes, reading the keys of the family's
// configuration_*.py: sizes (hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, vocab_size, max_position_embeddings), RoPE (rope_theta,
// or rotary_emb_base and rotary_pct under gpt_neox; or transformers 5's rope_parameters), norm eps
// (rms_norm_eps, layer_norm_eps; OLMo-1's LayerNorm eps is fixed 1e-5), tie_word_embeddings,
// attention_bias, mlp_bias, clip_qkv, use_parallel_residual, hidden_act, initializer_range ->
// init_std. A key absent (or null) takes the family's transformers default; the size keys are
// required. Refused, each in one sentence starting with `what` (the file) and naming the key: an
// unknown model_type, rope scaling, sliding-window attention, mixture-of-experts keys, head_dim !=
// hidden_size / num_attention_heads, a hidden_act the family's MLP is not (silu for
// llama/olmo/olmo2, exact gelu for gpt_neox), and keys the family's modeling file does not read
// (mlp_bias outside llama, clip_qkv outside olmo) set to a value that would change the model. The
// result is validated; its preset is "custom".
ModelConfig FromHfConfig(const nlohmann::json& hf, const std::string& what);

// The model_type whose transformers modeling file computes `model` from our tensor names (the
// layout's Llama/OLMo-2 names): "llama" (RMSNorm, pre-norm, SwiGLU; GQA and biases allowed), "olmo"
// (non-parametric LayerNorm with eps 1e-5; clip_qkv allowed), "olmo2" (RMSNorm, post-norm,
// QK-norm);
// "" for the rest (GELU MLP, affine LayerNorm, parallel residual, partial rotary: gpt_neox's
// architecture, whose own names and fused q|k|v our checkpoints do not use). When "", `why`
// (optional) gets one sentence naming the switches that no family has.
std::string HfExportType(const ModelConfig& model, std::string* why = nullptr);

// config.json of our checkpoints: the HF fields of HfExportType(model) (num_key_value_heads =
// kv_heads()) plus the overtrain ModelConfig under "overtrain", which our loader reads. When no
// family exports the model, only "overtrain" and an "overtrain_export" note saying why
// (transformers then refuses the directory instead of computing a different model).
nlohmann::json HfConfigJson(const ModelConfig& model);

}  // namespace ot
