// Helpers shared by the study tests: fresh temporary directories and executable stand-in scripts.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ot::testing {

// A fresh, empty directory under the system temp dir, unique to this process and call.
inline std::filesystem::path StudyTempDir() {
  static int n = 0;
  const std::filesystem::path d =
      std::filesystem::temp_directory_path() /
      ("ot_study_test_" + std::to_string(getpid()) + "_" + std::to_string(n++));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// Writes an executable shell script at `path` and returns its path as a string.
inline std::string WriteScript(const std::filesystem::path& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path.string();
}

}  // namespace ot::testing
