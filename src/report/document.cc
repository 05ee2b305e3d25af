// Markdown and HTML rendering of a Document (see document.h).
#include "report/document.h"

#include <sstream>

namespace ot {

void Document::Heading(int level, std::string text) {
  blocks_.push_back({Block::kHeading, level, {std::move(text)}, {}});
}
void Document::Paragraph(std::string text) {
  blocks_.push_back({Block::kParagraph, 0, {std::move(text)}, {}});
}
void Document::Bullets(std::vector<std::string> items) {
  if (!items.empty()) blocks_.push_back({Block::kBullets, 0, std::move(items), {}});
}
void Document::Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  rows.insert(rows.begin(), std::move(header));
  blocks_.push_back({Block::kTable, 0, {}, std::move(rows)});
}
void Document::Image(std::string svg_path, std::string png_path, std::string alt) {
  blocks_.push_back(
      {Block::kImage, 0, {std::move(svg_path), std::move(png_path), std::move(alt)}, {}});
}
void Document::Append(const Document& other) {
  blocks_.insert(blocks_.end(), other.blocks_.begin(), other.blocks_.end());
}

namespace {

std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Escapes HTML and turns `code` spans into <code>.
std::string Inline(const std::string& s) {
  std::string out;
  bool code = false;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '`') {
      out += Escape(s.substr(start, i - start));
      if (i < s.size()) out += code ? "</code>" : "<code>";
      if (i < s.size()) code = !code;
      start = i + 1;
    }
  }
  if (code) out += "</code>";
  return out;
}

}  // namespace

std::string Document::Markdown() const {
  std::ostringstream md;
  for (const auto& b : blocks_) {
    switch (b.kind) {
      case Block::kHeading:
        md << std::string(b.level, '#') << " " << b.items[0] << "\n\n";
        break;
      case Block::kParagraph:
        md << b.items[0] << "\n\n";
        break;
      case Block::kBullets:
        for (const auto& item : b.items) md << "- " << item << "\n";
        md << "\n";
        break;
      case Block::kTable:
        for (size_t r = 0; r < b.rows.size(); ++r) {
          md << "|";
          for (const auto& cell : b.rows[r]) md << " " << MdCell(cell) << " |";
          md << "\n";
          if (r == 0) {
            md << "|";
            for (size_t c = 0; c < b.rows[0].size(); ++c) md << "---|";
            md << "\n";
          }
        }
        md << "\n";
        break;
      case Block::kImage:
        md << "![" << b.items[2] << "](" << b.items[0] << ")\n\n(PNG: [" << b.items[1] << "]("
           << b.items[1] << "))\n\n";
        break;
    }
  }
  return md.str();
}

std::string Document::Html(const std::string& title) const {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
    << Escape(title)
    << "</title>\n<style>\nbody{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 "
       "1em;"
       "line-height:1.45}\ntable{border-collapse:collapse;margin:1em 0}\ntd,th{border:1px solid "
       "#bbb;"
       "padding:3px 8px;text-align:left;font-size:0.92em}\nth{background:#eee}\nimg{max-width:100%;"
       "border:1px solid #ddd}\ncode{background:#f3f3f3;padding:0 "
       "3px}\n</style>\n</head>\n<body>\n";
  for (const auto& b : blocks_) {
    switch (b.kind) {
      case Block::kHeading:
        h << "<h" << b.level << ">" << Inline(b.items[0]) << "</h" << b.level << ">\n";
        break;
      case Block::kParagraph:
        h << "<p>" << Inline(b.items[0]) << "</p>\n";
        break;
      case Block::kBullets:
        h << "<ul>\n";
        for (const auto& item : b.items) h << "<li>" << Inline(item) << "</li>\n";
        h << "</ul>\n";
        break;
      case Block::kTable:
        h << "<table>\n";
        for (size_t r = 0; r < b.rows.size(); ++r) {
          const char* tag = r == 0 ? "th" : "td";
          h << "<tr>";
          for (const auto& cell : b.rows[r])
            h << "<" << tag << ">" << Inline(cell) << "</" << tag << ">";
          h << "</tr>\n";
        }
        h << "</table>\n";
        break;
      case Block::kImage:
        h << "<p><a href=\"" << Escape(b.items[1]) << "\"><img src=\"" << Escape(b.items[0])
          << "\" alt=\"" << Escape(b.items[2]) << "\"></a></p>\n";
        break;
    }
  }
  h << "</body>\n</html>\n";
  return h.str();
}

}  // namespace ot
