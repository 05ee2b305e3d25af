// Child processes running reference/reference.py (see torch_reference.h).
#include "bench/torch_reference.h"

#include <cstdlib>
#include <set>

#include "core/check.h"

namespace ot {

namespace fs = std::filesystem;

namespace {

// Generous bounds that only a hung Python reaches: importing torch takes seconds, a parity run or a
// benchmark reply (warm-up, or n steps of a small model) well under a few minutes.
constexpr double kImportTimeoutS = 120, kParityTimeoutS = 600, kReplyTimeoutS = 1800,
                 kQuitTimeoutS = 10;

}  // namespace

fs::path FindReferenceScript() {
  const fs::path rel = fs::path("reference") / "reference.py";
  if (const char* env = std::getenv("OVERTRAIN_REFERENCE")) {
    if (fs::exists(env)) return env;
    throw Error(std::string("OVERTRAIN_REFERENCE = ") + env +
                ": no such file; expected reference/reference.py");
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
  throw Error("reference/reference.py not found above " + looked +
              "; set OVERTRAIN_SOURCE_DIR to the overtrain source tree");
}

void CheckPythonTorch(const std::string& python) {
  // Importing torch takes seconds: each interpreter is checked once per process (one caller
  // thread).
  static std::set<std::string> checked;
  if (checked.count(python)) return;
  ProcessResult result;
  try {
    result = RunProcess({.argv = {python, "-c", "import torch, numpy"}}, kImportTimeoutS);
  } catch (const Error& e) {
    result.status.code = 127;
    result.output = e.what();
  }
  const std::string output =
      result.output + (result.status.ok() ? "" : " (" + result.status.Describe() + ")");
  if (!result.status.ok())
    throw Error(
        python + " cannot import torch and numpy (the PyTorch reference needs them): run " +
        "scripts/setup.sh, which installs Debian's python3-torch and python3-numpy. Python said: " +
        TailOf(output, 400));
  checked.insert(python);
}

nlohmann::json ReferenceModelJson(const ModelConfig& c) {
  nlohmann::json j = c.ToJson();  // every field, the architecture switches included
  j["d_ff"] = c.ff_dim();         // resolved: reference.py does not re-derive the default width
  return j;
}

void RunReferenceParity(const fs::path& in, const fs::path& out, const std::string& dtype,
                        int threads) {
  CheckPythonTorch();
  Child child = Child::Spawn(
      {.argv = {kReferencePython, FindReferenceScript().string(), "--parity", in.string(),
                out.string(), "--dtype", dtype, "--threads", std::to_string(threads)}});
  if (!child.Wait(kParityTimeoutS).ok())
    throw Error("reference/reference.py --parity: " + child.FailureMessage(3000));
}

void RunReferenceOptimParity(const fs::path& in, const fs::path& out) {
  CheckPythonTorch();
  Child child =
      Child::Spawn({.argv = {kReferencePython, FindReferenceScript().string(), "--optim-parity",
                             in.string(), out.string(), "--threads", "1"}});
  if (!child.Wait(kParityTimeoutS).ok())
    throw Error("reference/reference.py --optim-parity: " + child.FailureMessage(3000));
}

TorchBenchProcess::TorchBenchProcess(const ModelConfig& config, int B, int T, int threads,
                                     int warmup, bool cpu_clock)
    : TorchBenchProcess(
          {"--bench", "--model", ReferenceModelJson(config).dump(), "--batch", std::to_string(B),
           "--seq", std::to_string(T), "--threads", std::to_string(threads), "--warmup",
           std::to_string(warmup), "--clock", cpu_clock ? "cpu" : "wall"},
          "step_s") {}

std::unique_ptr<TorchBenchProcess> TorchBenchProcess::Forward(const fs::path& weights, int threads,
                                                              int warmup, bool cpu_clock) {
  return std::unique_ptr<TorchBenchProcess>(new TorchBenchProcess(
      {"--forward-bench", weights.string(), "--threads", std::to_string(threads), "--warmup",
       std::to_string(warmup), "--clock", cpu_clock ? "cpu" : "wall"},
      "forward_s"));
}

TorchBenchProcess::TorchBenchProcess(std::vector<std::string> args, std::string times_key)
    : times_key_(std::move(times_key)) {
  CheckPythonTorch();
  std::vector<std::string> argv = {kReferencePython, FindReferenceScript().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  child_ = Child::Spawn({.argv = argv, .stdin_pipe = true, .output = ChildOutput::kPipe});
  const nlohmann::json ready = ReadReply();
  if (!ready.value("ready", false))
    throw Error("reference/reference.py: unexpected reply " + ready.dump());
  num_params_ = ready.value("params", int64_t{0});
}

TorchBenchProcess::~TorchBenchProcess() {
  if (!child_ || child_->reaped()) return;
  try {
    child_->Write("quit\n");
    child_->CloseStdin();
  } catch (const Error&) {  // already gone: the destructor below reaps it
  }
  child_->Wait(kQuitTimeoutS);
}

nlohmann::json TorchBenchProcess::ReadReply() {
  const std::optional<std::string> got = child_->ReadLine(kReplyTimeoutS);
  if (!got) {
    child_->Wait(kQuitTimeoutS);
    throw Error("reference/reference.py ended early: " + child_->FailureMessage(3000));
  }
  const std::string& line = *got;
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception&) {
    throw Error("reference/reference.py printed a line that is not JSON: " + TailOf(line, 300));
  }
}

std::vector<double> TorchBenchProcess::Run(int steps) {
  child_->Write("run " + std::to_string(steps) + "\n");
  const nlohmann::json reply = ReadReply();
  if (!reply.contains(times_key_))
    throw Error("reference/reference.py: unexpected reply " + reply.dump());
  last_value_ = reply.value("value", 0.0);
  return reply.at(times_key_).get<std::vector<double>>();
}

std::vector<double> TorchBenchProcess::LogProbs() {
  OT_CHECK(times_key_ == "forward_s") << "LogProbs needs a --forward-bench process";
  child_->Write("logprobs\n");
  const nlohmann::json reply = ReadReply();
  if (!reply.contains("logprobs"))
    throw Error("reference/reference.py: unexpected reply " + TailOf(reply.dump(), 300));
  return reply.at("logprobs").get<std::vector<double>>();
}

}  // namespace ot
