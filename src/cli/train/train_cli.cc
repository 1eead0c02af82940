#include "train_cli.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "vrepo/train/plots.h"

namespace vrepo::cli {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted.store(true); }

}  // namespace

std::atomic<bool>* InstallInterruptHandler(bool rank) {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  if (rank) {
    // A rank stops after the batch all ranks agree on; the launcher (or torchrun) kills it
    // if that takes too long, so later signals change nothing.
    sigaction(SIGTERM, &sa, nullptr);
  } else {
    // The first Ctrl-C asks for a clean stop; SA_RESETHAND lets a second one kill at once.
    sa.sa_flags = SA_RESETHAND;
  }
  sigaction(SIGINT, &sa, nullptr);
  return &g_interrupted;
}

nlohmann::json RunJson(const train::RunRecord& run) {
  nlohmann::json out = train::ToJson(run.manifest);
  out["name"] = run.DisplayName();
  out["kind"] = "train";  // beside vrepo run's records, whose run.json says "command"
  out["commit"] = run.commit;
  out["ref"] = run.name.empty() ? nlohmann::json() : nlohmann::json("refs/runs/" + run.name);
  out["date"] = FormatIsoDate(run.time, 0);
  out["time"] = run.time;
  out["parents"] = run.parents;
  return out;
}

nlohmann::json RunRefJson(const train::RunRecord& run) {
  return {{"name", run.DisplayName()}, {"commit", run.commit}};
}

}  // namespace vrepo::cli
