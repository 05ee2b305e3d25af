// Problem lists for load errors: "3 tensors missing: a, b, c" with at most kListed names, and a
// shape as "[2, 3]". Shared by the HF weight check (model/hf_weights) and the checkpoint check
// (train/model_check). Entry points: ListedNames, BracketedShape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ot {

inline constexpr size_t kListed = 10;  // names listed per kind of problem; the rest are counted

// "<n> <one|many>: a, b, c" with `one` when n == 1, else `many`; at most kListed items, then
// " and N more".
std::string ListedNames(const std::string& one, const std::string& many,
                        const std::vector<std::string>& items);

// "[2, 3]" (empty shape: "[]").
std::string BracketedShape(const std::vector<int64_t>& shape);

// What comparing a file's tensors with the expected ones found, by kind; each entry is a quoted
// name ("'a'") or a quoted name with its problem ("'a' is [2, 3], expected [3, 2]").
struct TensorMismatches {
  std::vector<std::string> missing, unexpected, shapes, dtypes;

  // One ListedNames sentence per non-empty kind, in the order above; the dtype one reads
  // "tensor(s) not <dtypes_allowed>" (e.g. "F32, BF16 or F16"). Empty when nothing was found.
  std::vector<std::string> Sentences(const std::string& dtypes_allowed) const;
};

}  // namespace ot
