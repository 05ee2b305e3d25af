// Figure → gnuplot script + data file → PNG and SVG, gnuplot run through core/subprocess (see
// gnuplot.h).
#include "report/gnuplot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/check.h"
#include "core/subprocess.h"

namespace ot {
namespace {

// Color 0 is black (base models); the rest are the Okabe-Ito colour-blind-safe palette.
constexpr const char* kPalette[] = {"#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#8C564B", "#999999"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

const char* Color(int index) {
  if (index <= 0) return kPalette[0];
  return kPalette[1 + (index - 1) % (kPaletteSize - 1)];
}

// A gnuplot double-quoted string literal (escape sequences such as \n stay active).
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}
std::string QuoteKeepNewline(const std::string& s) {  // for tic labels that contain a real '\n'
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::string Num(double v) { return std::isfinite(v) ? fmt::format("{:.10g}", v) : "NaN"; }

// Data blocks are numbered in the order they are written; the script refers to them by `index`.
struct Blocks {
  std::ostringstream data;
  int count = 0;
  int Add(const std::string& body, const std::string& comment) {
    data << "# block " << count << ": " << comment << "\n" << body << "\n\n";
    return count++;
  }
};

std::string PanelCommands(const Figure& fig, const PlotPanel& panel, Blocks& blocks) {
  std::ostringstream gp;
  gp << "set title " << Quote(panel.title) << "\n";
  const bool two_line_tics = std::any_of(panel.xtics.begin(), panel.xtics.end(), [](const auto& t) {
    return t.second.find('\n') != std::string::npos;
  });
  gp << "set xlabel " << Quote(panel.xlabel) << (two_line_tics ? " offset 0,-1" : " offset 0,0")
     << "\n";
  gp << "set ylabel " << Quote(panel.ylabel) << "\nset format y " << (panel.logy ? "'%g'" : "'% h'")
     << "\n";
  gp << "unset logscale\n";
  if (panel.logx) gp << "set logscale x 2\n";
  if (panel.logy) gp << "set logscale y 10\n";
  if (panel.xtics.empty()) {
    gp << "set xtics autofreq\n";
  } else {
    gp << "set xtics (";
    for (size_t i = 0; i < panel.xtics.size(); ++i)
      gp << (i ? ", " : "") << QuoteKeepNewline(panel.xtics[i].second) << " "
         << Num(panel.xtics[i].first);
    gp << ")\n";
  }
  // Keep markers and labels inside the frame: pad the x range by a fraction of a tick on log axes.
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : panel.series)
    for (double x : s.x) lo = std::min(lo, x), hi = std::max(hi, x);
  std::string range;  // "[a:b]" when fixed
  if (std::isfinite(lo) && hi > lo) {
    if (panel.logx && lo > 0) {
      const double pad = std::pow(hi / lo, 0.04);
      range = "[" + Num(lo / pad) + ":" + Num(hi * pad) + "]";
    } else {
      const double pad = 0.04 * (hi - lo);
      range = "[" + Num(lo - pad) + ":" + Num(hi + pad) + "]";
    }
    gp << "set xrange " << range << "\n";
  } else {
    gp << "set autoscale x\n";
  }
  gp << "set autoscale y\n";
  // The secondary axis spans the same range (gnuplot cannot link a log axis), labelled at the same
  // x.
  if (panel.x2tics.empty() || range.empty()) {
    gp << "unset x2tics\nunset x2label\nset tmargin\nset xtics mirror\n";
  } else {
    gp << "set xtics nomirror\nset tmargin 5\nset x2range " << range << "\n";
    if (panel.logx) gp << "set logscale x2 2\n";
    gp << "set x2tics (";
    for (size_t i = 0; i < panel.x2tics.size(); ++i)
      gp << (i ? ", " : "") << Quote(panel.x2tics[i].second) << " " << Num(panel.x2tics[i].first);
    gp << ")\nset x2label " << Quote(panel.x2label) << " offset 0,-0.5\n";
  }

  std::vector<std::string> plots;
  for (const auto& s : panel.series) {
    if (s.x.empty()) continue;
    const bool bars = !s.se.empty();
    std::ostringstream body;
    for (size_t i = 0; i < s.x.size(); ++i) {
      body << Num(s.x[i]) << " " << Num(s.y[i]);
      if (bars) body << " " << Num(std::isfinite(s.se[i]) ? s.se[i] : 0.0);
      body << "\n";
    }
    const int index = blocks.Add(body.str(), s.title);
    const std::string style =
        fmt::format("lc rgb '{}' dt {} lw 1.5", Color(s.color), s.dashed ? 2 : 1);
    const std::string with = bars ? "yerrorlines" : s.points ? "linespoints" : "lines";
    plots.push_back(fmt::format("'{}.dat' index {} using 1:2{} with {} {} pt 7 ps 0.6 title {}",
                                fig.name, index, bars ? ":3" : "", with, style, Quote(s.title)));
    if (s.marker && *s.marker < s.x.size()) {
      const size_t m = *s.marker;
      const int mi =
          blocks.Add(fmt::format("{} {} {}\n", Num(s.x[m]), Num(s.y[m]), Quote(s.marker_label)),
                     s.title + " minimum");
      plots.push_back(
          fmt::format("'{}.dat' index {} using 1:2 with points lc rgb '{}' pt 7 ps 1.6 notitle",
                      fig.name, mi, Color(s.color)));
      if (!s.marker_label.empty())
        plots.push_back(
            fmt::format("'{}.dat' index {} using 1:2:3 with labels offset char 0,1.1 tc rgb '{}' "
                        "font ',8' notitle",
                        fig.name, mi, Color(s.color)));
    }
  }
  if (plots.empty()) {
    // An empty panel still needs a plot command for the multiplot layout; draw nothing visible.
    gp << "set xrange [1:2]\nset yrange [0:1]\nunset logscale\nset label 1 'no data' at 1.5,0.5 "
          "center\n"
       << "plot NaN notitle\nunset label 1\nset autoscale y\n";
    return gp.str();
  }
  gp << "plot ";
  for (size_t i = 0; i < plots.size(); ++i) gp << (i ? ", \\\n     " : "") << plots[i];
  gp << "\n";
  return gp.str();
}

}  // namespace

std::string GnuplotBinary() {
  const char* env = std::getenv("OVERTRAIN_GNUPLOT");
  return env && *env ? env : "gnuplot";
}

void RenderFigure(const Figure& fig, const std::filesystem::path& dir) {
  OT_CHECK(!fig.panels.empty()) << "figure " << fig.name << " has no panels";
  std::filesystem::create_directories(dir);
  const int n = static_cast<int>(fig.panels.size());
  const int width = fig.panel_width * n;

  Blocks blocks;
  std::ostringstream body;
  // Keys below the plot never hide a curve; the y offsets keep markers and labels off the frame.
  body << "set encoding utf8\nset grid\nset key below samplen 2 spacing 1.1 font ',9'\n"
       << "set offsets 0, 0, graph 0.06, graph 0.04\nset bars small\nset datafile missing 'NaN'\n";
  body << "set multiplot layout 1," << n;
  if (!fig.title.empty()) body << " title " << Quote(fig.title);
  body << "\n";
  for (const auto& panel : fig.panels) body << PanelCommands(fig, panel, blocks);
  body << "unset multiplot\n";

  std::ostringstream gp;
  gp << "# " << fig.name << ": written by `overtrain report`; data in " << fig.name << ".dat.\n"
     << "# Rerun from this directory: gnuplot " << fig.name << ".gp\n";
  // pngcairo (antialiased, dashed lines) where this gnuplot has it; libgd `png` otherwise (always
  // built).
  gp << "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n  set terminal pngcairo noenhanced "
        "size "
     << width << "," << fig.height
     << " font 'sans,10'\n} else {\n  set terminal png noenhanced size " << width << ","
     << fig.height << "\n}\nset output '" << fig.name << ".png'\n"
     << body.str() << "unset output\nreset\n";
  gp << "set terminal svg noenhanced size " << width << "," << fig.height
     << " dynamic font 'sans,11' background rgb 'white'\nset output '" << fig.name << ".svg'\n"
     << body.str() << "unset output\n";

  const auto script = dir / (fig.name + ".gp");
  const auto data = dir / (fig.name + ".dat");
  for (const auto& [path, text] :
       {std::pair{script, gp.str()}, std::pair{data, blocks.data.str()}}) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw Error(fmt::format("{}: could not be written", path.string()));
  }

  // gnuplot renders a figure in well under a second; a hung one must not hang the report.
  constexpr double kGnuplotTimeoutS = 120;
  const std::string binary = GnuplotBinary();
  std::optional<Child> gnuplot;
  try {
    gnuplot =
        Child::Spawn({.argv = {binary, fig.name + ".gp"}, .cwd = std::filesystem::absolute(dir)});
  } catch (const Error& e) {
    throw Error(fmt::format(
        "{}: could not run '{}' ({}); install gnuplot-nox or set OVERTRAIN_GNUPLOT to its path",
        script.string(), binary, e.what()));
  }
  const ExitStatus status = gnuplot->Wait(kGnuplotTimeoutS);
  if (!status.ok())
    throw Error(fmt::format("{}: gnuplot failed ({}): {}", script.string(), status.Describe(),
                            gnuplot->OutputTail(800)));
  for (const char* ext : {".png", ".svg"}) {
    const auto image = dir / (fig.name + ext);
    std::error_code ec;
    if (!std::filesystem::exists(image) || std::filesystem::file_size(image, ec) == 0)
      throw Error(fmt::format("{}: gnuplot exited 0 but wrote no {} ({})", script.string(),
                              image.filename().string(), gnuplot->OutputTail(400)));
  }
}

}  // namespace ot
