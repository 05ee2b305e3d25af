// Problem lists for load errors (see listing.h).
#include "core/listing.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ot {

std::string ListedNames(const std::string& one, const std::string& many,
                        const std::vector<std::string>& items) {
  std::string s = fmt::format("{} {}: ", items.size(), items.size() == 1 ? one : many);
  for (size_t i = 0; i < items.size() && i < kListed; ++i) s += (i ? ", " : "") + items[i];
  if (items.size() > kListed) s += fmt::format(" and {} more", items.size() - kListed);
  return s;
}

std::string BracketedShape(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::vector<std::string> TensorMismatches::Sentences(const std::string& dtypes_allowed) const {
  std::vector<std::string> out;
  if (!missing.empty()) out.push_back(ListedNames("tensor missing", "tensors missing", missing));
  if (!unexpected.empty())
    out.push_back(ListedNames("unexpected tensor", "unexpected tensors", unexpected));
  if (!shapes.empty())
    out.push_back(
        ListedNames("tensor with the wrong shape", "tensors with the wrong shape", shapes));
  if (!dtypes.empty())
    out.push_back(
        ListedNames("tensor not " + dtypes_allowed, "tensors not " + dtypes_allowed, dtypes));
  return out;
}

}  // namespace ot
