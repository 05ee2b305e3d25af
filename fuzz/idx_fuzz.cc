// libFuzzer target over the idx reader (data/idx.h, docs/reliability.md cases 38 and 43): the first
// byte picks images (even) or labels (odd), the rest is the file as stored, plain or gzip. An
// accepted file must have dimensions in range, data of exactly count x rows x cols bytes (for a
// plain file: the file size less the header) and every label < 10; anything else is ot::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/check.h"
#include "data/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool gzip = file.size() >= 2 && static_cast<uint8_t>(file[0]) == 0x1f &&
                    static_cast<uint8_t>(file[1]) == 0x8b;
  try {
    if (data[0] % 2 == 0) {
      const ot::data::IdxImages im = ot::data::ParseIdxImages(file, "fuzz.idx");
      OT_CHECK(im.count >= 1 && im.count <= ot::data::kIdxMaxCount) << "count " << im.count;
      OT_CHECK(im.rows >= 1 && im.rows <= ot::data::kIdxMaxSide) << "rows " << im.rows;
      OT_CHECK(im.cols >= 1 && im.cols <= ot::data::kIdxMaxSide) << "cols " << im.cols;
      OT_CHECK(im.pixels.size() == uint64_t{im.count} * im.rows * im.cols)
          << im.pixels.size() << " pixels for " << im.count << "x" << im.rows << "x" << im.cols;
      OT_CHECK(gzip || file.size() == 16 + im.pixels.size())
          << "a " << file.size() << "-byte plain file accepted with " << im.pixels.size()
          << " pixels";
    } else {
      const auto labels = ot::data::ParseIdxLabels(file, "fuzz.idx");
      OT_CHECK(!labels.empty() && labels.size() <= ot::data::kIdxMaxCount) << labels.size();
      OT_CHECK(gzip || file.size() == 8 + labels.size())
          << "a " << file.size() << "-byte plain file accepted with " << labels.size() << " labels";
      for (size_t i = 0; i < labels.size(); ++i)
        OT_CHECK(labels[i] < ot::data::kVisionClasses) << "label " << int{labels[i]} << " at " << i;
    }
  } catch (const ot::Error&) {
  }
  return 0;
}
