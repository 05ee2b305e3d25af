// Helpers every layer's tests share (header-only; tests/ is on each test binary's include path):
// the message of the Error a call throws, a fresh temporary directory, an executable stand-in
// script, an environment variable. Entry points: ErrorOf, TempDir, WriteScript, EnvVar.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "core/check.h"

namespace ot::testing {

// The what() of the ot::Error `fn` throws, or "" when it returns normally (other exceptions pass
// through and fail the test).
inline std::string ErrorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// A fresh, empty directory <tmp>/ot_<tag>_<pid>_<n>, unique to this process and call (left in
// place: a failing test's files stay for inspection).
inline std::filesystem::path TempDir(const std::string& tag) {
  static int n = 0;
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() /
      ("ot_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++));
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p;
}

// Writes `text` to a fresh file <tmp>/ot_<tag>_<pid>_<n>.toml; returns its path.
inline std::filesystem::path WriteTempToml(const std::string& tag, const std::string& text) {
  static int n = 0;
  const std::filesystem::path p =
      std::filesystem::temp_directory_path() /
      ("ot_" + tag + "_" + std::to_string(getpid()) + "_" + std::to_string(n++) + ".toml");
  std::ofstream(p) << text;
  return p;
}

// Writes an executable shell script (#!/bin/sh + `body`) at `path`; returns the path as a string.
inline std::string WriteScript(const std::filesystem::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

// The environment variable `name`, or "" when it is unset (ctest sets OVERTRAIN_BIN and
// OVERTRAIN_SOURCE_DIR for every test binary).
inline std::string EnvVar(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace ot::testing
