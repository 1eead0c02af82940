// The ASCII graph of `vrepo log --graph`, drawn as git draws it: one column per line of
// descent, '*' for the commit, "|\" where a merge opens a column, "|/" where two meet.
// Commits must come children first (History::Log's order). Single-threaded.
#pragma once

#include <string>
#include <vector>

#include "vrepo/history/history.h"

namespace vrepo::cli {

class LogGraph {
 public:
  // The lines for commit `c` showing `text` (one or more lines): the first beside its '*',
  // then the rows that open or join columns, then the rest of `text` beside '|'s.
  std::string Draw(const CommitInfo& c, const std::string& text);

 private:
  // A row with one mark per column ('|', '*'), two characters apart.
  std::string Row(size_t star) const;
  // The rows after a commit: columns opened by a merge (at `i`, `opened` of them), closed by
  // a root commit, and joined where two columns wait for the same commit.
  std::string Transitions(size_t i, size_t opened, size_t closed_at);
  std::vector<std::string> columns_;  // the commit each column waits for
};

}  // namespace vrepo::cli
