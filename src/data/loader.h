// The deterministic, resumable pre-training loader: batches of B windows of T+1 tokens from a token
// file, in an order that is a pure function of (seed, epoch), with a JSON-serialisable cursor.
// Entry points: TokenLoader (Next, Batch, cursor, SetCursor, Epochs), LoaderCursor
// (ToJson/FromJson).
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <vector>

#include "data/token_file.h"

namespace ot::data {

// Where the loader is: the next batch is batch `index` of epoch `epoch`.
struct LoaderCursor {
  int64_t epoch = 0;
  int64_t index = 0;
  bool operator==(const LoaderCursor&) const = default;
};
nlohmann::json CursorToJson(const LoaderCursor& c);    // {"epoch": e, "index": i}
LoaderCursor CursorFromJson(const nlohmann::json& j);  // throws Error on missing/negative fields

// Windows: W = floor((N - T) / T) of them per epoch (N tokens in the file); window j of epoch e
// starts at offset(e) + j*T where offset(0) = 0 and offset(e > 0) is a seeded value in [0, T): each
// epoch sees the text cut at different places. Window order: a Philox-keyed permutation of 0..W-1
// per (seed, epoch). Batch k of an epoch holds windows perm[k*B .. k*B+B-1]; batches per epoch =
// floor(W / B) (the remainder is dropped). inputs[b*T + t] = window[t], targets[b*T + t] =
// window[t+1]. With shuffle = false (evaluation) the order is 0..W-1 and every offset is 0.
class TokenLoader {
 public:
  TokenLoader(const std::filesystem::path& file, int64_t batch, int64_t seq_len, uint64_t seed,
              bool shuffle = true);

  // Fills the batch at the cursor (B*T each) and advances it (rolling into the next epoch).
  void Next(std::span<int32_t> inputs, std::span<int32_t> targets);
  // The batch at an arbitrary position; a pure function of (file, B, T, seed, epoch, index).
  void Batch(const LoaderCursor& at, std::span<int32_t> inputs, std::span<int32_t> targets) const;

  const LoaderCursor& cursor() const { return cursor_; }
  void SetCursor(const LoaderCursor& c);

  int64_t batches_per_epoch() const { return windows_ / batch_; }
  int64_t windows_per_epoch() const { return windows_; }
  int64_t tokens_per_batch() const { return batch_ * seq_len_; }
  // Target tokens consumed so far (batches done * B * T) and that divided by the file's token
  // count.
  int64_t tokens_consumed() const;
  double Epochs() const;
  const TokenFile& file() const { return file_; }

 private:
  const std::vector<uint32_t>& Order(int64_t epoch) const;
  int64_t Offset(int64_t epoch) const;

  TokenFile file_;
  int64_t batch_, seq_len_;
  uint64_t seed_;
  bool shuffle_;
  int64_t windows_ = 0;
  LoaderCursor cursor_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<uint32_t> order_;
};

}  // namespace ot::data
