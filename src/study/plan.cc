// Run ids and the run graph.
#include "study/plan.h"

#include <fmt/format.h>
#include <xxhash.h>

#include "core/check.h"

namespace ot {

std::string HashHex(const std::string& text) {
  return fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()));
}

const Run& Plan::Add(Run run) {
  OT_CHECK(!index_.count(run.name)) << "duplicate run name " << run.name;
  std::string key = run.stage + "\n" + run.config_toml;
  for (const auto& d : run.deps) {
    const Run* dep = Find(d);
    OT_CHECK(dep) << run.name << " depends on unknown run " << d;
    key += "\ndep " + dep->id;
  }
  run.id = HashHex(key);
  index_[run.name] = runs_.size();
  runs_.push_back(std::move(run));
  return runs_.back();
}

const Run* Plan::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &runs_[it->second];
}

std::filesystem::path Plan::DirOf(const std::filesystem::path& study_dir, const Run& run) const {
  return study_dir / (run.name + "-" + run.id.substr(0, 8));
}

}  // namespace ot
