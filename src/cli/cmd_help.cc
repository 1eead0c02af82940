// vrepo help [COMMAND]: `help COMMAND` becomes `COMMAND --help` before parsing
// (PrepareArgs); alone it prints the list of commands.
#include "cli.h"

namespace vrepo::cli {

Command RegisterHelp(CLI::App& app, Globals& /*g*/) {
  CLI::App* sub = app.add_subcommand(
      "help",
      "Show help for vrepo or for one command\n"
      "'vrepo help' lists the commands, as 'vrepo --help' does; 'vrepo help COMMAND' shows "
      "what 'vrepo COMMAND --help' shows, for the training commands too.");
  sub->add_option("COMMAND", "Command to describe");
  return {sub, [&app] {
            // Not app.help(): once a command parsed, that describes the command.
            Print(app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal));
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
