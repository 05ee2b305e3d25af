// Well-formedness of the [compute] section (see compute_config.h).
#include "engine/compute_config.h"

#include <cctype>

namespace ot {

std::string ComputeProblem(const ComputeConfig& c) {
  const std::string& d = c.device;
  bool ok = d == "cpu" || d == "cuda";
  if (!ok && d.rfind("cuda:", 0) == 0 && d.size() > 5 && d.size() <= 8) {
    ok = true;
    for (size_t i = 5; i < d.size(); ++i) ok &= std::isdigit(static_cast<unsigned char>(d[i])) != 0;
  }
  if (!ok) return "compute.device = '" + d + "': expected cpu, cuda or cuda:N (N a GPU index)";
  if (c.backend == "native" && d != "cpu")
    return "compute.device = '" + d +
           "' needs compute.backend = \"torch\" (the native engine runs on the CPU)";
  return "";
}

}  // namespace ot
