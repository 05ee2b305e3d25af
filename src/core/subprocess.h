// The one way overtrain runs a child process: an argv (never a shell string), an optional timeout,
// the exit status or signal in every error, stderr captured and quoted (a bounded tail), and
// children that die with their parent. Entry points: ProcessSpec, RunProcess, RunChecked, Child
// (long-lived or pooled children), WaitAny.
//
// Every child gets PR_SET_PDEATHSIG = SIGKILL (a killed parent leaves no orphan) and its own
// process group (a timeout kills the child and everything it started). PDEATHSIG fires when the
// *thread* that spawned the child exits, so spawn from a thread that outlives the child (the main
// thread in overtrain).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ot {

// How a child ended. Exactly one of: exited with `code`, killed by `signal`, or timed out (then
// killed).
struct ExitStatus {
  int code = -1;           // exit code when the child exited, else -1
  int signal = 0;          // terminating signal when it was killed, else 0
  bool timed_out = false;  // killed by us because it ran past its timeout
  double timeout_s = 0;    // the timeout it ran past (for the message)

  bool ok() const { return code == 0; }
  // The shell's convention: the exit code, or 128 + signal.
  int ShellCode() const { return code >= 0 ? code : 128 + signal; }
  // "exit code 3", "killed by signal 9 (Killed)", "timed out after 5 s (killed)".
  std::string Describe() const;
};

// Where the child's stdout goes; stderr follows it except with kPipe, where stderr is captured on
// its own.
enum class ChildOutput {
  kCapture,  // stdout and stderr interleaved into one bounded in-memory buffer (Child::output())
  kPipe,     // stdout read line by line with Child::ReadLine; stderr captured separately (bounded
             // tail)
  kFile,  // as kCapture, and the parent appends everything to ProcessSpec::log as it arrives (a log
          // that cannot be written, say on a full disk, loses nothing of the in-memory tail)
};

struct ProcessSpec {
  std::vector<std::string> argv;   // argv[0]: a path, or a program name looked up on PATH
  std::filesystem::path cwd{};     // empty: the parent's working directory
  std::vector<std::string> env{};  // "NAME=value", set on top of the parent's environment
  bool stdin_pipe = false;         // true: fed with Child::Write; false: /dev/null
  ChildOutput output = ChildOutput::kCapture;
  std::filesystem::path log{};             // kFile: the file (created if missing, appended to)
  size_t capture_bytes = size_t{1} << 20;  // captured text keeps at most its last this many bytes
};

// `argv` joined for messages: "gnuplot fig.gp".
std::string FormatCommand(const std::vector<std::string>& argv);
// The last `max_bytes` of `text` (prefixed "..." when cut), trailing whitespace dropped.
std::string TailOf(std::string_view text, size_t max_bytes);

// A running child. Movable; the destructor kills (SIGKILL, whole process group) and reaps a child
// that has not been waited for, so no early return leaks a process.
class Child {
 public:
  // Starts the child. Throws Error "cannot start `prog`: <reason>" when the program is missing, the
  // working directory does not exist, or exec fails (reported through a close-on-exec pipe).
  static Child Spawn(const ProcessSpec& spec);

  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // Writes to the child's stdin (spec.stdin_pipe). Throws Error quoting the child's output if it
  // has gone.
  void Write(std::string_view text);
  void CloseStdin();
  // The next line of stdout (ChildOutput::kPipe), without its newline; nullopt at end of output.
  // Throws Error if no complete line arrives within `timeout_s` (0 = wait forever). Keeps
  // collecting stderr meanwhile.
  std::optional<std::string> ReadLine(double timeout_s = 0);

  // Blocks until the child exits, collecting its output. With `timeout_s` > 0 the child's process
  // group is killed when the time is up and the status says so. Returns the cached status when
  // already reaped.
  ExitStatus Wait(double timeout_s = 0);
  // Non-blocking: the status if the child has exited (and is now reaped), else nullopt.
  std::optional<ExitStatus> TryWait();
  // Sends `signal` to the child's process group (the child and what it started). No-op once reaped.
  void Kill(int signal);

  bool reaped() const { return reaped_; }
  const ExitStatus& status() const { return status_; }
  // Captured output, its last ProcessSpec::capture_bytes at least (kCapture, kFile: stdout+stderr;
  // kPipe: stderr).
  const std::string& output() const { return captured_; }
  // The last `max_bytes` of what the child printed (kPipe: of its stderr).
  std::string OutputTail(size_t max_bytes = 2000) const;
  // One sentence for an Error: "`cmd` failed (exit code 3): <output tail>".
  std::string FailureMessage(size_t max_bytes = 2000) const;

 private:
  friend size_t WaitAny(std::span<Child* const> children);
  Child() = default;
  // Moves available bytes from the capture pipes into captured_ / line_buffer_; waits up to
  // `timeout_ms`
  // (-1 forever) for something to happen (output, EOF, or the child's exit). Returns false on
  // timeout.
  bool Pump(int timeout_ms);
  void Append(std::string& to, const char* data, size_t n);
  void WriteLog(const char* data, size_t n);
  void Reap(int wait_status);
  void Close();

  pid_t pid_ = -1;
  int pidfd_ = -1;     // readable when the child exits (Linux pidfd), -1 if unsupported
  int stdin_fd_ = -1;  // write end of the child's stdin
  int out_fd_ = -1;    // kPipe: read end of stdout
  int err_fd_ = -1;    // kCapture, kFile: stdout+stderr; kPipe: stderr
  int log_fd_ = -1;    // kFile: the log, appended to by Pump
  bool reaped_ = false;
  ExitStatus status_;
  std::vector<std::string> argv_;
  size_t capture_bytes_ = 0;
  std::string captured_;
  std::string line_buffer_;  // kPipe: stdout bytes not yet returned by ReadLine
  bool out_eof_ = false;
};

// Blocks until one of `children` (not yet reaped) exits; reaps it and returns its index. Output of
// the children is collected meanwhile. Requires at least one unreaped child.
size_t WaitAny(std::span<Child* const> children);

struct ProcessResult {
  ExitStatus status;
  std::string output;  // captured stdout+stderr (bounded tail)
};

// Runs to completion (spec.output must be kCapture). Throws Error only when it cannot start.
ProcessResult RunProcess(const ProcessSpec& spec, double timeout_s = 0);
// RunProcess, then throws Error "`cmd` failed (<status>): <output tail>" unless it exited 0.
// Returns output.
std::string RunChecked(const ProcessSpec& spec, double timeout_s = 0);

}  // namespace ot
