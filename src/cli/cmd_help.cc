// vrepo help [COMMAND]: `help COMMAND` becomes `COMMAND --help` before parsing
// (PrepareArgs); alone it prints the list of commands. vrepo version [--json].
#include "cli.h"
#include "vrepo_source_revision.h"  // generated at build time

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

Command RegisterVersion(CLI::App& app, Globals& /*g*/) {
  auto json_out = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand(
      "version",
      "Print the vrepo version\n"
      "As --version does; --json adds the version of the --json vocabulary (docs/json.md), "
      "json_schema, for scripts that read vrepo's output.");
  sub->add_flag("--json", *json_out, "Machine-readable output");
  return {sub, [json_out] {
            if (!*json_out) {
              Print("vrepo version " VREPO_VERSION " (" VREPO_SOURCE_REVISION ")\n");
              return kExitOk;
            }
            JsonWriter json;
            json.BeginObject().Key("version").String(VREPO_VERSION);
            json.Key("source_revision").String(VREPO_SOURCE_REVISION);
            json.Key("json_schema").Int(kJsonSchemaVersion).EndObject();
            Print(json.str() + "\n");
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
