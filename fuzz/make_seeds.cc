// Writes the seed corpora of every fuzz target under <root>/<target>/ (safetensors, manifest,
// token_file, config_toml, tasks, idx): valid files from our own writers plus one file per
// documented rejection case, and <root>/config_toml.dict, a libFuzzer dictionary of every declared
// config key. Usage: fuzz_seeds <root>.
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "checkpoint_fixture.h"
#include "core/fileio.h"
#include "core/safetensors.h"
#include "data/token_file.h"
#include "study/study_config.h"
#include "train/pretrain_config.h"

namespace {

namespace fs = std::filesystem;

std::string Raw(const std::string& header, const std::string& buffer, uint64_t n = 0) {
  std::string out(8, '\0');
  const uint64_t len = n ? n : header.size();
  std::memcpy(out.data(), &len, 8);
  return out + header + buffer;
}

void WriteSeeds(const fs::path& dir, const std::vector<std::string>& seeds) {
  fs::create_directories(dir);
  for (size_t i = 0; i < seeds.size(); ++i)
    ot::WriteFileAtomic(dir / ("seed-" + std::to_string(i)), seeds[i]);
  std::printf("%zu seeds in %s\n", seeds.size(), dir.c_str());
}

// Valid files from our writer (F32, mixed dtypes, scalars, empty tensors, metadata-only) and one
// file per rejection case of docs/reliability.md case 13.
std::vector<std::string> SafetensorsSeeds() {
  const std::vector<float> f = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, 7.0f};
  const std::vector<uint16_t> h = {0x3c00, 0x7e00, 0x0001, 0xfc00};
  const std::vector<uint8_t> b = {1, 0, 1};
  using ot::DType;
  return {
      ot::SerializeSafetensors({ot::F32Tensor("w", {2, 3}, f)}, {{"format", "pt"}}),
      ot::SerializeSafetensors({{"flags", DType::kBool, {3}, std::as_bytes(std::span(b))},
                                {"h", DType::kF16, {2, 2}, std::as_bytes(std::span(h))},
                                {"bf", DType::kBF16, {4}, std::as_bytes(std::span(h))},
                                ot::F32Tensor("s", {}, std::span(f).first(1)),
                                ot::F32Tensor("e", {0, 3}, {})},
                               {{"a", "b"}}),
      ot::SerializeSafetensors({}, {{"only", "metadata"}}),
      Raw("{}", ""),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(9, 'x')),
      Raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
          std::string(12, 'x')),
      Raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I8","shape":[1],"data_offsets":[8,9]}})",
          std::string(9, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})",
          std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"X","shape":[1],"data_offsets":[0,1]}})", "x"),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, 'x')),
      Raw(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[-1,7]}})", std::string(8, 'x')),
      Raw(R"({"__metadata__":{"k":1}})", ""),
      Raw(R"({"t":1,"t":2})", ""),
      Raw("{\"\xff\":1}", ""),
      Raw("[]", ""),
      Raw("{}", "", std::numeric_limits<uint64_t>::max()),
      Raw("{}", "", 1000),
      std::string(7, '\0'),
      R"({"metadata":{"total_size":8},"weight_map":{"x":"a.safetensors"}})",
  };
}

// The fixture's own manifest, then the same with each kind of damage VerifyCheckpoint reports.
std::vector<std::string> ManifestSeeds(const fs::path& scratch) {
  const fs::path dir = scratch / "tokens-64";
  ot::fuzz::SaveFixtureCheckpoint(dir);
  const std::string valid = ot::ReadFile(dir / ot::kManifestFile);
  fs::remove_all(scratch);
  const nlohmann::json m = nlohmann::json::parse(valid);
  std::vector<std::string> seeds = {valid};
  auto edit = [&](auto change) {
    nlohmann::json copy = m;
    change(copy);
    seeds.push_back(copy.dump(1));
  };
  edit([](auto& j) { j["format_version"] = 2; });
  edit([](auto& j) { j["format_version"] = "1"; });
  edit([](auto& j) { j.erase("files"); });
  edit([](auto& j) { j["files"].erase("state.json"); });
  edit([](auto& j) { j["files"]["model.safetensors"]["size"] = 1; });
  edit([](auto& j) { j["files"]["model.safetensors"]["xxh3"] = "0000000000000000"; });
  edit([](auto& j) { j["files"]["optimizer.safetensors"]["xxh3"] = "0000000000000000"; });
  edit([](auto& j) { j["files"]["config.json"]["xxh3"] = "0000000000000000"; });
  edit(
      [](auto& j) { j["tensors"]["model.safetensors"]["model.norm.weight"] = "0000000000000000"; });
  edit([](auto& j) { j["tensors"]["model.safetensors"]["extra"] = "0000000000000000"; });
  edit([](auto& j) { j["files"]["../manifest.json"] = j["files"]["config.json"]; });
  edit([](auto& j) { j["files"]["manifest.json"] = j["files"]["config.json"]; });
  edit([](auto& j) { j["files"]["absent.json"] = j["files"]["config.json"]; });
  seeds.push_back(valid + "\n{}");
  seeds.push_back(valid.substr(0, valid.size() / 2));
  seeds.push_back(R"({"format_version":1,"format_version":1})");
  return seeds;
}

// Valid uint16 and uint32 files, then one per rejection of docs/reliability.md cases 20-21
// (docs/formats.md "Token files").
std::vector<std::string> TokenFileSeeds(const fs::path& scratch) {
  fs::create_directories(scratch);
  auto written = [&](std::vector<int32_t> tokens, uint32_t vocab, int32_t eod) {
    const fs::path p = scratch / "t.bin";
    ot::data::WriteTokenFile(p, tokens, vocab, eod);
    return ot::ReadFile(p);
  };
  const std::string u16 = written({5, 9, 0, 3, 0, 7, 7, 0}, 10, 0);
  const std::string u32 = written({70000, 1, 2, 69999}, 70001, 2);
  const std::string no_eod = written({1, 2, 3}, 4, -1);
  fs::remove_all(scratch);
  auto patched = [](std::string s, size_t off, uint64_t value, size_t width) {
    std::memcpy(s.data() + off, &value, width);
    return s;
  };
  std::vector<std::string> seeds = {u16, u32, no_eod};
  seeds.push_back(u16.substr(0, 63));                          // truncated header
  seeds.push_back(patched(u16, 0, 0x4e454b4f544f5458ull, 8));  // bad magic
  seeds.push_back(patched(u16, 8, 2, 4));                      // version
  seeds.push_back(patched(u16, 12, 3, 4));                     // dtype width
  seeds.push_back(patched(u16, 16, 0, 4));                     // vocab 0
  seeds.push_back(patched(u16, 16, 70000, 4));                 // vocab too big for uint16
  seeds.push_back(patched(u16, 20, 10, 4));                    // eod >= vocab
  seeds.push_back(patched(u16, 24, 0, 8));                     // zero tokens
  seeds.push_back(
      patched(u16, 24, std::numeric_limits<uint64_t>::max() / 2 + 1, 8));  // count overflow
  seeds.push_back(u16.substr(0, u16.size() - 2));                          // truncated payload
  seeds.push_back(u16 + "xx");                                             // longer than the count
  seeds.push_back(patched(u16, 40, 1, 8));                                 // checksum
  seeds.push_back(patched(u16, 16, 5, 4));                                 // token >= vocab
  return seeds;
}

std::vector<std::string> ConfigTomlSeeds() {
  return {
      "",
      "[model]\npreset = \"nano\"\n[train]\nbudget = \"16M\"\nladder = [\"1M\", 2000000, "
      "\"1.5B\"]\n",
      "[model]\npreset = \"custom\"\nd_model = 64\nn_heads = 4\nn_layers = 2\nd_ff = 0\nnorm = "
      "\"layernorm\"\n",
      "model = { preset = \"nano\", vocab_size = 512 }\ntrain.seed = 7\n",
      "[train]\nbudget = 9223372036854775807\n",
      "[train]\nbudget = \"9.2e18\"\n",
      "[model]\nrope_theta = inf\ninit_std = nan\n",
      "[model]\nd_model = 2147483647\nn_heads = 1\n",
      "[model]\nd_model = -1\n",
      "[nope]\nx = 1\n",
      "[train]\nbatch_size = 99999999999\n",
      "[study]\nname = \"q\"\nseeds = [1, 2]\n[pretrain]\nmode = \"wsd\"\nladder = [\"500K\", "
      "\"1M\"]\n",
      "[perturb]\ngammas = [0.1, -1e308, 1e308]\n",
      "[train\nx = ",
      "a = 1979-05-27T07:32:00Z\n",
      "[[model]]\n",
      "train.batch_size=4",
      "model.preset=nano",
  };
}

// First byte: parser (0 gsm8k, 1 siqa, 2 piqa, 3 rte, 4 trec, 5 mr); NUL separates the paired file.
std::vector<std::string> TaskSeeds() {
  using namespace std::string_literals;
  const std::string nul(1, '\0');
  return {
      "\x00"s + R"({"question": "What is 48/2?", "answer": "It is <<48/2=24>>24.\n#### 24"})" +
          "\n",
      "\x00"s + R"({"question": "x"})",
      "\x00"s + R"({"question": "a", "answer": "<<unclosed"})" + "\r\n\n",
      "\x01"s +
          R"({"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c"})" +
          "\n" + nul + "2\n",
      "\x01"s +
          R"({"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c"})" +
          "\n" + nul + "1\n4\n",
      "\x02"s + R"({"goal": "g", "sol1": "s1", "sol2": "s2"})" + "\n" + nul + "1\n",
      "\x02"s + R"({"goal": 1, "sol1": "s1", "sol2": "s2"})" + "\n" + nul + "0\n",
      "\x03"s +
          "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tnot_entailment\n",
      "\x03"s + "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tmaybe\n",
      "\x04"s +
          "DESC:manner How did serfdom develop in and then leave Russia ?\nNUM:date When was it "
          "?\n",
      "\x04"s + "FOO:bar What ?\n",
      "\x04"s + "HUM:ind Who is caf\xe9 ?\n",
      "\x05"s + "a gripping film .\n" + nul + "a dull film \xe9 .\n",
      "\x05"s + "\n" + nul,
  };
}

// An idx file: magic 00 00 <type> <ndim>, big-endian dimensions, then `data`.
std::string IdxSeed(const std::vector<uint32_t>& dims, const std::string& data, char type = 0x08) {
  std::string out = {'\0', '\0', type, static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((d >> s) & 0xff);
  return out + data;
}

// `bytes` as one gzip member.
std::string GzipSeed(const std::string& bytes) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, bytes.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  zs.avail_in = static_cast<uInt>(bytes.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// The first byte picks the parser (even: images, odd: labels; fuzz/idx_fuzz.cc). Valid files plain
// and gzip, and one file per rejection case of data/idx.h (tests/data/idx_test.cc).
std::vector<std::string> IdxSeeds() {
  std::string pixels;
  for (int i = 0; i < 2 * 4 * 4; ++i) pixels += static_cast<char>(i * 7);
  const std::string images = IdxSeed({2, 4, 4}, pixels), labels = IdxSeed({3}, {0, 9, 4});
  // Files for the image parser (first byte 0) and the label parser (first byte 1).
  const auto ForImages = [](const std::string& f) { return std::string(1, '\0') + f; };
  const auto ForLabels = [](const std::string& f) { return std::string(1, '\1') + f; };
  std::vector<std::string> files = {
      ForImages(images),
      ForImages(GzipSeed(images)),
      ForImages(GzipSeed(images.substr(0, 9)) + GzipSeed(images.substr(9))),
      ForLabels(labels),
      ForLabels(GzipSeed(labels)),
      ForImages(images.substr(0, 2)),                       // inside the magic
      ForImages("\1\2" + images.substr(2)),                 // magic
      ForImages(IdxSeed({2, 4, 4}, pixels, 0x0d)),          // type
      ForImages(labels),                                    // ndim
      ForImages(images.substr(0, 10)),                      // inside the dimensions
      ForImages(IdxSeed({0, 4, 4}, "")),                    // zero count
      ForImages(IdxSeed({2, 4097, 4}, "")),                 // rows past the limit
      ForImages(IdxSeed({1u << 24, 4096, 4096}, "")),       // data past 1 GiB
      ForImages(images.substr(0, images.size() - 1)),       // truncated
      ForImages(images + "zz"),                             // trailing bytes
      ForImages(GzipSeed(images + "zz")),                   // trailing bytes, gzip
      ForImages(GzipSeed(IdxSeed({1000000, 28, 28}, ""))),  // gzip bomb by declaration
      ForImages(GzipSeed(images).substr(0, 20)),            // truncated gzip
      ForLabels(IdxSeed({3}, {0, 10, 4})),                  // label out of range
  };
  return files;
}

// Every declared key as a dictionary entry (`key = ` and `[section]`), so mutations hit real
// fields.
std::string ConfigDictionary() {
  std::vector<std::string> keys;
  for (const auto& f : ot::PretrainSchema().fields()) keys.push_back(f.key);
  for (const auto& f : ot::StudySchema().fields()) keys.push_back(f.key);
  std::string out = "# Declared config keys (written by fuzz_seeds from the schemas)\n";
  for (const auto& key : keys) {
    const size_t dot = key.rfind('.');
    out += "\"" + key + " = \"\n\"" + key.substr(dot + 1) + " = \"\n";
    if (dot != std::string::npos) out += "\"[" + key.substr(0, dot) + "]\\x0a\"\n";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus root>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  const fs::path scratch = root / ".scratch";
  WriteSeeds(root / "safetensors", SafetensorsSeeds());
  WriteSeeds(root / "manifest", ManifestSeeds(scratch));
  WriteSeeds(root / "token_file", TokenFileSeeds(scratch));
  WriteSeeds(root / "config_toml", ConfigTomlSeeds());
  WriteSeeds(root / "tasks", TaskSeeds());
  WriteSeeds(root / "idx", IdxSeeds());
  ot::WriteFileAtomic(root / "config_toml.dict", ConfigDictionary());
  return 0;
}
