// vrepo-train: the training stage's commands (train, runs, reproduce, eval, export, model,
// predict). It links libtorch, which vrepo itself does not (docs/train-binary.md); `vrepo train
// ...` execs `vrepo-train train ...`, so help and errors read as vrepo's.
#include <malloc.h>

#include <exception>

#include "launcher.h"
#include "train_cli.h"
#include "vrepo_source_revision.h"  // generated at build time

namespace vrepo::cli {
namespace {

int Main(int argc, char** argv) {
  CLI::App app(
      "vrepo's training stage: train image classifiers on versioned samples, and list, "
      "compare, reproduce and evaluate the recorded runs.",
      "vrepo");
  app.set_version_flag("--version", "vrepo version " VREPO_VERSION " (" VREPO_SOURCE_REVISION ")",
                       "Print the vrepo version and exit");
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("-C", g.directory, "Run as if vrepo was started in DIR")->type_name("DIR");
  app.add_flag("--wait", g.wait, "Wait for another writer to finish instead of failing");

  std::vector<Command> commands = {RegisterTrain(app, g),     RegisterRuns(app, g),
                                   RegisterReproduce(app, g), RegisterEval(app, g),
                                   RegisterExport(app, g),    RegisterModel(app, g),
                                   RegisterPredict(app, g)};
  return ParseAndRun(app, g, commands, argc, argv);
}

}  // namespace
}  // namespace vrepo::cli

int main(int argc, char** argv) {
  // Every training step frees and allocates the same activation and gradient tensors, of
  // megabytes each. glibc's defaults hand blocks that large back to the kernel (mmap/munmap,
  // heap trimming), so each step page-faulted all of them in again: a quarter of the CPU time
  // of small-cnn went to the kernel. Keeping them in the heap made it 1.6x faster with the same
  // results. 32 MiB is the largest threshold glibc accepts; bigger tensors are still mapped.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  vrepo::cli::RememberCommandLine(argc, argv);
  try {
    return vrepo::cli::Main(argc, argv);
  } catch (const std::exception& e) {
    return vrepo::cli::FailWith("internal error", e.what(), vrepo::cli::kExitFatal);
  } catch (...) {
    return vrepo::cli::FailWith("internal error", "unknown exception", vrepo::cli::kExitFatal);
  }
}
