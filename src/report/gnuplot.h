// Figures drawn by gnuplot as a subprocess: a Figure (panels of series) becomes <name>.gp +
// <name>.dat in the figures directory; gnuplot renders <name>.png (pngcairo if built in, else libgd
// `png`, which gnuplot-nox always has) and <name>.svg. Entry points: RenderFigure, GnuplotBinary.
// The script is self-contained: rerun it with `cd figures && gnuplot <name>.gp`.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ot {

struct PlotSeries {
  std::string title;
  std::vector<double> x, y, se;  // se empty = no error bars; NaN entries are drawn without a bar
  int color = 0;                 // index into the report palette
  bool dashed = false;
  bool points = true;            // linespoints (true) or a plain line
  std::optional<size_t> marker;  // index of a point to mark (the curve's minimum) with a dot...
  std::string marker_label;      // ...and this label above it
};

struct PlotPanel {
  std::string title, xlabel, ylabel;
  bool logx = true, logy = false;
  std::vector<std::pair<double, std::string>>
      xtics;  // explicit tics (value, label); empty = automatic
  // A secondary x axis on top with the same positions (e.g. tokens per parameter); empty = none.
  std::vector<std::pair<double, std::string>> x2tics;
  std::string x2label;
  std::vector<PlotSeries> series;
};

struct Figure {
  std::string name;               // file stem: figures/<name>.{gp,dat,png,svg}
  std::string title;              // overall title (multiplot) or empty
  std::vector<PlotPanel> panels;  // laid out side by side
  int panel_width = 620, height = 500;
};

// Path of the gnuplot executable: $OVERTRAIN_GNUPLOT if set, else "gnuplot" (looked up on PATH).
std::string GnuplotBinary();

// Writes the script and data, runs gnuplot in `dir` (killed after 120 s), checks its exit status
// and that both images exist and are non-empty. Throws Error naming the script, how gnuplot ended
// and the tail of its stderr on failure.
void RenderFigure(const Figure& figure, const std::filesystem::path& dir);

}  // namespace ot
