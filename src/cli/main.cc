// The vrepo binary: parses the command line with CLI11, runs one command, and turns every
// failure into one line on stderr and a git-like exit code.
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
      RegisterMerge(app, g),  RegisterDataset(app, g), RegisterRemote(app, g),
      RegisterPush(app, g),   RegisterFetch(app, g),   RegisterPull(app, g),
      RegisterClone(app, g),
  };
  commands.push_back(RegisterServe(app, g));
  commands.push_back(RegisterUi(app, g));
  commands.push_back(RegisterRun(app, g));
  commands.push_back(RegisterHelp(app, g));
  commands.push_back(RegisterVersion(app, g));
  for (Command& c : RegisterTrainCommands(app, g)) commands.push_back(std::move(c));

  return ParseAndRun(app, g, commands, argc, argv);
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
