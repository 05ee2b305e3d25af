// `overtrain data fetch|prepare|stats|mc-tasks|hf-tasks|import-tokens|tokenize|vision`: fetch the
// registry sources into the cache, prepare tokenizer + token files + tasks from a data config,
// print the counts, write lm-eval task files (PIQA, SIQA; ARC, HellaSwag from Hugging Face files),
// turn raw ids or text into token files, summarise a fetched vision source. Logic: data/fetch.h,
// data/prepare.h, data/lm_eval_tasks.h, data/hf_tasks.h, data/token_file.h, data/tokenize_text.h,
// data/idx.h.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/check.h"
#include "core/fileio.h"
#include "data/fetch.h"
#include "data/hf_tasks.h"
#include "data/idx.h"
#include "data/lm_eval_tasks.h"
#include "data/prepare.h"
#include "data/token_file.h"
#include "data/tokenize_text.h"

namespace {
void PrintLine(const std::string& s) { fmt::print("{}\n", s), std::fflush(stdout); }
}  // namespace

OT_COMMAND("data", [](CLI::App& app) {
  app.description("fetch sources, prepare tokenizer / token files / tasks, print data statistics");
  app.require_subcommand(1);
  auto cache = std::make_shared<std::string>();
  auto sources = std::make_shared<std::vector<std::string>>();
  auto config = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto data_dir = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto dir = std::make_shared<std::string>();
  auto timeout = std::make_shared<double>(ot::data::kDefaultFetchTimeoutS);

  CLI::App* fetch =
      app.add_subcommand("fetch", "download and verify the registry sources into the cache");
  fetch->add_option("--cache", *cache,
                    "cache dir (default $OVERTRAIN_CACHE or ~/.cache/overtrain)");
  auto group = std::make_shared<std::string>("text");
  fetch->add_option("--source", *sources, "only these sources (default: those of --group)");
  fetch
      ->add_option("--group", *group,
                   "without --source: text (the corpus and code sources), vision (mnist, "
                   "fashion-mnist) or all")
      ->check(CLI::IsMember({"text", "vision", "all"}))
      ->capture_default_str();
  fetch
      ->add_option("--timeout", *timeout,
                   "seconds one package may take (download and unpacking); its command is "
                   "killed past it (0 = none)")
      ->capture_default_str()
      ->check([](const std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        return end != text.c_str() && *end == '\0' && v >= 0
                   ? ""
                   : "expected seconds >= 0 (0 = none), got '" + text + "'";
      });

  CLI::App* prepare =
      app.add_subcommand("prepare", "clean, split, train the tokenizer, write token files");
  prepare->add_option("--config", *config,
                      "data config TOML ([data] section); defaults when omitted");
  prepare->add_option("--out", *out, "output dir (tokenizer.model, *.tok, tasks/)")->required();
  prepare->add_option("--cache", *cache, "cache dir (overrides data.cache_dir)");
  prepare->add_option("--data-dir", *data_dir,
                      "real task files and C4, e.g. shared/data (overrides data.data_dir)");
  prepare->add_option("--set", *sets, "override a key, e.g. --set data.vocab_size=4096");

  CLI::App* stats =
      app.add_subcommand("stats", "documents, tokens, bytes/token per source and split; tasks");
  stats->add_option("--dir", *dir, "a prepared data dir")->required();

  CLI::App* mc = app.add_subcommand(
      "mc-tasks", "write lm-eval task files piqa.jsonl, siqa.jsonl (docs/lm_eval.md) from data");
  mc->add_option("--data-dir", *data_dir, "the folder holding piqa/ and siqa/, e.g. shared/data")
      ->required();
  mc->add_option("--out", *out, "output dir")->required();

  CLI::App* hf = app.add_subcommand(
      "hf-tasks",
      "write an lm-eval task file (docs/lm_eval.md) from a Hugging Face dataset file of ARC "
      "(ARC-Easy, ARC-Challenge) or HellaSwag records (JSON lines, as `datasets` exports them)");
  auto format = std::make_shared<std::string>();
  hf->add_option("--format", *format, "the records' dataset: arc or hellaswag")
      ->required()
      ->check(CLI::IsMember(ot::data::HfTaskFormats()));
  hf->add_option("--in", *dir, "the dataset file (.jsonl or .jsonl.gz)")->required();
  hf->add_option("--out", *out, "the task file to write; its name names the task (arc_easy.jsonl)")
      ->required();

  CLI::App* import = app.add_subcommand(
      "import-tokens", "turn a raw little-endian uint16/uint32 id dump into a token file");
  auto dtype = std::make_shared<std::string>("uint16");
  auto vocab = std::make_shared<uint32_t>(0);
  auto eod = std::make_shared<int32_t>(-1);
  import->add_option("--in", *dir, "the raw ids (e.g. numpy's tofile of a uint16 array)")
      ->required();
  import->add_option("--dtype", *dtype, "uint16 or uint32")
      ->check(CLI::IsMember({"uint16", "uint32"}))
      ->capture_default_str();
  import->add_option("--vocab", *vocab, "vocabulary size; every id must be below it")->required();
  import->add_option("--eod", *eod, "the end-of-document id (-1: none)")->capture_default_str();
  import->add_option("--out", *out, "the token file to write")->required();

  CLI::App* tokenize = app.add_subcommand(
      "tokenize",
      "text to ids with a data directory's tokenizer (tokenizer.model or tokenizer.json): one "
      "line of ids per document, or a token file with --out");
  auto texts = std::make_shared<std::vector<std::string>>();
  auto text_file = std::make_shared<std::string>();
  tokenize->add_option("--data-dir", *data_dir, "a prepared data dir (its tokenizer)")->required();
  tokenize->add_option("--text", *texts, "a document (repeatable)");
  tokenize->add_option("--in", *text_file, "a text file: one document per line");
  tokenize->add_option("--out", *out,
                       "write a token file (each document followed by the end-of-document "
                       "token) instead of printing ids");

  CLI::App* vision = app.add_subcommand(
      "vision",
      "load both splits of a fetched vision source (idx files) and print counts, class histogram "
      "and mean pixel");
  auto vision_source = std::make_shared<std::string>();
  vision->add_option("--source", *vision_source, "mnist or fashion-mnist")
      ->required()
      ->check(CLI::IsMember(ot::data::VisionSources()));
  vision->add_option("--cache", *cache,
                     "cache dir (default $OVERTRAIN_CACHE or ~/.cache/overtrain)");

  return [=]() -> int {
    if (vision->parsed()) {
      // Both splits load before anything is printed: a bad file's sentence is the only output.
      const auto path = ot::data::ResolveCacheDir(*cache);
      std::string summary;
      for (const char* split : {"train", "test"}) {
        const auto t0 = std::chrono::steady_clock::now();
        const auto d = ot::data::LoadVisionSource(path, *vision_source, split);
        summary += fmt::format(
            "{}  loaded in {:.2f} s\n", ot::data::DescribeVisionDataset(d),
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      fmt::print("{}", summary);
      return 0;
    }
    if (tokenize->parsed()) {
      std::vector<std::string> docs = *texts;
      if (!text_file->empty()) {
        const std::string body = ot::ReadFile(*text_file);
        for (size_t at = 0; at < body.size();) {
          const size_t end = std::min(body.find('\n', at), body.size());
          docs.push_back(body.substr(at, end - at));
          at = end + 1;
        }
      }
      if (docs.empty()) throw ot::Error("data tokenize: nothing to tokenize; give --text or --in");
      const auto tokenizer = ot::data::LoadDataTokenizer(*data_dir);
      if (!out->empty()) {
        const auto info = ot::data::WriteDocumentsTokenFile(*tokenizer, docs, *out);
        fmt::print("{}: {} documents, {} tokens, vocabulary {}, end-of-document {}\n", *out,
                   info.documents, info.tokens, info.vocab_size, info.eod_id);
        return 0;
      }
      for (const auto& ids : ot::data::EncodeDocuments(*tokenizer, docs))
        fmt::print("{}\n", fmt::join(ids, " "));
      return 0;
    }
    if (import->parsed()) {
      const auto info =
          ot::data::ImportRawTokens(*dir, *dtype == "uint16" ? 2 : 4, *vocab, *eod, *out);
      fmt::print("{}: {} tokens, vocabulary {}, xxh3 {:016x}\n", *out, info.tokens, info.vocab_size,
                 info.xxh3);
      return 0;
    }
    if (hf->parsed()) {
      const size_t n = ot::data::WriteHfTaskFile(*format, *dir, *out);
      fmt::print("{}: {} documents\n", *out, n);
      return 0;
    }
    if (mc->parsed()) {
      ot::data::WriteMcTaskFiles(*data_dir, *out, PrintLine);
      return 0;
    }
    if (fetch->parsed()) {
      const auto path = ot::data::ResolveCacheDir(*cache);
      const auto t0 = std::chrono::steady_clock::now();
      fmt::print("fetching into {}\n", path.string());
      const auto names = sources->empty() ? ot::data::SourceGroup(*group) : *sources;
      ot::data::FetchSources(path, names, PrintLine, *timeout);
      fmt::print("fetch done in {:.1f} s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      return 0;
    }
    if (prepare->parsed()) {
      std::vector<std::string> overrides = *sets;
      if (!cache->empty()) overrides.push_back("data.cache_dir=\"" + *cache + "\"");
      if (!data_dir->empty()) overrides.push_back("data.data_dir=\"" + *data_dir + "\"");
      const auto& schema = ot::data::DataConfigSchema();
      const auto cfg = ot::LoadConfig(schema, *config, overrides);
      fmt::print("preparing {} from {}\n", *out, ot::data::ResolveCacheDir(cfg.cache_dir).string());
      ot::data::PrepareData(cfg, *out, PrintLine);
      fmt::print("{}", ot::data::DataStats(*out));
      return 0;
    }
    fmt::print("{}", ot::data::DataStats(*dir));
    return 0;
  };
});
