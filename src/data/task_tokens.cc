// Task split tokenization, storage (.tok + .jsonl index) and the fine-tuning batcher.
#include "data/task_tokens.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/check.h"
#include "core/fileio.h"
#include "core/rng.h"
#include "data/token_file.h"
#include "data/util.h"

namespace ot::data {

namespace fs = std::filesystem;

int64_t TaskSplit::TargetTokens() const {
  int64_t n = 0;
  for (const auto& r : records) n += r.target_len + 1;
  return n;
}

TaskSplit TokenizeTask(const std::string& task, const std::string& split,
                       const std::vector<TaskExample>& examples,
                       const std::vector<std::string>& labels, const TextTokenizer& tokenizer) {
  TaskSplit s;
  s.task = task;
  s.split = split;
  s.vocab_size = tokenizer.vocab_size();
  s.eod_id = tokenizer.eod_id();
  for (const auto& l : labels) s.labels.push_back(tokenizer.Encode(l));
  const int64_t n = static_cast<int64_t>(examples.size());
  std::vector<std::vector<int32_t>> prompts(n), targets(n);
  std::vector<std::vector<std::vector<int32_t>>> choices(n);
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t i = 0; i < n; ++i) {
    prompts[i] = tokenizer.Encode(examples[i].prompt);
    targets[i] = tokenizer.Encode(examples[i].target);
    if (labels.empty())
      for (const auto& c : examples[i].choices) choices[i].push_back(tokenizer.Encode(c));
  }
  for (int64_t i = 0; i < n; ++i) {
    TaskRecord r;
    r.offset = s.tokens.size();
    r.prompt_len = static_cast<uint32_t>(prompts[i].size());
    r.target_len = static_cast<uint32_t>(targets[i].size());
    r.gold = examples[i].gold;
    r.choices = std::move(choices[i]);
    s.tokens.insert(s.tokens.end(), prompts[i].begin(), prompts[i].end());
    s.tokens.insert(s.tokens.end(), targets[i].begin(), targets[i].end());
    s.tokens.push_back(s.eod_id);
    s.records.push_back(std::move(r));
  }
  return s;
}

void WriteTaskSplit(const fs::path& dir, const TaskSplit& s) {
  fs::create_directories(dir);
  const std::string base = s.task + "." + s.split;
  const TokenFileInfo info =
      WriteTokenFile(dir / (base + ".tok"), s.tokens, s.vocab_size, s.eod_id);
  nlohmann::json head = {{"format", "overtrain-task"},
                         {"version", 1},
                         {"task", s.task},
                         {"split", s.split},
                         {"examples", s.records.size()},
                         {"tokens", s.tokens.size()},
                         {"tok_xxh3", info.xxh3},
                         {"labels", s.labels}};
  std::ostringstream out;
  out << head.dump() << "\n";
  for (const auto& r : s.records) {
    nlohmann::json j = {{"o", r.offset}, {"p", r.prompt_len}, {"t", r.target_len}, {"g", r.gold}};
    if (!r.choices.empty()) j["c"] = r.choices;
    out << j.dump() << "\n";
  }
  WriteFileAtomic(dir / (base + ".jsonl"), out.str());
}

TaskSplit ReadTaskSplit(const fs::path& dir, const std::string& task, const std::string& split) {
  const std::string base = task + "." + split;
  const fs::path index_path = dir / (base + ".jsonl");
  const std::string where = index_path.string();
  const TokenFile tok = TokenFile::Open(dir / (base + ".tok"));
  TaskSplit s;
  s.task = task;
  s.split = split;
  s.vocab_size = static_cast<int32_t>(tok.info().vocab_size);
  s.eod_id = tok.info().eod_id;
  s.tokens = tok.ReadAll();
  std::istringstream in(ReadFile(index_path));
  std::string line;
  size_t line_no = 0;
  try {
    std::getline(in, line);
    ++line_no;
    const auto head = nlohmann::json::parse(line);
    if (head.value("format", "") != "overtrain-task" || head.value("version", 0) != 1)
      throw Error(where + ": not an overtrain task index (format/version)");
    if (head.at("tok_xxh3").get<uint64_t>() != tok.info().xxh3 ||
        head.at("tokens").get<uint64_t>() != tok.size())
      throw Error(where + ": index does not belong to " + base +
                  ".tok (token count or checksum differ)");
    s.labels = head.at("labels").get<std::vector<std::vector<int32_t>>>();
    const size_t n = head.at("examples").get<size_t>();
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      const auto j = nlohmann::json::parse(line);
      TaskRecord r;
      r.offset = j.at("o").get<uint64_t>();
      r.prompt_len = j.at("p").get<uint32_t>();
      r.target_len = j.at("t").get<uint32_t>();
      r.gold = j.at("g").get<int32_t>();
      if (j.contains("c")) r.choices = j["c"].get<std::vector<std::vector<int32_t>>>();
      if (r.offset + r.prompt_len + r.target_len + 1 > s.tokens.size())
        throw Error(where + ":" + std::to_string(line_no) +
                    ": example runs past the end of the token file");
      s.records.push_back(std::move(r));
    }
    if (s.records.size() != n)
      throw Error(where + ": header says " + std::to_string(n) + " examples, found " +
                  std::to_string(s.records.size()));
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ":" + std::to_string(line_no) + ": malformed index line (" + e.what() +
                ")");
  }
  return s;
}

FinetuneBatcher::FinetuneBatcher(const TaskSplit& split, int64_t batch, int64_t seq_len,
                                 uint64_t seed, bool shuffle)
    : split_(split),
      batch_(batch),
      seq_len_(seq_len),
      n_(static_cast<int64_t>(split.records.size())),
      seed_(seed),
      shuffle_(shuffle) {
  if (batch <= 0 || seq_len <= 0)
    throw Error("fine-tuning batcher needs batch > 0 and seq_len > 0");
  if (n_ == 0) throw Error("task " + split.task + "." + split.split + ": no examples to batch");
}

void FinetuneBatcher::Batch(const LoaderCursor& at, std::span<int32_t> inputs,
                            std::span<int32_t> targets) const {
  const int64_t T = seq_len_;
  OT_CHECK(static_cast<int64_t>(inputs.size()) == batch_ * T &&
           static_cast<int64_t>(targets.size()) == batch_ * T)
      << "FinetuneBatcher::Batch expects spans of B*T";
  if (cached_epoch_ != at.epoch) {
    order_.resize(n_);
    for (int64_t i = 0; i < n_; ++i) order_[i] = static_cast<size_t>(i);
    if (shuffle_) {
      const uint64_t key =
          RngKey(seed_, StreamId("finetune/order"), static_cast<uint64_t>(at.epoch));
      for (int64_t i = n_; i > 1; --i) {
        const auto r = Philox(key, 0, static_cast<uint64_t>(i));
        const uint64_t x = (static_cast<uint64_t>(r[0]) << 32) | r[1];
        std::swap(order_[i - 1], order_[x % static_cast<uint64_t>(i)]);
      }
    }
    cached_epoch_ = at.epoch;
  }
  const uint64_t crop_key =
      RngKey(seed_, StreamId("finetune/crop"), static_cast<uint64_t>(at.epoch));
  for (int64_t b = 0; b < batch_; ++b) {
    int32_t* in = inputs.data() + b * T;
    int32_t* tg = targets.data() + b * T;
    std::fill(in, in + T, split_.eod_id);
    std::fill(tg, tg + T, -1);
    int64_t slot = at.index * batch_ + b;
    if (slot >= n_) {
      if (!shuffle_) continue;  // evaluation: padding rows
      slot %= n_;
    }
    const size_t ex = order_[slot];
    const TaskRecord& r = split_.records[ex];
    const int64_t len = static_cast<int64_t>(r.prompt_len) + r.target_len + 1;  // with eod
    const int32_t* x = split_.tokens.data() + r.offset;
    int64_t s = 0;
    if (len > T + 1) {
      s = std::min<int64_t>(len - (T + 1), r.prompt_len);
      if (len - s > T + 1 && shuffle_) {  // the target alone is longer than the window
        const int64_t span = len - s - (T + 1);
        const auto rr = Philox(crop_key, 0, static_cast<uint64_t>(ex));
        s += static_cast<int64_t>(((static_cast<uint64_t>(rr[0]) << 32) | rr[1]) %
                                  static_cast<uint64_t>(span + 1));
      }
    }
    const int64_t avail = std::min<int64_t>(len - s, T + 1);  // tokens of x in this row
    for (int64_t t = 0; t + 1 < avail; ++t) {
      in[t] = x[s + t];
      const int64_t next = s + t + 1;  // position of the predicted token in x
      tg[t] = next >= static_cast<int64_t>(r.prompt_len) ? x[next] : -1;
    }
  }
}

void FinetuneBatcher::Next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  Batch(cursor_, inputs, targets);
  if (++cursor_.index >= batches_per_epoch()) {
    ++cursor_.epoch;
    cursor_.index = 0;
  }
}

void FinetuneBatcher::SetCursor(const LoaderCursor& c) {
  if (c.epoch < 0 || c.index < 0 || c.index >= batches_per_epoch())
    throw Error("task " + split_.task + ": fine-tuning cursor outside the " +
                std::to_string(batches_per_epoch()) + " batches per epoch");
  cursor_ = c;
}

double FinetuneBatcher::Epochs() const {
  return static_cast<double>((cursor_.epoch * batches_per_epoch() + cursor_.index) * batch_) /
         static_cast<double>(n_);
}

}  // namespace ot::data
