// `overtrain export --checkpoint DIR --data DIR --out DIR`: a directory transformers'
// from_pretrained loads (config.json, model.safetensors, tokenizer files). Logic:
// train/hf_export.h; docs/export.md.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/command.h"
#include "train/hf_export.h"

OT_COMMAND("export", [](CLI::App& app) {
  app.description(
      "write a Hugging Face model directory (Llama, OLMo or OLMo-2 config.json, model.safetensors, "
      "tokenizer "
      "files) from a checkpoint and the data directory it was trained on");
  auto checkpoint = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  app.add_option("--checkpoint", *checkpoint, "checkpoint directory (tokens-<N>)")->required();
  app.add_option("--data", *data, "prepared data directory (tokenizer.model or tokenizer.json)")
      ->required();
  app.add_option("--out", *out, "new directory to write (must not exist)")->required();
  return [=]() -> int {
    const ot::HfExportResult r = ot::ExportHfModel(*checkpoint, *data, *out);
    fmt::print("exported {} as {} ({} tokenizer) to {}:\n", *checkpoint, r.family, r.tokenizer_kind,
               *out);
    for (const auto& f : r.files)
      fmt::print("  {}{}\n", f,
                 f == "model.safetensors" ? (r.linked ? " (hard link)" : " (copy)") : "");
    return 0;
  };
});
