#include "log_graph.h"

#include <algorithm>

#include "vrepo/util/text.h"

namespace vrepo::cli {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// A row as a line: `marks` (one per character position) without trailing spaces.
std::string Line(std::string marks) {
  while (!marks.empty() && marks.back() == ' ') marks.pop_back();
  return marks + "\n";
}

}  // namespace

std::string LogGraph::Row(size_t star) const {
  std::string marks(std::max<size_t>(1, columns_.size()) * 2, ' ');
  for (size_t j = 0; j < columns_.size(); ++j) {
    if (!columns_[j].empty()) marks[2 * j] = j == star ? '*' : '|';
  }
  return marks;
}

std::string LogGraph::Opening(size_t i) const {
  // Columns i+1.. are new or moved right by the merge's extra parents.
  std::string marks = Row(kNone);
  for (size_t j = i + 1; j < columns_.size(); ++j) {
    marks[2 * j] = ' ';
    marks[2 * j - 1] = '\\';
  }
  return Line(marks);
}

std::string LogGraph::Closing() {
  std::string out;
  // A root's column ends; the columns right of it move left.
  auto ended = std::find(columns_.begin(), columns_.end(), std::string());
  if (ended != columns_.end()) {
    const size_t i = static_cast<size_t>(ended - columns_.begin());
    columns_.erase(ended);
    if (i < columns_.size()) {
      std::string marks = Row(kNone) + "  ";
      for (size_t j = i; j < columns_.size(); ++j) {
        marks[2 * j] = ' ';
        marks[2 * j + 1] = '/';
      }
      out += Line(marks);
    }
  }
  // Two lines waiting for the same commit become one: the right one moves in.
  for (size_t k = 1; k < columns_.size(); ++k) {
    auto before = columns_.begin() + static_cast<long>(k);
    if (std::find(columns_.begin(), before, columns_[k]) == before) continue;
    std::string marks = Row(kNone);
    for (size_t j = k; j < columns_.size(); ++j) {
      marks[2 * j] = ' ';
      marks[2 * j - 1] = '/';
    }
    out += Line(marks);
    columns_.erase(before);
    --k;
  }
  return out;
}

std::string LogGraph::Draw(const CommitInfo& c, const std::string& text) {
  auto it = std::find(columns_.begin(), columns_.end(), c.id);
  const size_t i = static_cast<size_t>(it - columns_.begin());
  if (it == columns_.end()) columns_.push_back(c.id);
  std::vector<std::string_view> lines = SplitLines(text);
  std::string out = Line(Row(i) + std::string(lines.empty() ? "" : lines[0]));
  // A root leaves its column empty until its text is drawn.
  columns_[i] = c.parents.empty() ? std::string() : c.parents[0];
  if (c.parents.size() > 1) {
    columns_.insert(columns_.begin() + static_cast<long>(i) + 1, c.parents.begin() + 1,
                    c.parents.end());
    out += Opening(i);
  }
  for (size_t l = 1; l < lines.size(); ++l) out += Line(Row(kNone) + std::string(lines[l]));
  return out + Closing();
}

}  // namespace vrepo::cli
