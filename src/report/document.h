// A tiny document model rendered twice: report.md (Markdown) and index.html (the same blocks as
// HTML). Entry points: Document::{Heading, Paragraph, Bullets, Table, Image, Append}, Markdown(),
// Html(). Text is plain; `backticks` mark code (file names) and **stars** bold in both renderings.
// In HTML a table cell that is one bold phrase (a verdict) is a badge, and a long cell folds all
// but its first sentence.
#pragma once

#include <string>
#include <vector>

namespace ot {

class Document {
 public:
  void Heading(int level, std::string text);
  void Paragraph(std::string text);
  void Bullets(std::vector<std::string> items);
  // A bullet list folded under a one-line summary (<details>; shown open by clicking it).
  void FoldedBullets(std::string summary, std::vector<std::string> items);
  void Table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows);
  // One figure: the SVG shown inline, linked to the PNG (paths relative to the report directory).
  void Image(std::string svg_path, std::string png_path, std::string alt);
  void Append(const Document& other);
  bool empty() const { return blocks_.empty(); }

  std::string Markdown() const;
  std::string Html(const std::string& title) const;

 private:
  struct Block {
    enum Kind { kHeading, kParagraph, kBullets, kFolded, kTable, kImage } kind;
    int level = 0;
    std::vector<std::string> items;  // heading/paragraph: items[0]; image: svg, png, alt;
                                     // folded: the summary, then the bullets
    std::vector<std::vector<std::string>> rows;  // table: header first
  };
  std::vector<Block> blocks_;
};

}  // namespace ot
