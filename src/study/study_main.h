// `overtrain study`: plan → (dry run | Slurm scripts | local pool) → collect → report. Entry point:
// StudyMain, StudyOptions.
#pragma once

#include <string>
#include <vector>

namespace ot {

struct StudyOptions {
  std::string config_path;
  std::vector<std::string> overrides;
  bool dry_run = false;
  std::string emit;               // "" or "slurm"
  std::vector<std::string> only;  // run names (Slurm array tasks)
  int jobs = -1;                  // -1 = config
};

int StudyMain(const StudyOptions& options);

}  // namespace ot
