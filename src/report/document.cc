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
void Document::FoldedBullets(std::string summary, std::vector<std::string> items) {
  if (items.empty()) return;
  items.insert(items.begin(), std::move(summary));
  blocks_.push_back({Block::kFolded, 0, std::move(items), {}});
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

// Escapes HTML, turns `code` spans into <code> and **bold** (outside code) into <strong>.
std::string Inline(const std::string& s) {
  std::string out, text;
  bool code = false, strong = false;
  auto flush = [&] { out += Escape(text), text.clear(); };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '`') {
      flush();
      out += code ? "</code>" : "<code>";
      code = !code;
    } else if (!code && s.compare(i, 2, "**") == 0) {
      flush();
      out += strong ? "</strong>" : "<strong>";
      strong = !strong;
      ++i;
    } else {
      text += s[i];
    }
  }
  flush();
  if (code) out += "</code>";
  if (strong) out += "</strong>";
  return out;
}

// A table cell as a person reads it: a cell that is one bold word or phrase (a verdict) becomes a
// coloured badge; a long cell shows its first sentence and folds the rest.
std::string HtmlCell(const std::string& s) {
  if (s.size() > 4 && s.starts_with("**") && s.ends_with("**") && s.find("**", 2) == s.size() - 2) {
    const std::string v = s.substr(2, s.size() - 4);
    const char* kind = v.starts_with("reproduced")     ? "ok"
                       : v.starts_with("contradicted") ? "bad"
                       : v.starts_with("not at this")  ? "mid"
                                                       : "none";
    return "<span class=\"badge " + std::string(kind) + "\">" + Escape(v) + "</span>";
  }
  constexpr size_t kLong = 160;
  if (s.size() > kLong) {
    size_t cut = s.find(". ", 40);
    const bool sentence = cut != std::string::npos && cut <= kLong;
    if (!sentence) cut = s.find("; ", 40);
    if (cut != std::string::npos && cut <= kLong && s.find('`') == std::string::npos)
      return "<details><summary>" + Inline(s.substr(0, sentence ? cut + 1 : cut)) + " …</summary>" +
             Inline(s.substr(cut + 2)) + "</details>";
  }
  return Inline(s);
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
      case Block::kFolded:
        md << "<details><summary>" << b.items[0] << "</summary>\n\n";
        for (size_t i = 1; i < b.items.size(); ++i) md << "- " << b.items[i] << "\n";
        md << "\n</details>\n\n";
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
       "3px}\n.badge{display:inline-block;padding:1px 8px;border-radius:9px;font-weight:bold;"
       "white-space:nowrap}\n.ok{background:#c8ecc8}.bad{background:#f6c6c6}.mid{background:#e8e8"
       "e8}.none{background:#f6f6f6;color:#666}\nsummary{cursor:pointer}\n</style>\n</"
       "head>\n<body>\n";
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
            h << "<" << tag << ">" << (r == 0 ? Inline(cell) : HtmlCell(cell)) << "</" << tag
              << ">";
          h << "</tr>\n";
        }
        h << "</table>\n";
        break;
      case Block::kFolded:
        h << "<details><summary>" << Inline(b.items[0]) << "</summary>\n<ul>\n";
        for (size_t i = 1; i < b.items.size(); ++i) h << "<li>" << Inline(b.items[i]) << "</li>\n";
        h << "</ul>\n</details>\n";
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
