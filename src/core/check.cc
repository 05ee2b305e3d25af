// OT_CHECK failure reporting.
#include "core/check.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ot {
std::string ErrnoText(int err) { return std::strerror(err); }
}  // namespace ot

namespace ot::detail {

CheckFailure::CheckFailure(const char* file, int line, const char* condition) {
  stream_ << file << ":" << line << ": check failed: " << condition << " ";
}

CheckFailure::~CheckFailure() {
  std::fprintf(stderr, "%s\n", stream_.str().c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ot::detail
