// Two tiers of errors (docs/design.md, style rule 10).
//   OT_CHECK(cond) << context;   a broken invariant: prints file:line and the context, then aborts.
//   throw ot::Error("...");      a user-facing failure: one sentence naming the file, field and
//   expectation.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace ot {

// A failure the user can fix (bad config, corrupt file, missing data). The CLI prints what() and
// exits 1.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// The text of an errno value (strerror), for the "<path>: <what> failed: <why>" sentences of Error.
std::string ErrnoText(int err);

namespace detail {
// Collects the streamed context of a failed OT_CHECK and aborts in its destructor.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};
// Lets `OT_CHECK(c) << x` compile as a void expression in both branches of the ternary.
struct Voidify {
  void operator&(CheckFailure&) {}
};
}  // namespace detail

}  // namespace ot

#define OT_CHECK(cond) \
  (cond) ? (void)0 : ::ot::detail::Voidify() & ::ot::detail::CheckFailure(__FILE__, __LINE__, #cond)
