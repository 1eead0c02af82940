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
  // then the row a merge opens its columns with, the rest of `text` beside '|'s, and the
  // rows where columns end or join.
  std::string Draw(const CommitInfo& c, const std::string& text);

 private:
  // A row with one mark per column ('|', or '*' at `star`), two characters apart.
  std::string Row(size_t star) const;
  // "|\": the columns a merge at column `i` opened.
  std::string Opening(size_t i) const;
  // Ends a root's column and joins columns waiting for the same commit, with their rows.
  std::string Closing();
  std::vector<std::string> columns_;  // the commit each column waits for; "" once ended
};

}  // namespace vrepo::cli
