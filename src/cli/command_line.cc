// What happens to the command line before CLI11 parses it: `help CMD`, unknown command names
// answered as git does (with the closest commands), and the paths after "--".
#include <algorithm>

#include "cli.h"

namespace vrepo::cli {
namespace {

// Where the command name is: the first word that is not a global option (-C takes a value).
size_t CommandIndex(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") return args.size();
    if (args[i] == "-C") {
      ++i;
    } else if (args[i].empty() || args[i][0] != '-') {
      return i;
    }
  }
  return args.size();
}

// Optimal string alignment distance: insertions, deletions, substitutions and swaps of
// neighbours ("stauts" -> "status") cost one each.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The commands closest to `word`, if any is close enough to be a typo of it: at most one
// edit for words up to five letters, two for longer ones (git suggests only near misses).
std::vector<std::string> Suggestions(const std::vector<std::string>& names,
                                     const std::string& word) {
  const size_t limit = word.size() <= 5 ? 1 : 2;
  size_t best = limit + 1;
  std::vector<std::string> out;
  for (const auto& name : names) {
    size_t d = EditDistance(word, name);
    if (d < best) {
      best = d;
      out.clear();
    }
    if (d == best) out.push_back(name);
  }
  return out;
}

int UnknownCommand(const CLI::App& app, const std::vector<std::string>& names,
                   const std::string& word) {
  std::string line = "'" + word + "' is not a " + app.get_name() + " command.";
  std::vector<std::string> close = Suggestions(names, word);
  if (close.empty()) return FailLine(line + " See '" + app.get_name() + " --help'.", kExitUsage);
  line += close.size() == 1 ? " Did you mean " : " Did you mean one of ";
  for (size_t i = 0; i < close.size(); ++i) line += (i ? ", '" : "'") + close[i] + "'";
  return FailLine(line + "?", kExitUsage);
}

}  // namespace

int PrepareArgs(const CLI::App& app, const std::vector<Command>& commands, Globals& g,
                std::vector<std::string>* args) {
  size_t at = CommandIndex(*args);
  if (at == args->size()) return -1;  // no command: CLI11 says what is missing
  std::vector<std::string> names;
  for (const Command& c : commands) names.push_back(c.app->get_name());
  const bool has_help = std::count(names.begin(), names.end(), "help") > 0;
  if (has_help && (*args)[at] == "help" && at + 1 < args->size()) {
    // `help CMD` is `CMD --help`, so a train command answers with vrepo-train's help.
    std::string command = (*args)[at + 1];
    args->erase(args->begin() + static_cast<long>(at), args->end());
    args->insert(args->end(), {command, "--help"});
  }
  const std::string& word = (*args)[at];
  auto it = std::find_if(commands.begin(), commands.end(),
                         [&](const Command& c) { return c.app->get_name() == word; });
  if (it == commands.end()) return UnknownCommand(app, names, word);
  auto dashes = std::find(args->begin() + static_cast<long>(at), args->end(), "--");
  if (it->takes_paths && dashes != args->end()) {
    g.paths.assign(dashes + 1, args->end());
    args->erase(dashes, args->end());
  }
  return -1;
}

}  // namespace vrepo::cli
