// The commands of vrepo-train (train, runs, reproduce, eval, export) and what they share: Ctrl-C
// handling, the terminal reporter for progress, and table paths. vrepo runs this binary for
// those commands (docs/train-binary.md). Single-threaded apart from the signal handler.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "terminal_reporter.h"
#include "vrepo/train/run_record.h"
#include "vrepo/train/trainer.h"

namespace vrepo::cli {

Command RegisterTrain(CLI::App& app, Globals& g);
Command RegisterRuns(CLI::App& app, Globals& g);
Command RegisterReproduce(CLI::App& app, Globals& g);
Command RegisterEval(CLI::App& app, Globals& g);
Command RegisterExport(CLI::App& app, Globals& g);
Command RegisterModel(CLI::App& app, Globals& g);
Command RegisterPredict(CLI::App& app, Globals& g);

// Exit code of a run stopped by Ctrl-C (after its record was written), as shells report SIGINT.
inline constexpr int kExitInterrupted = 130;

// Makes the first Ctrl-C set the returned flag (training stops after the current batch and
// the run is recorded as interrupted); a second Ctrl-C kills the process as usual. A rank of a
// data-parallel job (`rank`) takes SIGTERM too and ignores later signals: it stops after the
// batch all ranks agree on, and the launcher (or torchrun) kills it if that takes too long.
std::atomic<bool>* InstallInterruptHandler(bool rank = false);

// A run as every --json output gives it (runs, runs show, train): run.json's fields, with
// "name" the display name, plus "commit", "ref", "date", "time" and "parents".
nlohmann::json RunJson(const train::RunRecord& run);

// A reference to a run inside other output (eval, reproduce, runs compare): name and commit.
nlohmann::json RunRefJson(const train::RunRecord& run);

}  // namespace vrepo::cli
