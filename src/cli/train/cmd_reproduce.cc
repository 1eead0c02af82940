// vrepo reproduce ID: re-runs a recorded run's config (a command run's command line) on its
// recorded dataset commit and reports, field by field, what matched. It records nothing: a
// reproduction is a check, it opens the repository read-only and never blocks or is blocked by a
// writer.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "launcher.h"
#include "train_cli.h"
#include "vrepo/runs/command_run.h"
#include "vrepo/train/reproduce.h"
#include "vrepo_source_revision.h"  // generated at build time

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

std::string Cell(const json& v) {
  if (v.is_string()) return v.get<std::string>().empty() ? "-" : v.get<std::string>().substr(0, 24);
  if (v.is_number_float()) return Fixed(v.get<double>(), 6);
  return v.dump();
}

// Prints the compared fields as text or --json and returns the exit code: 0 when every required
// field matched. `extra` holds keys the JSON document adds after "run".
int PrintReproFields(const json& run_ref, const json& extra,
                     const std::vector<train::ReproField>& fields, bool deterministic,
                     bool as_json) {
  const bool ok = std::all_of(fields.begin(), fields.end(),
                              [](const train::ReproField& f) { return f.match || !f.required; });
  if (as_json) {
    json list = json::array();
    for (const auto& f : fields) {
      list.push_back({{"field", f.name},
                      {"recorded", f.recorded},
                      {"reproduced", f.reproduced},
                      {"match", f.match},
                      {"required", f.required}});
    }
    json out = {{"run", run_ref}};
    for (const auto& [k, v] : extra.items()) out[k] = v;
    out["ok"] = ok;
    out["fields"] = list;
    Print(out.dump(2) + "\n");
    return ok ? kExitOk : kExitFailure;
  }
  size_t width = 0;
  for (const auto& f : fields) width = std::max(width, f.name.size());
  for (const auto& f : fields) {
    std::string verdict = f.match ? "match" : f.required ? "MISMATCH" : "differs (not required)";
    if (!f.note.empty()) verdict += " " + f.note;
    std::string line = f.name + std::string(width - f.name.size() + 2, ' ') + Cell(f.recorded);
    if (!f.match) line += " -> " + Cell(f.reproduced);
    Print(line + "  " + verdict + "\n");
  }
  Print(ok ? std::string("reproduced: every required field matched") +
                 (deterministic ? " (deterministic run: weights bit for bit)\n" : "\n")
           : "not reproduced: a required field differs\n");
  return ok ? kExitOk : kExitFailure;
}

// A command run (`vrepo run`): the same command again, compared without libtorch.
int ReproduceCommandRun(const runs::CommandRunRecord& run, Repository& repo, bool as_json) {
  TerminalReporter reporter(as_json);
  runs::CommandReproOptions options;
  options.source_revision = VREPO_SOURCE_REVISION;
  options.reporter = &reporter;
  options.stdout_to_stderr = as_json;
  if (!as_json) {
    Print("reproducing run " + run.DisplayName() + " (" + run.commit + ") on dataset commit " +
          run.run["dataset"]["commit"].get<std::string>() + "\n");
  }
  auto report = runs::ReproduceCommandRun(repo, run, options);
  if (!report.ok()) return Fail("reproduce", report.status());
  if (report->interrupted) {
    return FailWith("reproduce", "interrupted; nothing compared", kExitInterrupted);
  }
  std::vector<train::ReproField> fields;
  for (const auto& f : report->fields) {
    fields.push_back({f.name, f.recorded, f.reproduced, f.match, f.required, f.note});
  }
  return PrintReproFields({{"name", run.DisplayName()}, {"commit", run.commit}},
                          json{{"kind", "command"}}, fields, false, as_json);
}

int RunReproduce(const Globals& g, const std::string& id, uint64_t max_image_pixels, bool as_json,
                 int timeout) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("reproduce", repo.status());
  auto command_run = runs::ReadCommandRun(**repo, id);
  if (!command_run.ok()) return Fail("reproduce", command_run.status());
  if (*command_run) return ReproduceCommandRun(**command_run, **repo, as_json);
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("reproduce", run.status());
  // A data-parallel run is reproduced by as many ranks as trained it: started here, or this
  // process is one of them (a launcher's or torchrun's).
  const train::DistributedRecord& world = run->manifest.distributed;
  auto rank = RankFromEnvironment(world.backend.empty() ? "gloo" : world.backend, timeout);
  if (!rank.ok()) return Fail("reproduce", rank.status());
  if (!*rank && world.world_size > 1) {
    Status backend = train::CheckBackend(world.backend);
    if (!backend.ok()) return Fail("reproduce", backend);
    repo->reset();
    return LaunchLocalRanks("reproduce", world.world_size, timeout);
  }
  if (*rank && (*rank)->world_size != world.world_size) {
    return FailWith("reproduce",
                    "run " + run->DisplayName() + " was trained by " +
                        std::to_string(world.world_size) + " processes; this job has " +
                        std::to_string((*rank)->world_size) +
                        " (vrepo reproduce starts them itself; under torchrun start " +
                        std::to_string(world.world_size) + " in all)",
                    kExitFatal);
  }
  std::unique_ptr<train::RankGroup> group;
  if (*rank) {
    int code = kExitFatal;
    group = JoinJob("reproduce", **rank, &code);
    if (!group) return code;
  }
  // Every rank trains and compares the same; rank 0 alone reports.
  const bool speaks = !group || group->rank() == 0;
  TerminalReporter reporter(as_json);
  train::ReproOptions options;
  options.max_image_pixels = max_image_pixels;
  options.hooks.interrupted = InstallInterruptHandler(group != nullptr);
  options.hooks.reporter = speaks ? &reporter : nullptr;
  options.hooks.group = group.get();
  if (speaks && !as_json) {
    Print("reproducing run " + run->DisplayName() + " (" + run->commit + ") on dataset commit " +
          run->manifest.dataset_commit + "\n");
  }
  auto report = train::Reproduce(**repo, *run, options);
  if (!report.ok()) return Fail("reproduce", InRank(group.get(), report.status()));
  if (!speaks) {
    return report->interrupted ? kExitInterrupted : report->ok() ? kExitOk : kExitFailure;
  }
  if (report->interrupted) {
    return FailWith("reproduce", "interrupted; nothing compared", kExitInterrupted);
  }
  return PrintReproFields(RunRefJson(*run), json{{"deterministic", report->deterministic}},
                          report->fields, report->deterministic, as_json);
}

}  // namespace

Command RegisterReproduce(CLI::App& app, Globals& g) {
  struct Opts {
    std::string id;
    uint64_t max_image_pixels = kDefaultMaxImagePixels;
    bool json = false;
    int timeout = 60;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "reproduce",
      "Re-run a recorded run and report what matched, field by field\n"
      "Trains again with the run's recorded config on its recorded dataset commit and compares "
      "dataset commit and tree, sample digests, base model, metrics per epoch and the weights' "
      "content id. A run of several processes is re-run by as many local processes (or join "
      "torchrun with that many). Exit 0 when every required field matched: the data always; "
      "metrics and weights (bit for bit) when the run was --deterministic. Exit 1 otherwise. "
      "A command run (vrepo run) runs its command line again in its recorded folder on its "
      "recorded commit and compares status, exit code, every output's content id and the "
      "metrics line by line and field by field (all required, except fields that time "
      "something). Records nothing and opens the repository read-only.");
  sub->add_option("ID", o->id, "Run name or commit id")->required();
  sub->add_option("--max-image-pixels", o->max_image_pixels,
                  "Refuse images whose header claims more pixels")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->add_option("--timeout", o->timeout,
                  "A run of several processes: seconds a rank waits for the others (default 60)")
      ->type_name("SEC")
      ->check(CLI::Range(1, 86400));
  sub->add_flag("--json", o->json, "Machine-readable output");
  return {sub,
          [&g, o] { return RunReproduce(g, o->id, o->max_image_pixels, o->json, o->timeout); }};
}

}  // namespace vrepo::cli
