// Task parsers and LoadTask; the prompt formats here are the ones docs/tasks.md documents.
#include "data/tasks.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "data/corpus.h"
#include "data/mc_records.h"
#include "data/util.h"

namespace ot::data {
namespace {

namespace fs = std::filesystem;

// Non-blank lines (a trailing CR dropped; ForEachLine bounds a line's length).
std::vector<std::string_view> Lines(std::string_view text, const std::string& where) {
  std::vector<std::string_view> out;
  ForEachLine(text, where, [&](size_t, std::string_view line) {
    if (!Trim(line).empty()) out.push_back(line);
  });
  return out;
}

nlohmann::json ParseLine(std::string_view line, const std::string& where, size_t i) {
  try {
    return nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    throw Error(where + ":" + std::to_string(i + 1) + ": not valid JSON (" + e.what() + ")");
  }
}

std::string Str(const nlohmann::json& j, const char* key, const std::string& where, size_t i) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string())
    throw Error(where + ":" + std::to_string(i + 1) + ": expected a string field \"" + key + "\"");
  return j[key].get<std::string>();
}

// Drops GSM8K calculator annotations "<<48/2=24>>".
std::string StripCalculator(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 2, "<<") == 0) {
      const size_t end = s.find(">>", i + 2);
      if (end != std::string::npos) {
        i = end + 2;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

TaskExample Labelled(std::string prompt, const std::vector<std::string>& labels, int gold) {
  TaskExample e;
  e.prompt = std::move(prompt);
  e.choices = labels;
  e.gold = gold;
  e.target = labels[gold];
  return e;
}

const std::vector<std::string> kSentimentLabels = {" negative", " positive"};
const std::vector<std::string> kRteLabels = {" entailment", " not_entailment"};
const std::vector<std::string> kTrecCoarse = {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"};
const std::vector<std::string> kTrecLabels = {" abbreviation", " description", " entity",
                                              " human",        " location",    " number"};

std::string Read(const fs::path& dir, const std::string& file) { return ReadMaybeGzip(dir / file); }

// Seeded split of `all` into train / val (val_fraction of the examples, at least 1).
void SplitExamples(std::vector<TaskExample> all, double val_fraction, uint64_t seed,
                   const std::string& task, TaskData& out) {
  const std::string stream = "task-split/" + task;
  SeededShuffle(all, seed, stream.c_str());
  size_t n_val = static_cast<size_t>(val_fraction * all.size() + 0.5);
  if (n_val == 0 && all.size() >= 2) n_val = 1;
  for (size_t i = 0; i < all.size(); ++i)
    (i < n_val ? out.val : out.train).push_back(std::move(all[i]));
}

}  // namespace

const std::vector<std::string>& TaskNames() {
  static const std::vector<std::string> names = {"gsm8k", "code", "siqa",      "mr",
                                                 "rte",   "trec", "sentiment", "piqa"};
  return names;
}

std::vector<TaskExample> ParseGsm8k(std::string_view jsonl, const std::string& where) {
  std::vector<TaskExample> out;
  const auto lines = Lines(jsonl, where);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto j = ParseLine(lines[i], where, i);
    TaskExample e;
    e.prompt = "Question: " + std::string(Trim(Str(j, "question", where, i))) + "\nAnswer:";
    e.target = " " + std::string(Trim(StripCalculator(Str(j, "answer", where, i))));
    out.push_back(std::move(e));
  }
  return out;
}

// PIQA and SIQA records come from the one parser shared with the lm-eval converters
// (mc_records.h); the fine-tuning prompts trim the fields and put a space before each choice.
std::vector<TaskExample> ParseSiqa(std::string_view jsonl, std::string_view labels,
                                   const std::string& where) {
  std::vector<TaskExample> out;
  for (const McRecord& r : ParseSiqaRecords(jsonl, labels, where)) {
    TaskExample e;
    e.prompt = "Context: " + std::string(Trim(r.context)) +
               "\nQuestion: " + std::string(Trim(r.question)) + "\nAnswer:";
    for (const auto& c : r.choices) e.choices.push_back(" " + std::string(Trim(c)));
    e.gold = r.gold;
    e.target = e.choices[e.gold];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<TaskExample> ParsePiqa(std::string_view jsonl, std::string_view labels,
                                   const std::string& where) {
  std::vector<TaskExample> out;
  for (const McRecord& r : ParsePiqaRecords(jsonl, labels, where)) {
    TaskExample e;
    e.prompt = "Goal: " + std::string(Trim(r.question)) + "\nSolution:";
    for (const auto& c : r.choices) e.choices.push_back(" " + std::string(Trim(c)));
    e.gold = r.gold;
    e.target = e.choices[e.gold];
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<TaskExample> ParseRte(std::string_view tsv, const std::string& where) {
  const auto lines = Lines(tsv, where);
  if (lines.empty() || !lines[0].starts_with("index\tsentence1\tsentence2\tlabel"))
    throw Error(where + ": expected the GLUE header 'index<TAB>sentence1<TAB>sentence2<TAB>label'");
  std::vector<TaskExample> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto f = Split(lines[i], '\t');
    if (f.size() != 4)
      throw Error(where + ":" + std::to_string(i + 1) + ": expected 4 TAB-separated fields, got " +
                  std::to_string(f.size()));
    const std::string_view label = Trim(f[3]);
    int gold = label == "entailment" ? 0 : label == "not_entailment" ? 1 : -1;
    if (gold < 0)
      throw Error(where + ":" + std::to_string(i + 1) + ": label '" + std::string(label) +
                  "' is not entailment / not_entailment");
    out.push_back(Labelled("Sentence 1: " + std::string(Trim(f[1])) +
                               "\nSentence 2: " + std::string(Trim(f[2])) + "\nRelationship:",
                           kRteLabels, gold));
  }
  return out;
}

std::vector<TaskExample> ParseTrec(std::string_view text, const std::string& where) {
  const std::string utf8 = ToUtf8(text);
  std::vector<TaskExample> out;
  const auto lines = Lines(utf8, where);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    const size_t colon = line.find(':'), space = line.find(' ');
    if (colon == std::string_view::npos || space == std::string_view::npos || colon > space)
      throw Error(where + ":" + std::to_string(i + 1) + ": expected 'COARSE:fine question'");
    const std::string coarse(line.substr(0, colon));
    int gold = -1;
    for (size_t k = 0; k < kTrecCoarse.size(); ++k)
      if (kTrecCoarse[k] == coarse) gold = static_cast<int>(k);
    if (gold < 0)
      throw Error(where + ":" + std::to_string(i + 1) + ": unknown coarse label '" + coarse + "'");
    out.push_back(Labelled(
        "Question: " + std::string(Trim(line.substr(space + 1))) + "\nType:", kTrecLabels, gold));
  }
  return out;
}

std::vector<TaskExample> ParseMr(std::string_view pos, std::string_view neg,
                                 const std::string& where) {
  std::vector<TaskExample> out;
  for (int label : {1, 0}) {
    const std::string utf8 = ToUtf8(label == 1 ? pos : neg);
    for (std::string_view line : Lines(utf8, where))
      out.push_back(
          Labelled("Review: " + std::string(Trim(line)) + "\nSentiment:", kSentimentLabels, label));
  }
  if (out.empty()) throw Error(where + ": no reviews");
  return out;
}

std::vector<TaskExample> SentimentExamples(const std::vector<Document>& reviews) {
  std::vector<TaskExample> out;
  for (const auto& d : reviews) {
    OT_CHECK(d.label == 0 || d.label == 1) << "sentiment review without a label: " << d.id;
    out.push_back(Labelled("Review: " + d.text + "\nSentiment:", kSentimentLabels, d.label));
  }
  return out;
}

std::vector<TaskExample> CodeExamples(const std::vector<Document>& files) {
  std::vector<TaskExample> out;
  for (const auto& f : files) {
    TaskExample e;
    e.target = f.text;
    out.push_back(std::move(e));
  }
  return out;
}

std::string PairTaskName(const fs::path& path) {
  std::string name = path.filename().string();
  for (const char* ext : {".gz", ".jsonl", ".json"})
    if (name.size() > std::string_view(ext).size() && name.ends_with(ext))
      name.resize(name.size() - std::string_view(ext).size());
  return name;
}

std::vector<TaskExample> ParsePairs(std::string_view jsonl, const std::string& where) {
  std::vector<TaskExample> out;
  for (const auto& [number, line] : NonBlankLines(jsonl, where)) {
    const std::string at = where + ":" + std::to_string(number);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object())
      throw Error(at + ": expected a JSON object {\"prompt\": ..., \"response\": ...}");
    for (const char* key : {"prompt", "response"})
      if (!j.contains(key) || !j[key].is_string())
        throw Error(at + ": expected a string field \"" + key + "\"");
    TaskExample e;
    e.prompt = j["prompt"].get<std::string>();
    e.target = j["response"].get<std::string>();
    if (e.target.empty())
      throw Error(at + ": \"response\" is empty; the loss has nothing to train on");
    out.push_back(std::move(e));
  }
  if (out.empty()) throw Error(where + ": no prompt/response pairs");
  return out;
}

TaskData LoadPairTask(const fs::path& path, uint64_t seed, double val_fraction) {
  TaskData t;
  t.name = PairTaskName(path);
  SplitExamples(ParsePairs(ReadMaybeGzip(path), path.string()), val_fraction, seed, t.name, t);
  if (t.train.empty() || t.val.empty())
    throw Error(path.string() + ": " + std::to_string(t.train.size() + t.val.size()) +
                " pairs; expected at least 2 (one for training, one for validation)");
  return t;
}

TaskData LoadTask(const std::string& name, const fs::path& data_dir, const fs::path& cache_dir,
                  uint64_t seed, double val_fraction, double imdb_fraction) {
  TaskData t;
  t.name = name;
  auto need_dir = [&](const std::string& sub) {
    if (data_dir.empty())
      throw Error("task " + name + ": needs --data-dir (the folder holding " + sub +
                  "/, e.g. shared/data)");
    const fs::path d = data_dir / sub;
    if (!fs::is_directory(d))
      throw Error(d.string() + ": task " + name + " expects this data folder");
    return d;
  };
  if (name == "gsm8k") {
    const auto d = need_dir("gsm8k");
    t.train = ParseGsm8k(Read(d, "train.jsonl.gz"), (d / "train.jsonl.gz").string());
    t.val = ParseGsm8k(Read(d, "test.jsonl.gz"), (d / "test.jsonl.gz").string());
  } else if (name == "siqa") {
    const auto d = need_dir("siqa");
    t.train = ParseSiqa(Read(d, "train.jsonl.gz"), Read(d, "train-labels.lst.gz"),
                        (d / "train.jsonl.gz").string());
    t.val = ParseSiqa(Read(d, "dev.jsonl.gz"), Read(d, "dev-labels.lst.gz"),
                      (d / "dev.jsonl.gz").string());
  } else if (name == "piqa") {
    const auto d = need_dir("piqa");
    t.train = ParsePiqa(Read(d, "train.jsonl.gz"), Read(d, "train-labels.lst.gz"),
                        (d / "train.jsonl.gz").string());
    t.val = ParsePiqa(Read(d, "valid.jsonl.gz"), Read(d, "valid-labels.lst.gz"),
                      (d / "valid.jsonl.gz").string());
  } else if (name == "rte") {
    const auto d = need_dir("rte");
    t.train = ParseRte(Read(d, "train.tsv.gz"), (d / "train.tsv.gz").string());
    t.val = ParseRte(Read(d, "dev.tsv.gz"), (d / "dev.tsv.gz").string());
    t.labels = kRteLabels;
  } else if (name == "trec") {
    const auto d = need_dir("trec");
    t.train = ParseTrec(Read(d, "train_5500.label.gz"), (d / "train_5500.label.gz").string());
    t.val = ParseTrec(Read(d, "TREC_10.label.gz"), (d / "TREC_10.label.gz").string());
    t.labels = kTrecLabels;
  } else if (name == "mr") {
    const auto d = need_dir("mr");
    SplitExamples(ParseMr(Read(d, "rt-polarity.pos.gz"), Read(d, "rt-polarity.neg.gz"), d.string()),
                  val_fraction, seed, name, t);
    t.labels = kSentimentLabels;
  } else if (name == "sentiment") {
    std::vector<Document> general, held_out;
    SplitImdb(LoadSourceDocuments(cache_dir, "imdb", SIZE_MAX), imdb_fraction, seed, general,
              held_out);
    SplitExamples(SentimentExamples(held_out), val_fraction, seed, name, t);
    t.labels = kSentimentLabels;
  } else if (name == "code") {
    SplitExamples(CodeExamples(LoadPythonFiles(cache_dir)), val_fraction, seed, name, t);
  } else {
    std::string list;
    for (const auto& n : TaskNames()) list += (list.empty() ? "" : ", ") + n;
    throw Error("unknown task '" + name + "'; expected one of: " + list);
  }
  if (t.train.empty() || t.val.empty())
    throw Error("task " + name + ": empty train or validation split");
  return t;
}

}  // namespace ot::data
