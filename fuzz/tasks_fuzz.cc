// libFuzzer target over the task parsers (data/tasks.h): GSM8K/SIQA/PIQA JSONL (with their label
// files), RTE TSV, TREC and MR text. The first byte picks the parser; a NUL byte splits the rest
// into the two files the paired parsers take (items and labels, or positive and negative reviews).
// Any input must parse into well-formed examples (gold indexes the choices, target ==
// choices[gold]) or throw ot::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "data/tasks.h"

namespace {

void CheckExamples(const std::vector<ot::data::TaskExample>& examples) {
  for (const auto& e : examples) {
    if (e.choices.empty()) {
      OT_CHECK(e.gold == -1) << "gold " << e.gold << " without choices";
    } else {
      OT_CHECK(e.gold >= 0 && static_cast<size_t>(e.gold) < e.choices.size()) << "gold " << e.gold;
      OT_CHECK(e.target == e.choices[e.gold]) << "target is not the gold choice";
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t nul = all.find('\0');
  const std::string_view first = all.substr(0, nul);
  const std::string_view second =
      nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);
  const std::string where = "fuzz";
  try {
    switch (data[0] % 6) {
      case 0:
        CheckExamples(ot::data::ParseGsm8k(all, where));
        break;
      case 1:
        CheckExamples(ot::data::ParseSiqa(first, second, where));
        break;
      case 2:
        CheckExamples(ot::data::ParsePiqa(first, second, where));
        break;
      case 3:
        CheckExamples(ot::data::ParseRte(all, where));
        break;
      case 4:
        CheckExamples(ot::data::ParseTrec(all, where));
        break;
      case 5:
        CheckExamples(ot::data::ParseMr(first, second, where));
        break;
    }
  } catch (const ot::Error&) {
  }
  return 0;
}
