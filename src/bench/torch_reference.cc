// Child processes running bench/reference.py (see torch_reference.h).
#include "bench/torch_reference.h"

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "core/check.h"

namespace ot {

namespace fs = std::filesystem;

namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command, returns (exit status, stdout+stderr).
std::pair<int, std::string> RunCapture(const std::string& command) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw Error("bench: cannot start `" + command + "`: " + std::strerror(errno));
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

std::string Tail(const std::string& text, size_t max_chars = 3000) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

}  // namespace

fs::path FindReferenceScript() {
  const fs::path rel = fs::path("bench") / "reference.py";
  if (const char* env = std::getenv("OVERTRAIN_REFERENCE")) {
    if (fs::exists(env)) return env;
    throw Error(std::string("OVERTRAIN_REFERENCE = ") + env + ": no such file; expected bench/reference.py");
  }
  std::vector<fs::path> starts;
  if (const char* src = std::getenv("OVERTRAIN_SOURCE_DIR")) starts.emplace_back(src);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) starts.push_back(exe.parent_path());
  starts.push_back(fs::current_path());
  std::string looked;
  for (fs::path dir : starts) {
    for (; !dir.empty(); dir = dir.parent_path()) {
      if (fs::exists(dir / rel)) return dir / rel;
      if (dir == dir.parent_path()) break;
    }
    looked += (looked.empty() ? "" : ", ") + dir.string();
  }
  throw Error("bench/reference.py not found above " + looked +
              "; set OVERTRAIN_SOURCE_DIR to the overtrain source tree");
}

void CheckPythonTorch(const std::string& python) {
  const auto [status, output] = RunCapture(ShellQuote(python) + " -c 'import torch, numpy'");
  if (status != 0)
    throw Error(python + " cannot import torch and numpy (the PyTorch reference needs them): run " +
                "scripts/setup.sh, which installs Debian's python3-torch and python3-numpy. Python said: " +
                Tail(output, 400));
}

nlohmann::json ReferenceModelJson(const ModelConfig& c) {
  return {{"vocab_size", c.vocab_size}, {"d_model", c.d_model},     {"n_layers", c.n_layers},
          {"n_heads", c.n_heads},       {"d_ff", c.ff_dim()},       {"norm", NormName(c.norm)},
          {"tied_head", c.tied_head},   {"rope_theta", c.rope_theta}, {"norm_eps", c.norm_eps}};
}

void RunReferenceParity(const fs::path& in, const fs::path& out, const std::string& dtype, int threads) {
  CheckPythonTorch();
  const std::string command = ShellQuote(kReferencePython) + " " + ShellQuote(FindReferenceScript()) +
                              " --parity " + ShellQuote(in) + " " + ShellQuote(out) + " --dtype " +
                              ShellQuote(dtype) + " --threads " + std::to_string(threads);
  const auto [status, output] = RunCapture(command);
  if (status != 0)
    throw Error("bench/reference.py --parity failed (exit " + std::to_string(status) + "): " + Tail(output));
}

TorchBenchProcess::TorchBenchProcess(const ModelConfig& config, int B, int T, int threads, int warmup,
                                     bool cpu_clock) {
  CheckPythonTorch();
  std::signal(SIGPIPE, SIG_IGN);  // a crashed child must surface as an Error, not kill the benchmark
  const std::string script = FindReferenceScript();
  const std::string model = ReferenceModelJson(config).dump();
  std::vector<std::string> args = {kReferencePython, script,        "--bench",     "--model",
                                   model,            "--batch",     std::to_string(B),
                                   "--seq",          std::to_string(T), "--threads", std::to_string(threads),
                                   "--warmup",       std::to_string(warmup),
                                   "--clock",        cpu_clock ? "cpu" : "wall"};
  int down[2], up[2];  // down: parent -> child stdin; up: child stdout -> parent
  OT_CHECK(pipe(down) == 0 && pipe(up) == 0) << std::strerror(errno);
  pid_ = fork();
  OT_CHECK(pid_ >= 0) << "fork: " << std::strerror(errno);
  if (pid_ == 0) {
    dup2(down[0], STDIN_FILENO);
    dup2(up[1], STDOUT_FILENO);
    close(down[0]), close(down[1]), close(up[0]), close(up[1]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "bench: exec %s failed: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(down[0]);
  close(up[1]);
  to_child_ = fdopen(down[1], "w");
  from_child_ = fdopen(up[0], "r");
  const nlohmann::json ready = ReadReply();
  if (!ready.value("ready", false)) throw Error("bench/reference.py --bench: unexpected reply " + ready.dump());
  num_params_ = ready.value("params", int64_t{0});
}

TorchBenchProcess::~TorchBenchProcess() {
  if (to_child_) {
    std::fputs("quit\n", to_child_);
    std::fclose(to_child_);
  }
  if (from_child_) std::fclose(from_child_);
  if (pid_ > 0) waitpid(pid_, nullptr, 0);
}

nlohmann::json TorchBenchProcess::ReadReply() {
  std::string line;
  int c;
  while ((c = std::fgetc(from_child_)) != EOF && c != '\n') line += static_cast<char>(c);
  if (line.empty())
    throw Error("bench/reference.py --bench exited early (its error is printed above); run it by hand: " +
                std::string(kReferencePython) + " bench/reference.py --help");
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw Error("bench/reference.py --bench printed a line that is not JSON: " + Tail(line, 300));
  }
}

std::vector<double> TorchBenchProcess::Run(int steps) {
  std::fprintf(to_child_, "run %d\n", steps);
  std::fflush(to_child_);
  const nlohmann::json reply = ReadReply();
  if (!reply.contains("step_s")) throw Error("bench/reference.py --bench: unexpected reply " + reply.dump());
  return reply.at("step_s").get<std::vector<double>>();
}

}  // namespace ot
