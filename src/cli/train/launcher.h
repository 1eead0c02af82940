// Data-parallel jobs from the command line (docs/training.md, "Several processes"): the
// launcher behind `--nproc N`, which starts N local ranks of the same command as torchrun
// would, and the worker side, which reads torchrun's environment and joins the job.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "vrepo/train/distributed.h"
#include "vrepo/util/status.h"

namespace vrepo::cli {

// Keeps the command line and folder vrepo-train started with (main calls it first), so that
// a launcher can start the same command again as each rank.
void RememberCommandLine(int argc, char** argv);

// The rank this process is when started by torchrun or a launcher (RANK and WORLD_SIZE set),
// or nullopt. `backend` and `timeout` come from the command line. InvalidArgument naming the
// variable when one is malformed.
Result<std::optional<train::DistributedOptions>> RankFromEnvironment(const std::string& backend,
                                                                     int timeout_seconds);

// Runs the remembered command line as `nproc` local ranks (RANK 0..nproc-1 on 127.0.0.1, the
// store hosted here) and waits for them. Only rank 0's stdout is kept. Ctrl-C (SIGINT or
// SIGTERM) is passed to every rank once, so that they stop after the same batch; a second
// one kills them. When a rank fails (exits with an error or by a signal), the others get
// a few seconds to stop on their own and are then killed; the failure is named on stderr.
// Returns the exit code: rank 0's, or kExitFatal after a failure.
int LaunchLocalRanks(const std::string& command, int nproc, int timeout_seconds);

// Joins the job as `rank`, an error line naming `command` on failure (nullptr then).
std::unique_ptr<train::RankGroup> JoinJob(const std::string& command,
                                          const train::DistributedOptions& rank, int* exit_code);

// `status` as a rank of `group` reports it: "rank R of N: ..." (unchanged without a group, or
// when it names its rank already).
Status InRank(const train::RankGroup* group, const Status& status);

}  // namespace vrepo::cli
