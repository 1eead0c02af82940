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

std::atomic<bool>* InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  // The first Ctrl-C asks for a clean stop; SA_RESETHAND lets a second one kill at once.
  sa.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &sa, nullptr);
  return &g_interrupted;
}

std::function<void(const std::string&)> ProgressPrinter(bool json) {
  bool tty = ::isatty(STDERR_FILENO) != 0;
  return [json, tty](const std::string& line) {
    bool batch_line = line.find(" batch ") != std::string::npos;
    if (batch_line) {
      if (!tty) return;
      std::fprintf(stderr, "\r\033[K%s", line.c_str());
      std::fflush(stderr);
      return;
    }
    if (tty) std::fputs("\r\033[K", stderr);
    std::FILE* out = json ? stderr : stdout;
    std::fprintf(out, "%s\n", line.c_str());
    std::fflush(out);
  };
}

Result<std::vector<std::pair<std::string, std::string>>> MakePlots(
    const train::TrainResult& result) {
  std::vector<std::pair<std::string, std::string>> files;
  if (result.epochs.empty()) return files;
  train::PlotSeries train_loss{{}, 31, 119, 180}, val_loss{{}, 255, 127, 14};
  train::PlotSeries accuracy{{}, 44, 160, 44};
  for (const auto& m : result.epochs) {
    train_loss.values.push_back(m.train_loss);
    val_loss.values.push_back(m.val_loss);
    accuracy.values.push_back(m.val_accuracy);
  }
  // Losses from zero, so that the curves' scale reads honestly.
  train::LinePlotOptions from_zero;
  for (const auto& m : result.epochs) {
    from_zero.y_max = std::max({from_zero.y_max, m.train_loss, m.val_loss});
  }
  from_zero.y_max =
      from_zero.y_max > 0 && std::isfinite(from_zero.y_max) ? from_zero.y_max * 1.05 : 1;
  VREPO_ASSIGN_OR_RETURN(std::string loss, train::PlotLines({train_loss, val_loss}, from_zero));
  files.emplace_back("plots/loss.png", std::move(loss));
  train::LinePlotOptions unit;
  unit.y_min = 0;
  unit.y_max = 1;
  VREPO_ASSIGN_OR_RETURN(std::string acc, train::PlotLines({accuracy}, unit));
  files.emplace_back("plots/accuracy.png", std::move(acc));
  if (!result.confusion.empty()) {
    int cell = result.confusion.size() > 32 ? 8 : 32;
    VREPO_ASSIGN_OR_RETURN(std::string conf, train::PlotConfusion(result.confusion, cell));
    files.emplace_back("plots/confusion.png", std::move(conf));
  }
  return files;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

Result<std::string> TableInRepo(const Repository& repo, const Globals& g, const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(auto paths, RepoPaths(repo, g, {path}));
  return paths[0];
}

std::string RunName(const train::RunRecord& run) {
  return run.name.empty() ? run.commit.substr(0, 12) : run.name;
}

}  // namespace vrepo::cli
