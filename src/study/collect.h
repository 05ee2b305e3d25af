// Gathers the finished runs' own output files (eval.json, results.jsonl) into the study's tidy
// result files (docs/formats.md "Result files"), which are all `overtrain report` reads. Entry
// point: CollectResults.
#pragma once

#include <filesystem>

#include "study/planner.h"

namespace ot {

// Writes <study>/results/{study.json, pretrain.jsonl, perturb.jsonl, finetune.jsonl, theory.jsonl,
// lr_sweep.jsonl (study.tune_lr)}
// from the complete runs (incomplete ones are skipped and counted). Returns the number of runs
// skipped. Writes <results_root>/results (results_root "" = study_dir); run directories are under
// study_dir.
int CollectResults(const StudyConfig& config, const StudyPlan& plan,
                   const std::filesystem::path& study_dir,
                   const std::filesystem::path& results_root = {});

}  // namespace ot
