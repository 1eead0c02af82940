// The vrepo binary: parses the command line with CLI11, runs one command, and turns every
// failure into one line on stderr and a git-like exit code.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli.h"
#include "vrepo_source_revision.h"  // generated at build time

namespace vrepo::cli {
namespace {

// Lists each command by the first line of its description; its own --help shows all of it.
class Formatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    std::string summary = sub->get_description();
    summary = summary.substr(0, summary.find('\n'));
    std::stringstream out;
    CLI::detail::format_help(out, sub->get_display_name(true), summary, column_width_);
    return out.str();
  }
};

int UsageError(const CLI::App& app, const CLI::ParseError& e) {
  std::string command = "vrepo";
  for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
  return FailWith(command == "vrepo" ? "usage" : command.substr(6),
                  std::string(e.what()) + " [see '" + command + " --help']", kExitUsage);
}

int Main(int argc, char** argv) {
  CLI::App app(
      "vrepo versions image-label datasets: a content-addressed store for the files, history "
      "as a git repository of small pointers, and a working tree with a staging index.",
      "vrepo");
  app.formatter(std::make_shared<Formatter>());
  app.set_version_flag("--version", "vrepo version " VREPO_VERSION " (" VREPO_SOURCE_REVISION ")",
                       "Print the vrepo version and exit");
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the command, as in `vrepo add --wait x`
  Globals g;
  app.add_option("-C", g.directory, "Run as if vrepo was started in DIR")->type_name("DIR");
  app.add_flag("--wait", g.wait,
               "Write commands wait for another writer to finish instead of failing");

  std::vector<Command> commands = {
      RegisterInit(app, g),   RegisterAdd(app, g),     RegisterRm(app, g),
      RegisterMv(app, g),     RegisterStatus(app, g),  RegisterCommit(app, g),
      RegisterLog(app, g),    RegisterShow(app, g),    RegisterDiff(app, g),
      RegisterBranch(app, g), RegisterSwitch(app, g),  RegisterCheckout(app, g),
      RegisterTag(app, g),    RegisterRestore(app, g), RegisterRevParse(app, g),
      RegisterLsTree(app, g), RegisterFsck(app, g),    RegisterGc(app, g),
      RegisterMerge(app, g),
      RegisterDataset(app, g),
  };
  for (Command& c : RegisterTrainCommands(app, g)) commands.push_back(std::move(c));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return UsageError(app, e);
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

}  // namespace
}  // namespace vrepo::cli

int main(int argc, char** argv) {
  try {
    return vrepo::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    return vrepo::cli::FailWith("internal error", e.what(), vrepo::cli::kExitFatal);
  } catch (...) {
    return vrepo::cli::FailWith("internal error", "unknown exception", vrepo::cli::kExitFatal);
  }
}
