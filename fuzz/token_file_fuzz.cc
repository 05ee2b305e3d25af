// libFuzzer target over the token-file reader (docs/formats.md "Token files",
// docs/reliability.md cases 20-21): any file must either open into a view whose every token is <
// vocab and whose size matches the header, or throw ot::Error. The bytes go through a scratch file
// because TokenFile::Open memory-maps a path.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/check.h"
#include "data/token_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ot::fuzz::ScratchDir() / "tokens.bin";
  ot::fuzz::PutFile(path, data, size);
  try {
    const ot::data::TokenFileInfo header = ot::data::ReadTokenHeader(path);
    OT_CHECK(header.tokens > 0 && (header.dtype_bytes == 2 || header.dtype_bytes == 4))
        << "accepted width " << header.dtype_bytes;
    OT_CHECK(ot::data::kTokenHeaderBytes + header.tokens * header.dtype_bytes == size)
        << "header count " << header.tokens << " accepted for a " << size << "-byte file";
  } catch (const ot::Error&) {
  }
  try {
    // min_tokens from the first byte, so that "shorter than one batch" is reachable as well.
    const uint64_t min_tokens = size > 0 ? data[0] % 8 : 1;
    const ot::data::TokenFile file = ot::data::TokenFile::Open(path, min_tokens);
    const ot::data::TokenFileInfo& info = file.info();
    OT_CHECK(info.tokens >= min_tokens && info.tokens == file.size()) << info.tokens << " tokens";
    const std::vector<int32_t> all = file.ReadAll();
    OT_CHECK(all.size() == info.tokens) << "ReadAll returned " << all.size();
    for (uint64_t i = 0; i < all.size(); ++i) {
      OT_CHECK(all[i] >= 0 && static_cast<uint32_t>(all[i]) < info.vocab_size) << "token at " << i;
      OT_CHECK(all[i] == file[i]) << "operator[] disagrees at " << i;
    }
  } catch (const ot::Error&) {
  }
  return 0;
}
