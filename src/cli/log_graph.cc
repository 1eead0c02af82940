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
  for (size_t j = 0; j < columns_.size(); ++j) marks[2 * j] = j == star ? '*' : '|';
  return marks;
}

std::string LogGraph::Transitions(size_t i, size_t opened, size_t closed_at) {
  std::string out;
  if (opened > 0) {  // columns i+1.. are new; the older ones right of i moved right
    std::string marks = Row(kNone);
    for (size_t j = i + 1; j < columns_.size(); ++j) marks[2 * j] = ' ';
    for (size_t j = i + 1; j < columns_.size(); ++j) marks[2 * j - 1] = '\\';
    out += Line(marks);
  }
  if (closed_at != kNone && closed_at < columns_.size()) {  // a root: the rest move left
    std::string marks(columns_.size() * 2 + 2, ' ');
    for (size_t j = 0; j < closed_at; ++j) marks[2 * j] = '|';
    for (size_t j = closed_at; j < columns_.size(); ++j) marks[2 * j + 1] = '/';
    out += Line(marks);
  }
  // Two lines waiting for the same commit become one: the right one moves in.
  for (size_t k = 1; k < columns_.size(); ++k) {
    if (std::find(columns_.begin(), columns_.begin() + static_cast<long>(k), columns_[k]) ==
        columns_.begin() + static_cast<long>(k)) {
      continue;
    }
    std::string marks = Row(kNone);
    for (size_t j = k; j < columns_.size(); ++j) {
      marks[2 * j] = ' ';
      marks[2 * j - 1] = '/';
    }
    out += Line(marks);
    columns_.erase(columns_.begin() + static_cast<long>(k));
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
  size_t closed_at = kNone;
  if (c.parents.empty()) {
    columns_.erase(columns_.begin() + static_cast<long>(i));
    closed_at = i;
  } else {
    columns_[i] = c.parents[0];
    columns_.insert(columns_.begin() + static_cast<long>(i) + 1, c.parents.begin() + 1,
                    c.parents.end());
  }
  out += Transitions(i, c.parents.empty() ? 0 : c.parents.size() - 1, closed_at);
  for (size_t l = 1; l < lines.size(); ++l) out += Line(Row(kNone) + std::string(lines[l]));
  return out;
}

}  // namespace vrepo::cli
