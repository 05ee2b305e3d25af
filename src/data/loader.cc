// TokenLoader: Philox-keyed per-epoch window permutations over a memory-mapped token file.
#include "data/loader.h"

#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/rng.h"

namespace ot::data {

nlohmann::json CursorToJson(const LoaderCursor& c) {
  return {{"epoch", c.epoch}, {"index", c.index}};
}

LoaderCursor CursorFromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("epoch") || !j.contains("index") ||
      !j["epoch"].is_number_integer() || !j["index"].is_number_integer())
    throw Error("loader cursor: expected {\"epoch\": int, \"index\": int}, got " + j.dump());
  LoaderCursor c{j["epoch"].get<int64_t>(), j["index"].get<int64_t>()};
  if (c.epoch < 0 || c.index < 0) throw Error("loader cursor: epoch and index must be >= 0");
  return c;
}

TokenLoader::TokenLoader(const std::filesystem::path& file, int64_t batch, int64_t seq_len,
                         uint64_t seed, bool shuffle)
    : batch_(batch), seq_len_(seq_len), seed_(seed), shuffle_(shuffle) {
  if (batch <= 0 || seq_len <= 0)
    throw Error(file.string() + ": loader needs batch > 0 and seq_len > 0");
  // One batch needs B windows: N >= B*T + T tokens (the window slack covers the epoch offset).
  file_ = TokenFile::Open(file, static_cast<uint64_t>(batch * seq_len + seq_len));
  const int64_t n = static_cast<int64_t>(file_.size());
  windows_ = (n - seq_len) / seq_len;
  if (windows_ < batch_)
    throw Error(file.string() + ": shorter than one batch: " + std::to_string(windows_) +
                " windows of " + std::to_string(seq_len + 1) + " tokens, need " +
                std::to_string(batch));
}

int64_t TokenLoader::Offset(int64_t epoch) const {
  if (!shuffle_ || epoch == 0) return 0;
  const auto r = Philox(RngKey(seed_, StreamId("loader/offset")), 0, static_cast<uint64_t>(epoch));
  return static_cast<int64_t>(r[0] % static_cast<uint32_t>(seq_len_));
}

const std::vector<uint32_t>& TokenLoader::Order(int64_t epoch) const {
  if (cached_epoch_ == epoch) return order_;
  order_.resize(windows_);
  for (int64_t i = 0; i < windows_; ++i) order_[i] = static_cast<uint32_t>(i);
  if (shuffle_) {
    const uint64_t key = RngKey(seed_, StreamId("loader/order"), static_cast<uint64_t>(epoch));
    for (int64_t i = windows_; i > 1; --i) {
      const auto r = Philox(key, 0, static_cast<uint64_t>(i));
      const uint64_t x = (static_cast<uint64_t>(r[0]) << 32) | r[1];
      std::swap(order_[i - 1], order_[x % static_cast<uint64_t>(i)]);
    }
  }
  cached_epoch_ = epoch;
  return order_;
}

void TokenLoader::Batch(const LoaderCursor& at, std::span<int32_t> inputs,
                        std::span<int32_t> targets) const {
  OT_CHECK(static_cast<int64_t>(inputs.size()) == batch_ * seq_len_ &&
           static_cast<int64_t>(targets.size()) == batch_ * seq_len_)
      << "TokenLoader::Batch expects spans of B*T = " << batch_ * seq_len_;
  OT_CHECK(at.index < batches_per_epoch()) << "batch index " << at.index << " past the epoch";
  const auto& order = Order(at.epoch);
  const int64_t offset = Offset(at.epoch);
  std::vector<int32_t> window(seq_len_ + 1);
  for (int64_t b = 0; b < batch_; ++b) {
    const int64_t start = offset + static_cast<int64_t>(order[at.index * batch_ + b]) * seq_len_;
    file_.Read(static_cast<uint64_t>(start), window);
    for (int64_t t = 0; t < seq_len_; ++t) {
      inputs[b * seq_len_ + t] = window[t];
      targets[b * seq_len_ + t] = window[t + 1];
    }
  }
}

void TokenLoader::Next(std::span<int32_t> inputs, std::span<int32_t> targets) {
  Batch(cursor_, inputs, targets);
  if (++cursor_.index >= batches_per_epoch()) {
    ++cursor_.epoch;
    cursor_.index = 0;
  }
}

void TokenLoader::SetCursor(const LoaderCursor& c) {
  if (c.epoch < 0 || c.index < 0 || c.index >= batches_per_epoch())
    throw Error(file_.path().string() + ": loader cursor {epoch " + std::to_string(c.epoch) +
                ", index " + std::to_string(c.index) + "} is outside this file's " +
                std::to_string(batches_per_epoch()) + " batches per epoch");
  cursor_ = c;
}

int64_t TokenLoader::tokens_consumed() const {
  return (cursor_.epoch * batches_per_epoch() + cursor_.index) * batch_ * seq_len_;
}

double TokenLoader::Epochs() const {
  return static_cast<double>(tokens_consumed()) / static_cast<double>(file_.size());
}

}  // namespace ot::data
