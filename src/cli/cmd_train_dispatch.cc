// vrepo train|runs|reproduce|eval|export|model|predict: run by the vrepo-train binary beside this
// one, so that vrepo itself never loads libtorch (docs/train-binary.md). The arguments after the
// command name pass through unparsed; vrepo-train parses (and documents) them.
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cli.h"

namespace vrepo::cli {
namespace {

// The directory of the running executable, from /proc/self/exe.
std::string SelfDirectory() {
  std::vector<char> buf(4096);
  ssize_t n = ::readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return ".";
  std::string path(buf.data(), static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

int ExecTrain(const Globals& g, const std::string& command, const std::vector<std::string>& rest) {
  std::string binary = SelfDirectory() + "/vrepo-train";
  if (::access(binary.c_str(), X_OK) != 0) {
    return FailWith("train",
                    "this vrepo was built without libtorch; install libtorch-dev and rebuild",
                    kExitFatal);
  }
  std::vector<std::string> args = {binary};
  // main() already changed into -C's folder; the absolute path keeps that true for the child.
  if (!g.directory.empty()) args.insert(args.end(), {"-C", g.cwd});
  if (g.wait) args.push_back("--wait");
  args.push_back(command);
  args.insert(args.end(), rest.begin(), rest.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  ::execv(binary.c_str(), argv.data());
  return FailWith("train", "cannot run " + binary + ": " + std::strerror(errno), kExitFatal);
}

}  // namespace

std::vector<Command> RegisterTrainCommands(CLI::App& app, Globals& g) {
  static const std::pair<const char*, const char*> kCommands[] = {
      {"train", "Train an image classifier on a commit's samples and record the run"},
      {"runs", "List recorded training runs, show one, or compare two"},
      {"reproduce", "Re-run a recorded run and report what matched, field by field"},
      {"eval", "Evaluate a run's model on a label table at any commit"},
      {"export", "Write a run's model (LoRA merged) with its preprocessing and classes"},
      {"model", "Import base models (torchvision .pth, safetensors) and list, show or remove them"},
      {"predict", "Classify image files with a run's or an imported model (top classes)"},
  };
  std::vector<Command> out;
  for (const auto& [name, description] : kCommands) {
    CLI::App* sub = app.add_subcommand(name, description);
    // Everything after the name, --help included, is vrepo-train's to parse. With the
    // parent's one-subcommand limit reached, words like "show" are not taken for vrepo's
    // own commands either.
    sub->set_help_flag();
    sub->fallthrough(false);
    sub->allow_extras();
    sub->prefix_command();
    std::string command = name;
    out.push_back({sub, [&g, sub, command] { return ExecTrain(g, command, sub->remaining()); }});
  }
  return out;
}

}  // namespace vrepo::cli
