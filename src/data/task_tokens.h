// Tokenized task splits (docs/formats.md "Task files": <task>.<split>.tok + <task>.<split>.jsonl)
// and the fine-tuning batcher: rows of one example each, inputs/targets with target = -1 on prompt
// and padding. Entry points: TokenizeTask, WriteTaskSplit, ReadTaskSplit, FinetuneBatcher.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "data/loader.h"
#include "data/tasks.h"
#include "data/text_tokenizer.h"

namespace ot::data {

// One tokenized example: tokens[offset .. offset+prompt_len) is the prompt, the next target_len
// tokens the target, followed by one end-of-document token (part of the loss, so the model learns
// to stop).
struct TaskRecord {
  uint64_t offset = 0;
  uint32_t prompt_len = 0, target_len = 0;
  int32_t gold = -1;
  std::vector<std::vector<int32_t>>
      choices;  // per-example choices (siqa, piqa); empty for label tasks
};

struct TaskSplit {
  std::string task, split;  // split: "train" or "val"
  int32_t vocab_size = 0, eod_id = -1;
  std::vector<int32_t> tokens;
  std::vector<TaskRecord> records;
  std::vector<std::vector<int32_t>>
      labels;  // shared label continuations (mr, rte, trec, sentiment)

  // The choices of example i (its own, or the shared labels).
  const std::vector<std::vector<int32_t>>& Choices(size_t i) const {
    return records[i].choices.empty() ? labels : records[i].choices;
  }
  std::span<const int32_t> Prompt(size_t i) const {
    return {tokens.data() + records[i].offset, records[i].prompt_len};
  }
  std::span<const int32_t> Target(size_t i) const {
    return {tokens.data() + records[i].offset + records[i].prompt_len, records[i].target_len};
  }
  // Loss-bearing tokens of the split (targets + their end-of-document tokens).
  int64_t TargetTokens() const;
};

// Tokenizes examples: prompt and target separately (then concatenated), each choice like a target.
TaskSplit TokenizeTask(const std::string& task, const std::string& split,
                       const std::vector<TaskExample>& examples,
                       const std::vector<std::string>& labels, const TextTokenizer& tokenizer);

// Writes <dir>/<task>.<split>.tok (token file) and <dir>/<task>.<split>.jsonl (index; written
// last).
void WriteTaskSplit(const std::filesystem::path& dir, const TaskSplit& s);
// Reads them back; checks the index against the token file (count, checksum, offsets in range).
TaskSplit ReadTaskSplit(const std::filesystem::path& dir, const std::string& task,
                        const std::string& split);

// Fine-tuning batches (B rows of T): row b holds one example, tokens x = prompt + target + eod;
// inputs[t] = x[s + t], targets[t] = x[s + t + 1] when that position is a target or the eod, else
// -1; positions past the example are padded with input = eod and target = -1. An example longer
// than T+1 is cut: window start s = min(len - (T+1), prompt_len) keeps the whole target when it
// fits; a target longer than T (code files) gets a seeded start within the target, drawn per (seed,
// epoch, example). Example order: a Philox permutation per (seed, epoch); batches_per_epoch =
// ceil(n / B), the last batch wrapping around to the start of the permutation. shuffle = false
// (evaluation): examples in order, offset 0 (the first T+1 tokens after the prompt cut), and rows
// past the end are all padding.
class FinetuneBatcher {
 public:
  FinetuneBatcher(const TaskSplit& split, int64_t batch, int64_t seq_len, uint64_t seed,
                  bool shuffle = true);

  void Next(std::span<int32_t> inputs, std::span<int32_t> targets);
  void Batch(const LoaderCursor& at, std::span<int32_t> inputs, std::span<int32_t> targets) const;
  const LoaderCursor& cursor() const { return cursor_; }
  void SetCursor(const LoaderCursor& c);
  int64_t batches_per_epoch() const { return (n_ + batch_ - 1) / batch_; }
  // Epochs as examples consumed / examples in the split.
  double Epochs() const;

 private:
  const TaskSplit& split_;
  int64_t batch_, seq_len_, n_;
  uint64_t seed_;
  bool shuffle_;
  LoaderCursor cursor_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<size_t> order_;
};

}  // namespace ot::data
