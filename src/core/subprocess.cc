// fork + execve with PDEATHSIG, a process group, close-on-exec error reporting, pidfd-driven
// waiting and bounded output capture (see subprocess.h).
#include "core/subprocess.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <utility>

#include "core/check.h"

extern char** environ;

namespace ot {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// What the child reports through the error pipe when it cannot become the program.
struct SpawnFailure {
  int stage;  // kStageChdir or kStageExec
  int err;    // errno
};
constexpr int kStageChdir = 1, kStageExec = 2;

// Poll interval when the kernel has no pidfd (exit is then noticed by polling waitpid).
constexpr int kFallbackPollMs = 10;

// argv[0] as execvp would find it, resolved in the parent (PATH search allocates, which a forked
// child of a multi-threaded parent must not do). A name with a '/' is taken relative to the
// parent's directory.
std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return fs::absolute(name).string();
  const char* env_path = std::getenv("PATH");
  const std::string path = env_path && *env_path ? env_path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  for (;;) {
    const size_t end = path.find(':', start);
    const std::string_view dir = std::string_view(path).substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    const std::string candidate =
        fmt::format("{}/{}", dir.empty() ? std::string_view(".") : dir, name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  throw Error("cannot start `" + name + "`: no such program on PATH (" + path + ")");
}

// The parent's environment with spec.env's NAME=value entries replacing or adding.
std::vector<std::string> BuildEnvironment(const std::vector<std::string>& overrides) {
  std::vector<std::string> out;
  auto name_of = [](std::string_view entry) { return entry.substr(0, entry.find('=')); };
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    bool replaced = false;
    for (const auto& o : overrides) replaced |= name_of(o) == name_of(entry);
    if (!replaced) out.emplace_back(entry);
  }
  for (const auto& o : overrides) {
    OT_CHECK(o.find('=') != std::string::npos) << "environment entry without '=': " << o;
    out.push_back(o);
  }
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// In the forked child: puts `fd` on `target` without close-on-exec (async-signal-safe).
void MoveFd(int fd, int target) {
  if (fd == target) {
    ::fcntl(fd, F_SETFD, 0);
  } else {
    ::dup2(fd, target);
  }
}

[[noreturn]] void ChildFail(int error_fd, int stage) {
  const SpawnFailure failure{stage, errno};
  [[maybe_unused]] ssize_t n = ::write(error_fd, &failure, sizeof(failure));
  ::_exit(127);
}

int MillisUntil(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (timed_out) return fmt::format("timed out after {:g} s and was killed", timeout_s);
  if (signal != 0) return fmt::format("killed by signal {} ({})", signal, strsignal(signal));
  return fmt::format("exit code {}", code);
}

std::string FormatCommand(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::string TailOf(std::string_view text, size_t max_bytes) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r'))
    text.remove_suffix(1);
  if (text.size() <= max_bytes) return std::string(text);
  return "..." + std::string(text.substr(text.size() - max_bytes));
}

Child Child::Spawn(const ProcessSpec& spec) {
  OT_CHECK(!spec.argv.empty()) << "Child::Spawn needs a program";
  Child child;
  child.argv_ = spec.argv;
  child.capture_bytes_ = spec.capture_bytes;
  std::vector<std::string> args = spec.argv;
  const std::string program = ResolveProgram(args[0]);
  std::vector<std::string> env = BuildEnvironment(spec.env);
  std::vector<char*> c_args = CStrings(args), c_env = CStrings(env);
  const std::string cwd = spec.cwd.string();

  // Everything the child needs is opened here, close-on-exec; the child only moves fds and execs.
  int in_fd[2] = {-1, -1}, out_fd[2] = {-1, -1}, err_fd[2] = {-1, -1}, report[2] = {-1, -1};
  int log_fd = -1;
  auto close_all = [&] {
    for (int* pair : {in_fd, out_fd, err_fd, report}) CloseFd(pair[0]), CloseFd(pair[1]);
    CloseFd(log_fd);
  };
  auto fail = [&](const std::string& what) {
    const int err = errno;
    close_all();
    throw Error("cannot start `" + spec.argv[0] + "`: " + what + ": " + ErrnoText(err));
  };
  if (spec.stdin_pipe) {
    if (::pipe2(in_fd, O_CLOEXEC) != 0) fail("pipe");
  } else if ((in_fd[0] = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
    fail("/dev/null");
  }
  if (spec.output == ChildOutput::kFile) {
    OT_CHECK(!spec.log.empty()) << "ChildOutput::kFile needs ProcessSpec::log";
    log_fd = ::open(spec.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) fail("log file " + spec.log.string());
  }
  if (::pipe2(err_fd, O_CLOEXEC) != 0) fail("pipe");
  if (spec.output == ChildOutput::kPipe) {
    if (::pipe2(out_fd, O_CLOEXEC) != 0) fail("pipe");
  } else {
    out_fd[1] = ::dup(err_fd[1]);  // one stream, interleaved as the child wrote it
    ::fcntl(out_fd[1], F_SETFD, FD_CLOEXEC);
  }
  if (::pipe2(report, O_CLOEXEC) != 0) fail("pipe");

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    // Async-signal-safe calls only from here to execve: the parent may have other threads.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // a parent that ignores SIGPIPE must not hand that to the program
    MoveFd(in_fd[0], STDIN_FILENO);
    MoveFd(out_fd[1], STDOUT_FILENO);
    MoveFd(err_fd[1], STDERR_FILENO);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ChildFail(report[1], kStageChdir);
    ::execve(program.c_str(), c_args.data(), c_env.data());
    ChildFail(report[1], kStageExec);
  }
  ::setpgid(
      pid,
      pid);  // also here, so a Kill right after Spawn reaches the group (EACCES after exec is fine)
  child.pid_ = pid;
  CloseFd(in_fd[0]);
  CloseFd(out_fd[1]);
  CloseFd(err_fd[1]);
  CloseFd(report[1]);
  SpawnFailure failure{};
  ssize_t got;
  do {
    got = ::read(report[0], &failure, sizeof(failure));
  } while (got < 0 && errno == EINTR);
  CloseFd(report[0]);
  if (got == static_cast<ssize_t>(sizeof(failure))) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    child.reaped_ = true;
    close_all();
    throw Error("cannot start `" + spec.argv[0] + "`: " +
                (failure.stage == kStageChdir ? "working directory " + cwd + ": " : std::string()) +
                ErrnoText(failure.err));
  }
  child.stdin_fd_ = in_fd[1];
  child.out_fd_ = out_fd[0];
  child.err_fd_ = err_fd[0];
  child.log_fd_ = log_fd;
  for (int fd : {child.out_fd_, child.err_fd_})
    if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  child.pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1 on kernels before 5.3
  if (child.pidfd_ >= 0) ::fcntl(child.pidfd_, F_SETFD, FD_CLOEXEC);
  return child;
}

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
  if (this == &other) return *this;
  Close();
  pid_ = std::exchange(other.pid_, -1);
  pidfd_ = std::exchange(other.pidfd_, -1);
  stdin_fd_ = std::exchange(other.stdin_fd_, -1);
  log_fd_ = std::exchange(other.log_fd_, -1);
  out_fd_ = std::exchange(other.out_fd_, -1);
  err_fd_ = std::exchange(other.err_fd_, -1);
  reaped_ = std::exchange(other.reaped_, true);
  status_ = other.status_;
  argv_ = std::move(other.argv_);
  capture_bytes_ = other.capture_bytes_;
  captured_ = std::move(other.captured_);
  line_buffer_ = std::move(other.line_buffer_);
  out_eof_ = other.out_eof_;
  return *this;
}

Child::~Child() { Close(); }

void Child::Close() {
  if (pid_ > 0 && !reaped_) {
    Kill(SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  for (int* fd : {&pidfd_, &stdin_fd_, &out_fd_, &err_fd_, &log_fd_}) CloseFd(*fd);
}

void Child::Kill(int signal) {
  if (pid_ <= 0 || reaped_) return;
  if (::kill(-pid_, signal) != 0) ::kill(pid_, signal);
}

void Child::Append(std::string& to, const char* data, size_t n) {
  to.append(data, n);
  // Keep the tail: trim only when twice over the bound, so appends stay amortised O(1).
  if (&to == &captured_ && to.size() > 2 * capture_bytes_) to.erase(0, to.size() - capture_bytes_);
}

void Child::Reap(int wait_status) {
  reaped_ = true;
  status_.code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  status_.signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
  CloseFd(pidfd_);
}

bool Child::Pump(int timeout_ms) {
  std::vector<pollfd> fds;
  for (int fd : {out_fd_, err_fd_, reaped_ ? -1 : pidfd_})
    if (fd >= 0) fds.push_back({fd, POLLIN, 0});
  if (reaped_)
    timeout_ms = 0;  // only leftovers to read; a grandchild may hold the pipes open forever
  if (!reaped_ && pidfd_ < 0 && (timeout_ms < 0 || timeout_ms > kFallbackPollMs))
    timeout_ms = kFallbackPollMs;
  const int ready = ::poll(fds.data(), fds.size(), timeout_ms);
  if (ready < 0 && errno != EINTR) OT_CHECK(false) << "poll: " << ErrnoText(errno);
  // Read what is there; after the exit, read once more so nothing the child wrote is left behind.
  auto drain = [&] {
    char buffer[8192];
    for (int* fd : {&out_fd_, &err_fd_}) {
      while (*fd >= 0) {
        const ssize_t n = ::read(*fd, buffer, sizeof(buffer));
        if (n > 0) {
          Append(fd == &out_fd_ ? line_buffer_ : captured_, buffer, static_cast<size_t>(n));
          if (fd == &err_fd_ && log_fd_ >= 0) WriteLog(buffer, static_cast<size_t>(n));
        } else if (n == 0) {
          if (fd == &out_fd_) out_eof_ = true;
          CloseFd(*fd);
        } else {
          if (errno == EINTR) continue;
          break;  // EAGAIN: nothing more now (or a grandchild still holds the pipe open)
        }
      }
    }
  };
  drain();
  if (!reaped_) {
    int status = 0;
    const pid_t got = ::waitpid(pid_, &status, WNOHANG);
    if (got == pid_) {
      Reap(status);
      drain();
    }
  }
  return ready > 0;
}

ExitStatus Child::Wait(double timeout_s) {
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeout_s > 0 ? timeout_s : 0));
  while (!reaped_) {
    if (timeout_s > 0 && Clock::now() >= deadline) {
      Kill(SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      Reap(status);
      status_.timed_out = true;
      status_.timeout_s = timeout_s;
      Pump(0);
      break;
    }
    Pump(timeout_s > 0 ? MillisUntil(deadline) : -1);
  }
  return status_;
}

std::optional<ExitStatus> Child::TryWait() {
  if (!reaped_) Pump(0);
  if (!reaped_) return std::nullopt;
  return status_;
}

void Child::Write(std::string_view text) {
  OT_CHECK(stdin_fd_ >= 0) << "Child::Write needs ProcessSpec::stdin_pipe";
  // Block SIGPIPE around the write so a dead child surfaces as EPIPE here, not as a killed parent.
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  int err = 0;
  while (!text.empty()) {
    const ssize_t n = ::write(stdin_fd_, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
  if (err == EPIPE) {
    const timespec zero{0, 0};
    sigtimedwait(&pipe_set, nullptr, &zero);  // consume the pending SIGPIPE before unblocking
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  if (err != 0) {
    Wait(1.0);
    throw Error("cannot write to `" + FormatCommand(argv_) + "` (" + ErrnoText(err) + "), it " +
                (reaped_ ? "ended with " + status_.Describe() : std::string("is not reading")) +
                ": " + OutputTail(1000));
  }
}

void Child::CloseStdin() { CloseFd(stdin_fd_); }

std::optional<std::string> Child::ReadLine(double timeout_s) {
  OT_CHECK(out_fd_ >= 0 || out_eof_ || reaped_) << "Child::ReadLine needs ChildOutput::kPipe";
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(timeout_s > 0 ? timeout_s : 0));
  for (;;) {
    const size_t newline = line_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = line_buffer_.substr(0, newline);
      line_buffer_.erase(0, newline + 1);
      return line;
    }
    // End of output: EOF, or the child is gone and its pipe drained (a grandchild may still hold it
    // open).
    if (out_eof_ || out_fd_ < 0 || reaped_) {
      if (line_buffer_.empty()) return std::nullopt;
      return std::exchange(line_buffer_, std::string());
    }
    if (timeout_s > 0 && Clock::now() >= deadline)
      throw Error("`" + FormatCommand(argv_) +
                  fmt::format("` printed no complete line within {:g} s: ", timeout_s) +
                  OutputTail(1000));
    Pump(timeout_s > 0 ? MillisUntil(deadline) : -1);
  }
}

std::string Child::OutputTail(size_t max_bytes) const { return TailOf(captured_, max_bytes); }

void Child::WriteLog(const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(log_fd_, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {  // a full disk: keep going; the tail in memory still has everything recent
      CloseFd(log_fd_);
      return;
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

std::string Child::FailureMessage(size_t max_bytes) const {
  const std::string tail = OutputTail(max_bytes);
  return fmt::format("`{}` failed ({}){}{}", FormatCommand(argv_), status_.Describe(),
                     tail.empty() ? ", printing nothing" : ": ", tail);
}

size_t WaitAny(std::span<Child* const> children) {
  OT_CHECK(std::any_of(children.begin(), children.end(), [](const Child* c) {
    return !c->reaped();
  })) << "WaitAny needs a running child";
  for (;;) {
    std::vector<pollfd> fds;
    bool fallback = false;
    for (size_t i = 0; i < children.size(); ++i) {
      Child& c = *children[i];
      if (c.reaped()) continue;
      c.Pump(0);
      if (c.reaped()) return i;
      for (int fd : {c.out_fd_, c.err_fd_, c.pidfd_})
        if (fd >= 0) fds.push_back({fd, POLLIN, 0});
      fallback |= c.pidfd_ < 0;
    }
    const int ready = ::poll(fds.data(), fds.size(), fallback ? kFallbackPollMs : -1);
    if (ready < 0 && errno != EINTR) OT_CHECK(false) << "poll: " << ErrnoText(errno);
  }
}

ProcessResult RunProcess(const ProcessSpec& spec, double timeout_s) {
  OT_CHECK(spec.output == ChildOutput::kCapture) << "RunProcess captures the output";
  Child child = Child::Spawn(spec);
  ProcessResult result;
  result.status = child.Wait(timeout_s);
  result.output = child.output();
  return result;
}

std::string RunChecked(const ProcessSpec& spec, double timeout_s) {
  Child child = Child::Spawn(spec);
  child.Wait(timeout_s);
  if (!child.status().ok()) throw Error(child.FailureMessage());
  return child.output();
}

}  // namespace ot
