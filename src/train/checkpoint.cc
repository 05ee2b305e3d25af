// Checkpoint save/load/verify and the checkpoint-root housekeeping (see checkpoint.h). Save order:
// every file into `<dir>.tmp-<pid>` with fsync, manifest.json last, fsync the temp dir, rename,
// fsync the parent.
#include "train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "train/checkpoint_layout.h"

namespace ot {
namespace {

using Json = nlohmann::json;

const char* const kSafetensorsFiles[] = {kModelFile, kOptimizerFile};
const char* const kRequiredFiles[] = {kModelFile, kOptimizerFile, kConfigFile, kStateFile};

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::vector<TensorToWrite> ToWrite(const std::vector<NamedTensor>& tensors) {
  std::vector<TensorToWrite> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) out.push_back(F32Tensor(t.name, t.shape, t.data));
  return out;
}

// Writes one file of the temp dir, fsyncs it, and records its size and xxh3 (re-read from disk).
void WriteAndRecord(const fs::path& path, const std::function<void(FileWriter&)>& body,
                    Json* files) {
  FileWriter writer(path);
  body(writer);
  writer.Sync();
  writer.Close();
  MappedFile mapped(path);
  (*files)[path.filename().string()] = {{"size", mapped.size()}, {"xxh3", Xxh3Hex(mapped.bytes())}};
}

// Reads and checks manifest.json: present, valid JSON, a supported format_version, every required
// file.
Json ReadManifest(const fs::path& dir) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": no such checkpoint directory");
  const fs::path path = dir / kManifestFile;
  if (!fs::exists(path))
    throw Error(path.string() +
                ": manifest is missing, so this is not a complete checkpoint (an interrupted "
                "save leaves no manifest)");
  Json manifest = ParseJsonStrict(ReadFile(path), path.string());
  if (!manifest.is_object() || !manifest.contains("format_version") ||
      !manifest["format_version"].is_number_integer())
    throw Error(path.string() + ": expected an object with an integer format_version");
  const int64_t version = manifest["format_version"].get<int64_t>();
  if (version > kCheckpointFormatVersion)
    throw Error(path.string() + ": format_version " + std::to_string(version) +
                " is newer than this build supports (" + std::to_string(kCheckpointFormatVersion) +
                "); use a newer overtrain");
  if (version < 1)
    throw Error(path.string() + ": format_version " + std::to_string(version) + " is invalid");
  if (!manifest.contains("files") || !manifest["files"].is_object())
    throw Error(path.string() + ": expected a 'files' object {file: {size, xxh3}}");
  for (const auto& [name, unused] : manifest["files"].items())
    if (name.find('/') != std::string::npos || name == ".." || name == "." || name.empty())
      throw Error(path.string() + ": file name " + Quote(name) +
                  " is not a plain name inside the checkpoint directory");
  for (const char* name : kRequiredFiles) {
    const Json& files = manifest["files"];
    if (!files.contains(name) || !files[name].is_object() || !files[name].contains("size") ||
        !files[name]["size"].is_number_unsigned() || !files[name].contains("xxh3") ||
        !files[name]["xxh3"].is_string())
      throw Error(path.string() + ": no {size, xxh3} entry for " + name);
  }
  return manifest;
}

// Problems with one file against the manifest; for a safetensors file whose hash differs, names the
// damaged tensors (per-tensor hashes in the manifest) or the header.
std::vector<std::string> CheckFile(const fs::path& path, std::span<const std::byte> bytes,
                                   const Json& manifest) {
  const std::string name = path.filename().string();
  const Json& entry = manifest["files"][name];
  if (!entry.is_object() || !entry.contains("size") || !entry["size"].is_number_unsigned() ||
      !entry.contains("xxh3") || !entry["xxh3"].is_string())
    return {path.string() + ": its manifest entry is not {size, xxh3}"};
  const uint64_t want_size = entry["size"].get<uint64_t>();
  if (bytes.size() != want_size)
    return {fmt::format("{}: size is {} bytes but the manifest records {} (truncated or modified)",
                        path.string(), bytes.size(), want_size)};
  const std::string have = Xxh3Hex(bytes), want = entry["xxh3"].get<std::string>();
  const bool is_safetensors = name == kModelFile || name == kOptimizerFile;
  std::vector<std::string> problems;
  if (have == want) {
    // The file is as recorded; the manifest's per-tensor hashes must then agree with it too (an
    // edited manifest would otherwise pass here and mislead the next damage report).
    if (!is_safetensors || !manifest.contains("tensors") || !manifest["tensors"].contains(name))
      return {};
    const Json& hashes = manifest["tensors"][name];
    const SafetensorsFile file = SafetensorsFile::Parse(bytes, path.string());
    for (const TensorView& t : file.tensors())
      if (!hashes.contains(t.name) || !hashes[t.name].is_string() ||
          hashes[t.name].get<std::string>() != Xxh3Hex(t.bytes))
        problems.push_back(fmt::format(
            "{}: the manifest records xxh3 {} for tensor '{}', whose payload hashes {} (the "
            "manifest was modified)",
            (path.parent_path() / kManifestFile).string(),
            hashes.contains(t.name) ? hashes[t.name].dump() : "nothing", t.name, Xxh3Hex(t.bytes)));
    return problems;
  }
  if (is_safetensors && manifest.contains("tensors") && manifest["tensors"].contains(name)) {
    const Json& hashes = manifest["tensors"][name];
    try {
      SafetensorsFile file = SafetensorsFile::Parse(bytes, path.string());
      for (const TensorView& t : file.tensors()) {
        if (!hashes.contains(t.name)) {
          problems.push_back(path.string() + ": tensor " + Quote(t.name) +
                             " is not in the manifest");
        } else if (const Json& recorded = hashes[t.name];
                   !recorded.is_string() || Xxh3Hex(t.bytes) != recorded.get<std::string>()) {
          problems.push_back(fmt::format(
              "{}: tensor '{}' payload is damaged (xxh3 {} but the manifest records {})",
              path.string(), t.name, Xxh3Hex(t.bytes),
              recorded.is_string() ? recorded.get<std::string>() : recorded.dump()));
        }
      }
      for (const auto& [tensor, unused] : hashes.items())
        if (file.Find(tensor) == nullptr)
          problems.push_back(path.string() + ": tensor " + Quote(tensor) +
                             " from the manifest is missing");
    } catch (const Error& e) {
      std::string message = e.what();  // starts with the path
      if (message.rfind(path.string() + ": ", 0) == 0)
        message = message.substr(path.string().size() + 2);
      problems.push_back(path.string() + ": header damaged: " + message);
    }
  }
  if (problems.empty())
    problems.push_back(fmt::format("{}: xxh3 is {} but the manifest records {} (file modified{})",
                                   path.string(), have, want,
                                   is_safetensors ? "; header or padding bytes differ" : ""));
  return problems;
}

// Maps a file, checks it against the manifest, throws the first problem. The mapping is returned.
MappedFile MapVerified(const fs::path& dir, const char* name, const Json& manifest) {
  const fs::path path = dir / name;
  if (!fs::exists(path)) throw Error(path.string() + ": missing (listed in the manifest)");
  MappedFile mapped(path);
  auto problems = CheckFile(path, mapped.bytes(), manifest);
  if (!problems.empty()) {
    std::string message = problems[0];
    for (size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
    throw Error(message);
  }
  return mapped;
}

// The first tensor that is not F32, as an error sentence naming the file; "" when all are F32.
std::string NonF32Problem(const SafetensorsFile& file, const fs::path& path) {
  for (const TensorView& t : file.tensors())
    if (t.dtype != DType::kF32)
      return path.string() + ": tensor " + Quote(t.name) + " has dtype " +
             std::string(DTypeName(t.dtype)) + ", checkpoints hold F32";
  return "";
}

void LoadTensors(const MappedFile& mapped, const fs::path& path,
                 std::map<std::string, LoadedTensor>* out, std::vector<std::string>* order,
                 std::map<std::string, std::string>* metadata) {
  SafetensorsFile file = SafetensorsFile::Parse(mapped.bytes(), path.string());
  if (const std::string problem = NonF32Problem(file, path); !problem.empty()) throw Error(problem);
  for (const TensorView& t : file.tensors()) {
    (*out)[t.name] = {t.shape, ToF32(t)};
    order->push_back(t.name);
  }
  if (metadata != nullptr) *metadata = file.metadata();
}

Json ParseVerifiedJson(const MappedFile& mapped, const fs::path& path) {
  const auto bytes = mapped.bytes();
  return ParseJsonStrict(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path.string());
}

bool ProcessAlive(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

// `<name>.tmp-<pid>[...]` -> pid; nullopt if the name has no ".tmp-".
std::optional<pid_t> TempDirPid(const std::string& name) {
  const size_t at = name.rfind(".tmp-");
  if (at == std::string::npos) return std::nullopt;
  pid_t pid = 0;
  bool digits = false;
  for (size_t i = at + 5; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) {
    pid = pid * 10 + (name[i] - '0');
    digits = true;
    if (pid > 1 << 30) break;
  }
  return digits ? std::optional<pid_t>(pid) : std::optional<pid_t>(-1);
}

}  // namespace

void SaveCheckpoint(const fs::path& dir, const CheckpointContents& contents) {
  OT_CHECK(!dir.filename().empty()) << "checkpoint dir " << dir << " must not end in '/'";
  const fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  fs::create_directories(parent);
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (!fs::create_directory(tmp, ec) || ec)
    throw Error(tmp.string() +
                ": cannot create the temporary checkpoint directory: " + ec.message());
  try {
    if (!contents.config.is_object() && !contents.config.is_null())
      throw Error(dir.string() + ": config.json must be a JSON object");
    std::map<std::string, std::string> metadata = contents.metadata;
    metadata.emplace("format", "pt");
    metadata.emplace("overtrain_config", contents.config.is_null() ? "{}" : contents.config.dump());
    Json files = Json::object(), tensors = Json::object();
    const std::vector<TensorToWrite> model = ToWrite(contents.model),
                                     optimizer = ToWrite(contents.optimizer);
    for (const auto& [file, list] :
         {std::pair{kModelFile, &model}, std::pair{kOptimizerFile, &optimizer}}) {
      Json& hashes = tensors[file] = Json::object();
      for (const auto& t : *list) hashes[t.name] = Xxh3Hex(t.bytes);
      const auto& meta = std::string_view(file) == kModelFile
                             ? metadata
                             : std::map<std::string, std::string>{{"format", "pt"}};
      WriteAndRecord(
          tmp / file, [&, list = list](FileWriter& w) { WriteSafetensors(w, *list, meta); },
          &files);
    }
    const std::string config_text =
        (contents.config.is_null() ? Json::object() : contents.config).dump(2) + "\n";
    WriteAndRecord(
        tmp / kConfigFile, [&](FileWriter& w) { w.Write(config_text); }, &files);
    const std::string state_text = contents.state.dump(2) + "\n";
    WriteAndRecord(
        tmp / kStateFile, [&](FileWriter& w) { w.Write(state_text); }, &files);
    const Json manifest = {{"format_version", kCheckpointFormatVersion},
                           {"writer", "overtrain"},
                           {"files", files},
                           {"tensors", tensors}};
    // No trailing newline: cutting any byte off the end then breaks the JSON, so truncation is
    // detected.
    const std::string manifest_text = manifest.dump(2);
    {
      FileWriter w(tmp / kManifestFile);  // last: its presence marks a complete checkpoint
      w.Write(manifest_text);
      w.Sync();
      w.Close();
    }
    SyncDirectory(tmp);
    if (fs::exists(dir)) {
      // Swap atomically so that `dir` is never absent, then delete the old contents (now at `tmp`).
      if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
        if (errno != EINVAL && errno != ENOSYS)
          throw Error(dir.string() +
                      ": cannot replace the existing checkpoint: " + std::strerror(errno));
        // No atomic exchange on this file system: move the old one aside (a temp name), then
        // rename.
        const fs::path old = tmp.string() + "-old";
        if (::rename(dir.c_str(), old.c_str()) != 0)
          throw Error(dir.string() +
                      ": cannot move the existing checkpoint aside: " + std::strerror(errno));
        if (::rename(tmp.c_str(), dir.c_str()) != 0) {
          const int err = errno;
          ::rename(old.c_str(), dir.c_str());  // put the previous checkpoint back
          throw Error(dir.string() +
                      ": cannot replace the existing checkpoint: " + std::strerror(err));
        }
        fs::remove_all(old, ec);
      }
    } else if (::rename(tmp.c_str(), dir.c_str()) != 0) {
      throw Error(dir.string() + ": rename from " + tmp.filename().string() +
                  " failed: " + std::strerror(errno));
    }
    SyncDirectory(parent);
    fs::remove_all(tmp, ec);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

void RequireValidCheckpoint(const fs::path& dir) {
  if (const std::vector<std::string> problems = VerifyCheckpoint(dir); !problems.empty())
    throw Error(problems.size() == 1
                    ? problems[0]
                    : fmt::format("{} (and {} more problems: overtrain ckpt verify {})",
                                  problems[0], problems.size() - 1, dir.string()));
}

LoadedCheckpoint LoadCheckpoint(const fs::path& dir, bool with_optimizer, bool verified) {
  // One verification for every loader (eval, perturb, finetune, diagnose, export, resume): the one
  // `overtrain ckpt verify` prints.
  if (!verified) RequireValidCheckpoint(dir);
  LoadedCheckpoint out;
  out.dir = dir;
  out.manifest = ReadManifest(dir);
  {
    MappedFile model = MapVerified(dir, kModelFile, out.manifest);
    LoadTensors(model, dir / kModelFile, &out.model, &out.model_order, &out.metadata);
  }
  if (with_optimizer) {
    MappedFile optimizer = MapVerified(dir, kOptimizerFile, out.manifest);
    LoadTensors(optimizer, dir / kOptimizerFile, &out.optimizer, &out.optimizer_order, nullptr);
  }
  out.config = ParseVerifiedJson(MapVerified(dir, kConfigFile, out.manifest), dir / kConfigFile);
  out.state = ParseVerifiedJson(MapVerified(dir, kStateFile, out.manifest), dir / kStateFile);
  return out;
}

std::vector<std::string> VerifyCheckpoint(const fs::path& dir) {
  Json manifest;
  try {
    manifest = ReadManifest(dir);
  } catch (const Error& e) {
    return {e.what()};
  }
  std::vector<std::string> problems;
  // What the structural pass needs from files whose bytes match the manifest.
  TensorShapes shapes[2];  // model, optimizer
  bool parsed[2] = {false, false};
  Json config;
  for (const auto& [name, unused] : manifest["files"].items()) {
    if (name.find('/') != std::string::npos || name == "..") {
      problems.push_back((dir / kManifestFile).string() + ": file name " + Quote(name) +
                         " is not a plain name");
      continue;
    }
    const fs::path path = dir / name;
    if (!fs::exists(path)) {
      problems.push_back(path.string() + ": missing (listed in the manifest)");
      continue;
    }
    try {
      MappedFile mapped(path);
      auto file_problems = CheckFile(path, mapped.bytes(), manifest);
      if (!file_problems.empty()) {
        for (auto& p : file_problems) problems.push_back(std::move(p));
        continue;
      }
      // Hashes match; now the checks loading makes, so that a file whose manifest was regenerated
      // after damage (or that was written wrong) is caught here and not at load.
      if (name == kModelFile || name == kOptimizerFile) {
        const int k = name == kModelFile ? 0 : 1;
        SafetensorsFile file = SafetensorsFile::Parse(mapped.bytes(), path.string());
        if (std::string problem = NonF32Problem(file, path); !problem.empty())
          problems.push_back(problem);
        for (const TensorView& t : file.tensors()) shapes[k].emplace_back(t.name, t.shape);
        parsed[k] = true;
      } else if (name == kConfigFile || name == kStateFile) {
        Json j = ParseVerifiedJson(mapped, path);
        if (!j.is_object()) problems.push_back(path.string() + ": expected a JSON object");
        if (name == kConfigFile) config = std::move(j);
      }
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  if (parsed[0] && parsed[1])
    for (auto& p : CheckpointLayoutProblems(dir, config, shapes[0], shapes[1]))
      problems.push_back(std::move(p));
  return problems;
}

std::string CheckpointDirName(int64_t tokens) { return "tokens-" + std::to_string(tokens); }

std::optional<int64_t> CheckpointTokens(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind("tokens-", 0) != 0 || name.size() == 7 || name.size() > 7 + 18)
    return std::nullopt;
  int64_t n = 0;
  for (size_t i = 7; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    n = n * 10 + (name[i] - '0');
  }
  return n;
}

std::vector<CheckpointEntry> ListCheckpoints(const fs::path& root) {
  std::vector<CheckpointEntry> out;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    if (auto tokens = CheckpointTokens(entry.path())) out.push_back({*tokens, entry.path()});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.tokens < b.tokens; });
  return out;
}

std::optional<fs::path> NewestValidCheckpoint(const fs::path& root,
                                              std::vector<SkippedCheckpoint>* skipped) {
  auto list = ListCheckpoints(root);
  for (auto it = list.rbegin(); it != list.rend(); ++it) {
    auto problems = VerifyCheckpoint(it->dir);
    if (problems.empty()) return it->dir;
    if (skipped != nullptr) skipped->push_back({it->dir, std::move(problems)});
  }
  return std::nullopt;
}

std::vector<fs::path> CleanPartialCheckpoints(const fs::path& root) {
  std::vector<fs::path> removed;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return removed;
  std::vector<fs::path> candidates;
  for (const auto& entry : fs::directory_iterator(root)) {
    auto pid = TempDirPid(entry.path().filename().string());
    if (!pid) continue;
    if (*pid > 0 && *pid != ::getpid() && ProcessAlive(*pid))
      continue;  // another process is saving
    candidates.push_back(entry.path());
  }
  for (const auto& path : candidates) {
    fs::remove_all(path, ec);
    if (ec) throw Error(path.string() + ": cannot remove partial checkpoint: " + ec.message());
    removed.push_back(path);
  }
  if (!removed.empty()) SyncDirectory(root);
  return removed;
}

std::vector<fs::path> PruneCheckpoints(const fs::path& root, const std::set<int64_t>& keep_tokens) {
  const auto newest = NewestValidCheckpoint(root);
  std::vector<fs::path> removed;
  for (const auto& entry : ListCheckpoints(root)) {
    if (keep_tokens.count(entry.tokens) || (newest && entry.dir == *newest)) continue;
    // Rename first so that a crash mid-delete leaves a temp dir (cleaned later), never a torn
    // checkpoint.
    const fs::path doomed = entry.dir.string() + ".tmp-" + std::to_string(::getpid());
    if (::rename(entry.dir.c_str(), doomed.c_str()) != 0)
      throw Error(entry.dir.string() + ": cannot prune: " + std::strerror(errno));
    std::error_code ec;
    fs::remove_all(doomed, ec);
    if (ec) throw Error(doomed.string() + ": cannot remove pruned checkpoint: " + ec.message());
    removed.push_back(entry.dir);
  }
  if (!removed.empty()) SyncDirectory(root);
  return removed;
}

std::string TensorGroupFromName(std::string_view name) {
  auto has = [&](std::string_view part) { return name.find(part) != std::string_view::npos; };
  if (has("lm_head") || has("embed_out") || name.starts_with("output.")) return "head";
  if (has("embed") || has("wte") || has("wpe")) return "embed";
  if (has("norm") || has("ln_")) return "norm";
  if (has("attn") || has("attention")) return "attn";
  if (has("mlp") || has("feed_forward") || has("ffn")) return "mlp";
  return "other";
}

bool InspectCheckpoint(const fs::path& dir, std::ostream& out) {
  auto problems = VerifyCheckpoint(dir);
  LoadedCheckpoint ckpt;
  if (problems.empty()) {
    try {  // verification makes the loader's checks, so this fails only if a file changes meanwhile
      ckpt = LoadCheckpoint(dir, /*with_optimizer=*/true);
    } catch (const Error& e) {
      problems.push_back(e.what());
    }
  }
  out << "checkpoint " << dir.string() << "\n";
  if (!problems.empty()) {
    out << "verify: " << problems.size() << " problem(s)\n";
    for (const auto& p : problems) out << "  - " << p << "\n";
    return false;
  }
  out << "verify: ok\n";
  out << "state: " << ckpt.state.dump() << "\n";
  out << "config: " << ckpt.config.dump() << "\n";
  out << "metadata:\n";
  for (const auto& [key, value] : ckpt.metadata) {
    const std::string shown = value.size() > 160 ? value.substr(0, 160) + "... (" +
                                                       std::to_string(value.size()) + " chars)"
                                                 : value;
    out << "  " << key << " = " << shown << "\n";
  }
  struct Group {
    int tensors = 0;
    int64_t params = 0;
    double sum_sq = 0;
  };
  auto summarize = [&](const char* title, const std::map<std::string, LoadedTensor>& tensors,
                       const std::vector<std::string>& order, auto group_of) {
    std::map<std::string, Group> groups;
    int64_t total = 0;
    out << title << " (" << order.size() << " tensors):\n";
    for (const auto& name : order) {
      const LoadedTensor& t = tensors.at(name);
      double sum_sq = 0;
      for (float v : t.data) sum_sq += static_cast<double>(v) * v;
      std::string shape;
      for (size_t i = 0; i < t.shape.size(); ++i) {
        if (i > 0) shape += 'x';
        shape += std::to_string(t.shape[i]);
      }
      out << fmt::format("  {:<56} {:>16} {:>12} norm {:.6g}\n", name,
                         shape.empty() ? "scalar" : shape, t.data.size(), std::sqrt(sum_sq));
      Group& g = groups[group_of(name)];
      ++g.tensors;
      g.params += static_cast<int64_t>(t.data.size());
      g.sum_sq += sum_sq;
      total += static_cast<int64_t>(t.data.size());
    }
    out << fmt::format("  groups ({} values):\n", total);
    for (const auto& [group, g] : groups)
      out << fmt::format("    {:<10} {:>4} tensors {:>12} values  norm {:.6g}  rms {:.6g}\n", group,
                         g.tensors, g.params, std::sqrt(g.sum_sq),
                         g.params ? std::sqrt(g.sum_sq / g.params) : 0.0);
  };
  summarize("model", ckpt.model, ckpt.model_order,
            [](const std::string& n) { return TensorGroupFromName(n); });
  // Optimizer state names are "<state>.<param name>" by convention; group by the state name.
  summarize("optimizer", ckpt.optimizer, ckpt.optimizer_order,
            [](const std::string& n) { return n.substr(0, n.find('.')); });
  return true;
}

}  // namespace ot
