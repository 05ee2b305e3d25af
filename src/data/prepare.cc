// The prepare pipeline and the stats report over its data.json.
#include "data/prepare.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/check.h"
#include "core/fileio.h"
#include "data/corpus.h"
#include "data/fetch.h"
#include "data/hf_tokenizer.h"
#include "data/lm_eval_prefix.h"
#include "data/task_tokens.h"
#include "data/token_file.h"
#include "data/tokenizer.h"
#include "data/util.h"

namespace ot::data {

namespace fs = std::filesystem;

const ConfigSchema<DataConfig>& DataConfigSchema() {
  static const ConfigSchema<DataConfig> schema = [] {
    ConfigSchema<DataConfig> s;
    using C = DataConfig;
    s.Field("data.cache_dir", "fetched sources; \"\" = $OVERTRAIN_CACHE or ~/.cache/overtrain",
            [](C& c) -> std::string& { return c.cache_dir; })
        .Field("data.data_dir",
               "folder with the real task files and C4 (shared/data); \"\" = registry-only",
               [](C& c) -> std::string& { return c.data_dir; })
        .Field(
            "data.vocab_size",
            "SentencePiece BPE vocabulary (8192 default, 4096 for small presets)",
            [](C& c) -> int& { return c.vocab_size; }, Between(300, 1 << 20))
        .Field(
            "data.seed", "seed of dedupe order, splits, samples and shuffles",
            [](C& c) -> int64_t& { return c.seed; }, AtLeast(0))
        .Field(
            "data.val_fraction", "general validation share of every source (whole documents)",
            [](C& c) -> double& { return c.val_fraction; }, Between(0, 0.5))
        .Field(
            "data.sentiment_fraction", "IMDB share held out (balanced) for the sentiment task",
            [](C& c) -> double& { return c.sentiment_fraction; }, Between(0, 0.5))
        .Field(
            "data.task_val_fraction",
            "validation share of tasks without an official split (mr, code, sentiment)",
            [](C& c) -> double& { return c.task_val_fraction; }, Between(0.01, 0.5))
        .Field(
            "data.chunk_bytes", "documents longer than this are split at paragraph breaks",
            [](C& c) -> Size& { return c.chunk_bytes; }, AtLeast(256))
        .Field(
            "data.tokenizer_sample_bytes", "bytes of train-split text the tokenizer is trained on",
            [](C& c) -> Size& { return c.tokenizer_sample_bytes; }, AtLeast(1000))
        .Field("data.tokenizer_json",
               "a Hugging Face tokenizer.json (or .json.gz, or a model dir holding one) to use "
               "instead of "
               "training SentencePiece; \"\" = train",
               [](C& c) -> std::string& { return c.tokenizer_json; })
        .Field("data.tokenizer_eod", "end-of-document token of data.tokenizer_json",
               [](C& c) -> std::string& { return c.tokenizer_eod; })
        .Field(
            "data.max_docs_per_source", "keep at most this many documents per source (0 = all)",
            [](C& c) -> int64_t& { return c.max_docs_per_source; }, AtLeast(0))
        .Field(
            "data.max_bytes_per_source", "keep at most this many bytes per source (0 = all)",
            [](C& c) -> Size& { return c.max_bytes_per_source; }, AtLeast(0))
        .Field(
            "data.max_task_examples", "keep at most this many examples per task split (0 = all)",
            [](C& c) -> int64_t& { return c.max_task_examples; }, AtLeast(0))
        .Field("data.sources", "general-corpus sources",
               [](C& c) -> std::vector<std::string>& { return c.sources; })
        .Field("data.tasks", "tasks to tokenize",
               [](C& c) -> std::vector<std::string>& { return c.tasks; })
        .Field("data.pair_files",
               "JSON-lines files of {\"prompt\", \"response\"} pairs, each a fine-tuning task "
               "named by its file name (loss on the response only; docs/tasks.md)",
               [](C& c) -> std::vector<std::string>& { return c.pair_files; })
        .Rule({"data.pair_files", "data.tasks"},
              [](const C& c) -> std::string {
                std::vector<std::string> names = TaskNames();
                for (const auto& f : c.pair_files) {
                  const std::string name = PairTaskName(f);
                  if (name.empty()) return "'" + f + "' names no task (an empty file name)";
                  if (std::find(names.begin(), names.end(), name) != names.end())
                    return "'" + f + "' names the task '" + name +
                           "', which a built-in task or another pair file already has; rename "
                           "the file";
                  names.push_back(name);
                }
                return "";
              })
        .Rule({"data.sources"},
              [](const C& c) -> std::string {
                if (c.sources.empty()) return "expected at least one source";
                for (const auto& s : c.sources) {
                  bool ok = false;
                  for (const auto& g : GeneralSources()) ok |= g == s;
                  if (!ok) return "unknown source '" + s + "'";
                }
                return "";
              })
        .Rule({"data.tasks"}, [](const C& c) -> std::string {
          for (const auto& t : c.tasks) {
            bool ok = false;
            for (const auto& n : TaskNames()) ok |= n == t;
            if (!ok) return "unknown task '" + t + "'";
          }
          return "";
        });
    return s;
  }();
  return schema;
}

namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void Log(void (*log)(const std::string&), const std::string& s) {
  if (log) log(s);
}

// Encodes documents in parallel (each followed by eod), in the given order.
std::vector<std::vector<int32_t>> EncodeAll(const std::vector<const Document*>& docs,
                                            const TextTokenizer& tok) {
  std::vector<std::vector<int32_t>> out(docs.size());
  const int64_t n = static_cast<int64_t>(docs.size());
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) {
    out[i] = tok.Encode(docs[i]->text);
    out[i].push_back(tok.eod_id());
  }
  return out;
}

std::vector<int32_t> Concat(const std::vector<std::vector<int32_t>>& parts) {
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<int32_t> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

void Limit(std::vector<Document>& docs, const DataConfig& c, const std::string& source) {
  if (c.max_docs_per_source <= 0 && c.max_bytes_per_source.value <= 0) return;
  const std::string stream = "limit/" + source;
  SeededShuffle(docs, static_cast<uint64_t>(c.seed), stream.c_str());
  if (c.max_docs_per_source > 0 && docs.size() > static_cast<size_t>(c.max_docs_per_source))
    docs.resize(c.max_docs_per_source);
  if (c.max_bytes_per_source.value > 0) {
    size_t bytes = 0, keep = 0;
    while (keep < docs.size() && bytes < static_cast<size_t>(c.max_bytes_per_source.value))
      bytes += docs[keep++].text.size();
    docs.resize(keep);
  }
}

// Trains SentencePiece on a seeded sample of the train documents; writes tokenizer.model.
std::unique_ptr<TextTokenizer> TrainDataTokenizer(const DataConfig& c,
                                                  const std::vector<const Document*>& train_docs,
                                                  const fs::path& out_dir,
                                                  nlohmann::json& manifest) {
  std::vector<std::string_view> sample;
  size_t sample_bytes = 0;
  const uint64_t seed = static_cast<uint64_t>(c.seed);
  for (size_t i : SeededPermutation(train_docs.size(), seed, "tokenizer/sample")) {
    if (sample_bytes >= static_cast<size_t>(c.tokenizer_sample_bytes.value)) break;
    sample.push_back(train_docs[i]->text);
    sample_bytes += train_docs[i]->text.size();
  }
  TokenizerOptions topt;
  topt.vocab_size = c.vocab_size;
  const std::string model = TrainTokenizer(sample, topt);
  fs::remove(out_dir / kHfTokenizerFile);  // a data directory holds one tokenizer
  fs::remove(out_dir / kHfTokenizerConfigFile);
  WriteFileAtomic(out_dir / kSentencePieceFile, model);
  const std::string where = (out_dir / kSentencePieceFile).string();
  auto tok = std::make_unique<Tokenizer>(Tokenizer::FromModel(model, where));
  manifest["tokenizer"] = {{"kind", tok->kind()},
                           {"file", tok->file_name()},
                           {"vocab_size", tok->vocab_size()},
                           {"eod_id", tok->eod_id()},
                           {"sample_bytes", sample_bytes},
                           {"sample_docs", sample.size()},
                           {"model_xxh3", Xxh3Hex(model)}};
  return tok;
}

// Checks data.tokenizer_json, copies it into the data dir as (plain) tokenizer.json, returns it.
std::unique_ptr<TextTokenizer> CopyHfTokenizer(const DataConfig& c, const fs::path& out_dir,
                                               nlohmann::json& manifest) {
  fs::path source = c.tokenizer_json;
  if (fs::is_directory(source)) source /= kHfTokenizerFile;
  if (!fs::is_regular_file(source))
    throw Error("data.tokenizer_json = '" + c.tokenizer_json +
                "': expected a tokenizer.json file or a model directory holding one");
  const std::string text = ReadMaybeGzip(source);
  auto tok = std::make_unique<HfTokenizer>(HfTokenizer::Load(source, c.tokenizer_eod));
  if (tok->eod_id() < 0)
    throw Error("data.tokenizer_eod = '" + c.tokenizer_eod + "': " + source.string() +
                " has no such token (the end-of-document token every document ends with)");
  if (tok->vocab_size() > kMaxTokenizerVocab)
    throw Error("data.tokenizer_json = '" + c.tokenizer_json + "': vocabulary " +
                std::to_string(tok->vocab_size()) + " exceeds " +
                std::to_string(kMaxTokenizerVocab) +
                ", the largest a model (and a token file's ids) may have");
  // The copy holds the very text parsed above (gzip undone), so `tok` is the copy's tokenizer.
  fs::remove(out_dir / kSentencePieceFile);  // a data directory holds one tokenizer
  WriteFileAtomic(out_dir / kHfTokenizerFile, text);
  // tokenizer_config.json beside it declares the BOS that lm-eval scores empty contexts after
  // (data/lm_eval_prefix.h): copied with it, and checked now rather than at the first eval.
  const fs::path bos_source = source.parent_path() / kHfTokenizerConfigFile;
  if (fs::is_regular_file(bos_source))
    WriteFileAtomic(out_dir / kHfTokenizerConfigFile, ReadFile(bos_source));
  else
    fs::remove(out_dir / kHfTokenizerConfigFile);
  LmEvalPrefixToken(out_dir, *tok);
  manifest["tokenizer"] = {{"kind", tok->kind()},
                           {"file", tok->file_name()},
                           {"source", fs::absolute(source).lexically_normal().string()},
                           {"vocab_size", tok->vocab_size()},
                           {"eod_id", tok->eod_id()},
                           {"eod_token", c.tokenizer_eod},
                           {"token_bytes", DtypeBytesFor(static_cast<uint32_t>(tok->vocab_size()))},
                           {"json_xxh3", Xxh3Hex(text)}};
  return tok;
}

}  // namespace

void PrepareData(const DataConfig& c, const fs::path& out_dir, void (*log)(const std::string&)) {
  const auto t_all = Clock::now();
  const fs::path cache = ResolveCacheDir(c.cache_dir);
  const uint64_t seed = static_cast<uint64_t>(c.seed);
  fs::create_directories(out_dir / "tasks");
  nlohmann::json manifest = {{"format", "overtrain-data"}, {"version", 1}};
  manifest["config"] = PrintConfig(DataConfigSchema(), c);
  nlohmann::json timings;
  // An imported tokenizer first: a file it cannot use fails before the sources are read.
  std::unique_ptr<TextTokenizer> tok_owner;
  if (!c.tokenizer_json.empty()) tok_owner = CopyHfTokenizer(c, out_dir, manifest);

  // 1. Clean, dedupe, limit, split every source.
  auto t0 = Clock::now();
  struct SourceSplit {
    std::string name;
    std::vector<Document> train, val;
    size_t duplicates = 0;
  };
  std::vector<SourceSplit> splits;
  for (const auto& name : c.sources) {
    SourceSplit s;
    s.name = name;
    std::vector<Document> docs =
        LoadSourceDocuments(cache, name, c.chunk_bytes.value, &s.duplicates);
    if (name == "imdb") {
      std::vector<Document> general, held_out;
      SplitImdb(std::move(docs), c.sentiment_fraction, seed, general, held_out);
      docs = std::move(general);
    }
    Limit(docs, c, name);
    SplitByDocument(std::move(docs), c.val_fraction, seed, name, s.train, s.val);
    Log(log, fmt::format("  {:<10} {:>7} train docs, {:>5} val docs, {:>4} duplicates dropped",
                         name, s.train.size(), s.val.size(), s.duplicates));
    splits.push_back(std::move(s));
  }
  timings["clean_s"] = Since(t0);

  // 2. Tokenizer on a seeded sample of the train split (unless imported above).
  t0 = Clock::now();
  std::vector<const Document*> train_docs, val_docs;
  std::unordered_map<const Document*, std::string> owner;
  for (const auto& s : splits) {
    for (const auto& d : s.train) train_docs.push_back(&d), owner[&d] = s.name;
    for (const auto& d : s.val) val_docs.push_back(&d), owner[&d] = s.name;
  }
  if (!tok_owner) tok_owner = TrainDataTokenizer(c, train_docs, out_dir, manifest);
  const TextTokenizer& tok = *tok_owner;
  timings["tokenizer_s"] = Since(t0);
  Log(log, fmt::format("  tokenizer: {} {}, vocab {}, eod id {} ({:.1f} s)", tok.kind(),
                       tok.file_name(), tok.vocab_size(), tok.eod_id(), Since(t0)));

  // 3. General train / val token files: documents of all sources in one seeded order.
  t0 = Clock::now();
  nlohmann::json sources_json = nlohmann::json::object();
  for (const char* split : {"train", "val"}) {
    auto& docs = std::string(split) == "train" ? train_docs : val_docs;
    const std::string stream = std::string("general/") + split;
    SeededShuffle(docs, seed, stream.c_str());
    const auto encoded = EncodeAll(docs, tok);
    std::map<std::string, std::array<uint64_t, 3>> per_source;  // docs, bytes, tokens
    for (size_t i = 0; i < docs.size(); ++i) {
      auto& v = per_source[owner.at(docs[i])];
      v[0] += 1, v[1] += docs[i]->text.size(), v[2] += encoded[i].size();
    }
    for (const auto& [src, v] : per_source)
      sources_json[src][split] = {{"documents", v[0]}, {"bytes", v[1]}, {"tokens", v[2]}};
    const auto stream_tokens = Concat(encoded);
    const fs::path path = out_dir / (std::string("general.") + split + ".tok");
    const auto info = WriteTokenFile(path, stream_tokens, tok.vocab_size(), tok.eod_id());
    manifest["files"][path.filename().string()] = {
        {"tokens", info.tokens}, {"documents", info.documents}, {"xxh3", info.xxh3}};
    Log(log, fmt::format("  general.{}.tok: {} documents, {} tokens", split, info.documents,
                         info.tokens));
  }
  for (const auto& s : splits) sources_json[s.name]["duplicates"] = s.duplicates;
  manifest["sources"] = sources_json;
  timings["encode_s"] = Since(t0);

  // 4. The C4 probe.
  t0 = Clock::now();
  if (!c.data_dir.empty()) {
    const fs::path c4 = fs::path(c.data_dir) / "c4" / "c4-sample.00000-of-00001.json.gz";
    const std::string text = ReadMaybeGzip(c4);
    std::vector<Document> docs;
    size_t line_no = 0;
    for (std::string_view line : Split(text, '\n')) {
      ++line_no;
      if (Trim(line).empty()) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception& e) {
        throw Error(c4.string() + ":" + std::to_string(line_no) + ": not valid JSON");
      }
      if (!j.contains("text") || !j["text"].is_string())
        throw Error(c4.string() + ":" + std::to_string(line_no) +
                    ": expected a string field \"text\"");
      docs.push_back({j["text"].get<std::string>(), "c4#" + std::to_string(line_no)});
    }
    std::vector<const Document*> ptrs;
    uint64_t bytes = 0;
    for (const auto& d : docs) ptrs.push_back(&d), bytes += d.text.size();
    const auto info = WriteTokenFile(out_dir / "c4.val.tok", Concat(EncodeAll(ptrs, tok)),
                                     tok.vocab_size(), tok.eod_id());
    manifest["files"]["c4.val.tok"] = {
        {"tokens", info.tokens}, {"documents", info.documents}, {"xxh3", info.xxh3}};
    manifest["sources"]["c4"]["val"] = {
        {"documents", docs.size()}, {"bytes", bytes}, {"tokens", info.tokens}};
    Log(log, fmt::format("  c4.val.tok: {} documents, {} tokens", info.documents, info.tokens));
  } else {
    Log(log, "  c4.val.tok: skipped (no data_dir)");
  }

  // 5. Tasks.
  nlohmann::json tasks_json = nlohmann::json::object();
  for (const auto& name : c.tasks) {
    const bool needs_dir = name != "code" && name != "sentiment";
    if (needs_dir && c.data_dir.empty()) {
      Log(log, "  task " + name + ": skipped (needs data_dir)");
      continue;
    }
    if (name == "sentiment" &&
        std::find(c.sources.begin(), c.sources.end(), "imdb") == c.sources.end()) {
      Log(log, "  task sentiment: skipped (imdb is not among the sources)");
      continue;
    }
    const auto tt = Clock::now();
    TaskData data =
        LoadTask(name, c.data_dir, cache, seed, c.task_val_fraction, c.sentiment_fraction);
    for (auto* part : {&data.train, &data.val})
      if (c.max_task_examples > 0 && part->size() > static_cast<size_t>(c.max_task_examples))
        part->resize(c.max_task_examples);
    for (const auto& [split, ex] : {std::pair{"train", &data.train}, std::pair{"val", &data.val}}) {
      const TaskSplit ts = TokenizeTask(name, split, *ex, data.labels, tok);
      WriteTaskSplit(out_dir / "tasks", ts);
      tasks_json[name][split] = {{"examples", ts.records.size()},
                                 {"tokens", ts.tokens.size()},
                                 {"target_tokens", ts.TargetTokens()}};
    }
    Log(log, fmt::format("  task {:<9} {:>6} train / {:>5} val examples ({:.1f} s)", name,
                         data.train.size(), data.val.size(), Since(tt)));
  }
  for (const auto& path : c.pair_files) {
    const auto tt = Clock::now();
    TaskData data = LoadPairTask(path, seed, c.task_val_fraction);
    for (auto* part : {&data.train, &data.val})
      if (c.max_task_examples > 0 && part->size() > static_cast<size_t>(c.max_task_examples))
        part->resize(c.max_task_examples);
    for (const auto& [split, ex] : {std::pair{"train", &data.train}, std::pair{"val", &data.val}}) {
      const TaskSplit ts = TokenizeTask(data.name, split, *ex, {}, tok);
      WriteTaskSplit(out_dir / "tasks", ts);
      tasks_json[data.name][split] = {{"examples", ts.records.size()},
                                      {"tokens", ts.tokens.size()},
                                      {"target_tokens", ts.TargetTokens()},
                                      {"pair_file", fs::absolute(path).string()}};
    }
    Log(log, fmt::format("  task {:<9} {:>6} train / {:>5} val pairs from {} ({:.1f} s)", data.name,
                         data.train.size(), data.val.size(), path, Since(tt)));
  }
  manifest["tasks"] = tasks_json;
  timings["tasks_s"] = Since(t0);
  timings["total_s"] = Since(t_all);
  manifest["timings"] = timings;
  WriteFileAtomic(out_dir / "data.json", manifest.dump(1));
}

std::string DataStats(const fs::path& dir) {
  const fs::path mpath = dir / "data.json";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(ReadFile(mpath));
  } catch (const nlohmann::json::exception& e) {
    throw Error(mpath.string() + ": not valid JSON (" + e.what() + ")");
  }
  std::string out;
  const auto& tk = m.at("tokenizer");
  if (tk.contains("source"))
    out += fmt::format("{}: vocab {}, eod id {}, tokenizer.json from {}\n", dir.string(),
                       tk.at("vocab_size").get<int>(), tk.at("eod_id").get<int>(),
                       tk.at("source").get<std::string>());
  else
    out += fmt::format("{}: vocab {}, eod id {}, tokenizer trained on {:.1f} MB\n", dir.string(),
                       tk.at("vocab_size").get<int>(), tk.at("eod_id").get<int>(),
                       tk.at("sample_bytes").get<double>() / 1e6);
  out += fmt::format("{:<10} {:<5} {:>9} {:>12} {:>12} {:>8}\n", "source", "split", "documents",
                     "bytes", "tokens", "bytes/tok");
  uint64_t tot[2][3] = {};
  for (const auto& [src, v] : m.at("sources").items()) {
    for (const char* split : {"train", "val"}) {
      if (!v.contains(split)) continue;
      const auto& s = v[split];
      const uint64_t d = s.at("documents"), b = s.at("bytes"), t = s.at("tokens");
      out += fmt::format("{:<10} {:<5} {:>9} {:>12} {:>12} {:>8.2f}\n", src, split, d, b, t,
                         t ? double(b) / t : 0.0);
      if (src != "c4") {
        const int k = std::string(split) == "train" ? 0 : 1;
        tot[k][0] += d, tot[k][1] += b, tot[k][2] += t;
      }
    }
  }
  for (int k = 0; k < 2; ++k)
    out += fmt::format("{:<10} {:<5} {:>9} {:>12} {:>12} {:>8.2f}\n", "general",
                       k ? "val" : "train", tot[k][0], tot[k][1], tot[k][2],
                       tot[k][2] ? double(tot[k][1]) / tot[k][2] : 0.0);
  // Re-check the token files against the manifest.
  for (const auto& [file, v] : m.at("files").items()) {
    const auto info = ReadTokenHeader(dir / file);
    if (info.tokens != v.at("tokens").get<uint64_t>() || info.xxh3 != v.at("xxh3").get<uint64_t>())
      throw Error((dir / file).string() + ": header differs from data.json (tokens or checksum)");
  }
  out += fmt::format("{:<10} {:>9} {:>11} {:>9} {:>11}\n", "task", "train ex", "train tok",
                     "val ex", "val tok");
  for (const auto& [task, v] : m.at("tasks").items())
    out += fmt::format(
        "{:<10} {:>9} {:>11} {:>9} {:>11}\n", task, v.at("train").at("examples").get<uint64_t>(),
        v.at("train").at("tokens").get<uint64_t>(), v.at("val").at("examples").get<uint64_t>(),
        v.at("val").at("tokens").get<uint64_t>());
  if (m.contains("timings"))
    out += fmt::format(
        "prepare took {:.1f} s (clean {:.1f}, tokenizer {:.1f}, encode {:.1f}, c4+tasks {:.1f})\n",
        m["timings"].value("total_s", 0.0), m["timings"].value("clean_s", 0.0),
        m["timings"].value("tokenizer_s", 0.0), m["timings"].value("encode_s", 0.0),
        m["timings"].value("tasks_s", 0.0));
  return out;
}

}  // namespace ot::data
