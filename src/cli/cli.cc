#include "cli.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>

#include "terminal_reporter.h"
#include "vrepo/remote/lazy.h"

namespace vrepo::cli {

int FailWith(const std::string& what, const std::string& message, int code) {
  return FailLine(what + ": " + message, code);
}

int FailLine(const std::string& text, int code) {
  std::string line = "vrepo: " + text;
  // One line per error, whatever the message holds, and no escape sequence that a hostile
  // name inside it could send to the terminal.
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  line = EscapeControl(line) + "\n";
  std::fflush(stdout);
  std::fputs(line.c_str(), stderr);
  return code;
}

int Fail(const std::string& what, const Status& status) {
  int code = status.code() == Status::Code::kConflict ? kExitFailure : kExitFatal;
  return FailWith(what, status.message(), code);
}

Result<std::unique_ptr<Repository>> OpenRepository(const Globals& g, bool write) {
  OpenOptions options;
  options.read_only = !write;
  options.wait_for_lock = g.wait;
  auto repo = Repository::Discover(g.cwd, options);
  // The store refuses a damaged index without naming commands; the way out is the CLI's.
  if (!repo.ok() && repo.status().code() == Status::Code::kCorruption &&
      repo.status().message().rfind("opening index ", 0) == 0) {
    return Status::Corruption(repo.status().message() +
                              " [rebuild it from the pack files: vrepo fsck --rebuild-index]");
  }
  // A lazy clone's absent contents come from its remote, whichever command reads them.
  if (repo.ok()) VREPO_RETURN_IF_ERROR(InstallLazySource(**repo));
  return repo;
}

Result<std::vector<std::string>> RepoPaths(const Repository& repo, const Globals& g,
                                           const std::vector<std::string>& user_paths) {
  std::vector<std::string> out;
  out.reserve(user_paths.size());
  for (const auto& p : user_paths) {
    VREPO_ASSIGN_OR_RETURN(std::string rel, repo.RelativePath(g.cwd, p));
    out.push_back(std::move(rel));
  }
  return out;
}

std::string PathFromCwd(const Repository& repo, const Globals& g, const std::string& path) {
  auto prefix = repo.RelativePath(g.cwd, g.cwd);
  if (!prefix.ok() || prefix->empty()) return path;
  std::string p = *prefix + "/";
  if (path.compare(0, p.size(), p) == 0) return path.substr(p.size());
  // Climb out of the current folder one level at a time until the path shares it.
  std::string up;
  std::string dir = *prefix;
  while (!dir.empty()) {
    up += "../";
    size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "" : dir.substr(0, slash);
    if (!dir.empty() && path.compare(0, dir.size() + 1, dir + "/") == 0) {
      return up + path.substr(dir.size() + 1);
    }
  }
  return up + path;
}

Reporter* CliReporter() {
  static TerminalReporter reporter;
  return &reporter;
}

void Print(std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); }

std::string HumanBytes(double bytes, bool short_unit) {
  if (bytes < 1024) {
    return short_unit ? Fixed(bytes, 0) + " B" : Counted(static_cast<uint64_t>(bytes), "byte");
  }
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = bytes / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return Fixed(v, 1) + " " + kUnits[unit];
}

std::string Counted(uint64_t count, const std::string& noun) {
  return std::to_string(count) + " " + noun + (count == 1 ? "" : "s");
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : Pad(row[i], width[i] + 2);
    }
    Print(line + "\n");
  }
}

std::string ShortId(const std::string& id) { return id.substr(0, 7); }

std::string Subject(const std::string& message) {
  size_t nl = message.find('\n');
  return nl == std::string::npos ? message : message.substr(0, nl);
}

namespace {

struct tm LocalTm(int64_t time, int tz_offset_minutes) {
  time_t t = static_cast<time_t>(time + int64_t{tz_offset_minutes} * 60);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return tm;
}

std::string Offset(int tz_offset_minutes, bool colon) {
  char sign = tz_offset_minutes < 0 ? '-' : '+';
  int m = tz_offset_minutes < 0 ? -tz_offset_minutes : tz_offset_minutes;
  char buf[16];
  std::snprintf(buf, sizeof(buf), colon ? "%c%02d:%02d" : "%c%02d%02d", sign, m / 60, m % 60);
  return buf;
}

}  // namespace

std::string FormatGitDate(int64_t time, int tz_offset_minutes) {
  struct tm tm = LocalTm(time, tz_offset_minutes);
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s %s %d %02d:%02d:%02d %d ", kDays[tm.tm_wday],
                kMonths[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                tm.tm_year + 1900);
  return buf + Offset(tz_offset_minutes, false);
}

std::string FormatIsoDate(int64_t time, int tz_offset_minutes) {
  struct tm tm = LocalTm(time, tz_offset_minutes);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return buf + Offset(tz_offset_minutes, true);
}

std::string FormatCommitHeader(const CommitInfo& commit) {
  std::string out = "commit " + commit.id + "\n";
  if (commit.parents.size() > 1) {
    out += "Merge:";
    for (const auto& p : commit.parents) out += " " + ShortId(p);
    out += "\n";
  }
  out += "Author: " + commit.author_name + " <" + commit.author_email + ">\n";
  out += "Date:   " + FormatGitDate(commit.time, commit.tz_offset_minutes) + "\n\n";
  std::string message = commit.message;
  while (!message.empty() && message.back() == '\n') message.pop_back();
  size_t start = 0;
  while (start <= message.size()) {
    size_t nl = message.find('\n', start);
    if (nl == std::string::npos) nl = message.size();
    out += "    " + message.substr(start, nl - start) + "\n";
    start = nl + 1;
  }
  return out;
}

void WriteCommitFields(JsonWriter& json, const CommitInfo& commit) {
  json.Key("commit").String(commit.id);
  json.Key("tree").String(commit.tree);
  json.Key("parents").BeginArray();
  for (const auto& p : commit.parents) json.String(p);
  json.EndArray();
  json.Key("author_name").String(commit.author_name);
  json.Key("author_email").String(commit.author_email);
  json.Key("time").Int(commit.time);
  json.Key("tz_offset_minutes").Int(commit.tz_offset_minutes);
  json.Key("date").String(FormatIsoDate(commit.time, commit.tz_offset_minutes));
  json.Key("message").String(commit.message);
}

void WriteCommitJson(JsonWriter& json, const CommitInfo& commit) {
  json.BeginObject();
  WriteCommitFields(json, commit);
  json.EndObject();
}

std::string FormatDiffLine(const DiffEntry& entry) {
  std::string out(1, static_cast<char>(entry.kind));
  out += "\t" + QuotePath(entry.path, false) + "\t";
  switch (entry.kind) {
    case ChangeKind::kAdded:
      out += std::to_string(entry.new_size) + " bytes";
      break;
    case ChangeKind::kDeleted:
      out += std::to_string(entry.old_size) + " bytes";
      break;
    default:
      out += std::to_string(entry.old_size) + " -> " + std::to_string(entry.new_size) + " bytes";
  }
  return out + "\n";
}

std::string FormatDiffStat(const std::vector<DiffEntry>& entries) {
  if (entries.empty()) return "";
  size_t width = 0;
  std::vector<std::string> names;
  for (const auto& e : entries) {
    names.push_back(QuotePath(e.path, false));
    width = std::max(width, names.back().size());
  }
  std::string out;
  uint64_t added = 0, deleted = 0, modified = 0, before = 0, after = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const DiffEntry& e = entries[i];
    out += " " + names[i] + std::string(width - names[i].size(), ' ') + " | ";
    switch (e.kind) {
      case ChangeKind::kAdded:
        ++added;
        after += e.new_size;
        out += std::to_string(e.new_size) + " bytes (new)\n";
        break;
      case ChangeKind::kDeleted:
        ++deleted;
        before += e.old_size;
        out += std::to_string(e.old_size) + " bytes (deleted)\n";
        break;
      default:
        ++modified;
        before += e.old_size;
        after += e.new_size;
        out += std::to_string(e.old_size) + " -> " + std::to_string(e.new_size) + " bytes\n";
    }
  }
  out += " " + std::to_string(entries.size()) + (entries.size() == 1 ? " file" : " files") +
         " changed";
  if (added) out += ", " + std::to_string(added) + " added";
  if (deleted) out += ", " + std::to_string(deleted) + " deleted";
  if (modified) out += ", " + std::to_string(modified) + " modified";
  out += ", " + std::to_string(before) + " -> " + std::to_string(after) + " bytes\n";
  return out;
}

void WriteDiffJson(JsonWriter& json, const std::vector<DiffEntry>& entries) {
  json.BeginArray();
  for (const auto& e : entries) {
    json.BeginObject();
    json.Key("path").String(e.path);
    json.Key("status").String(std::string(1, static_cast<char>(e.kind)));
    json.Key("old_size");
    if (e.kind == ChangeKind::kAdded)
      json.Null();
    else
      json.Uint(e.old_size);
    json.Key("new_size");
    if (e.kind == ChangeKind::kDeleted)
      json.Null();
    else
      json.Uint(e.new_size);
    json.Key("old_id");
    if (e.old_id)
      json.String(e.old_id->Hex());
    else
      json.Null();
    json.Key("new_id");
    if (e.new_id)
      json.String(e.new_id->Hex());
    else
      json.Null();
    json.EndObject();
  }
  json.EndArray();
}

void AddColumnOptions(CLI::App* sub, TableOptions* columns) {
  sub->add_option("--path-column", columns->path_column, "Column (or JSON key) of image paths")
      ->capture_default_str();
  sub->add_option("--label-column", columns->label_column, "Column (or JSON key) of labels")
      ->capture_default_str();
}

int ParseAndRun(CLI::App& app, Globals& g, const std::vector<Command>& commands, int argc,
                char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (int code = PrepareArgs(app, commands, g, &args); code >= 0) return code;
  std::reverse(args.begin(), args.end());  // CLI11 takes a vector last word first
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Name the deepest command that parsed ("dataset split"), so the hint opens its help.
    std::string command = "vrepo";
    for (const CLI::App* sub = &app; !sub->get_subcommands().empty();) {
      sub = sub->get_subcommands()[0];
      command += " " + sub->get_name();
    }
    // A well-formed value outside its range (`--jobs 0`) is an invalid setting, as in train's
    // own checks, not a malformed command line.
    const bool invalid_value = dynamic_cast<const CLI::ValidationError*>(&e) != nullptr;
    return FailWith(command == "vrepo" ? "usage" : command.substr(6),
                    std::string(e.what()) + " [see '" + command + " --help']",
                    invalid_value ? kExitFatal : kExitUsage);
  }

  if (!g.directory.empty() && ::chdir(g.directory.c_str()) != 0) {
    return FailWith("cannot change to '" + g.directory + "'", std::strerror(errno), kExitFatal);
  }
  std::vector<char> buf(4096);
  while (::getcwd(buf.data(), buf.size()) == nullptr) {
    if (errno != ERANGE) return FailWith("getcwd", std::strerror(errno), kExitFatal);
    buf.resize(buf.size() * 2);
  }
  g.cwd = buf.data();

  int code = kExitUsage;
  for (const Command& c : commands) {
    if (c.app->parsed()) {
      code = c.run();
      break;
    }
  }
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    return FailWith("writing output", std::strerror(errno), kExitFatal);
  }
  return code;
}

}  // namespace vrepo::cli
