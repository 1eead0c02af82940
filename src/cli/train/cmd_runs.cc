// vrepo runs [--json] | runs show ID | runs compare ID ID | runs export ID DIR | runs rm ID:
// the recorded training runs. All but rm open the repository without the writer lock.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "train_cli.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

// A JSON value on one line, strings without their quotes.
std::string Show(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

int RunList(const Globals& g, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs", repo.status());
  auto runs = train::ListRuns(**repo);
  if (!runs.ok()) return Fail("runs", runs.status());
  if (as_json) {
    json out = json::array();
    for (const auto& r : *runs) out.push_back(RunJson(r));
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  if (runs->empty()) {
    Print("no runs recorded (vrepo train records one)\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "COMMIT", "DATE", "MODEL", "DATASET", "STATUS", "EPOCHS", "BEST VAL ACC"}};
  for (const auto& r : *runs) {
    const train::RunManifest& m = r.manifest;
    rows.push_back({r.DisplayName(), ShortId(r.commit), FormatIsoDate(r.time, 0).substr(0, 16),
                    m.model, ShortId(m.dataset_commit), train::RunStatusName(m.status),
                    std::to_string(m.epochs.size()), Fixed(100 * m.best_val_accuracy, 2) + "%"});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunShow(const Globals& g, const std::string& id, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs show", repo.status());
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("runs show", run.status());
  const train::RunManifest& m = run->manifest;
  if (as_json) {
    Print(RunJson(*run).dump(2) + "\n");
    return kExitOk;
  }
  std::string out = "run " + run->DisplayName() + "\ncommit " + run->commit + "\n";
  out += "date: " + FormatIsoDate(run->time, 0) + "\n";
  out += std::string("status: ") + train::RunStatusName(m.status) + "\n";
  out += "dataset: commit " + m.dataset_commit + " tree " + m.dataset_tree + " (" + m.dataset_rev +
         ")\n";
  for (const auto& [split, rec] :
       {std::pair<const char*, const train::SplitRecord&>{"train", m.train}, {"val", m.val}}) {
    out += std::string(split) + ": " + rec.table + ", " + std::to_string(rec.samples) +
           " samples, digest " + rec.sample_digest + "\n";
  }
  out += "model: " + m.model;
  if (!m.base_spec.empty()) out += " from " + m.base_spec + " (content id " + m.base_model_id + ")";
  out += "\nweights: " + m.weights_path + " " + m.weights_id + "\n";
  out += "seed: " + std::to_string(m.seed) + ", device " + m.versions.device_name + "\n";
  out += "versions: vrepo " + m.versions.vrepo + " (" + m.versions.source_revision +
         "), libtorch " + m.versions.libtorch + ", CUDA " + m.versions.cuda + ", cuDNN " +
         m.versions.cudnn + "\n";
  out += "config:";
  const json config = train::ConfigToJson(m.config);  // items() must not outlive it
  for (const auto& [k, v] : config.items()) out += " " + k + "=" + Show(v);
  out += "\n";
  Print(out);
  std::vector<std::vector<std::string>> rows = {
      {"EPOCH", "TRAIN LOSS", "VAL LOSS", "VAL ACC", "LR", "IMG/S", "SECONDS"}};
  for (const auto& r : m.retain) rows[0].push_back("RETAIN " + r.name);
  for (const auto& e : m.epochs) {
    rows.push_back({std::to_string(e.epoch), Fixed(e.train_loss, 4), Fixed(e.val_loss, 4),
                    Fixed(100 * e.val_accuracy, 2) + "%", std::isnan(e.lr) ? "-" : Show(e.lr),
                    Fixed(e.images_per_second, 0), Fixed(e.seconds, 1)});
    for (const auto& r : m.retain) {
      auto it = e.retain.find(r.name);
      rows.back().push_back(it == e.retain.end() ? "-" : Fixed(100 * it->second.accuracy, 2) + "%");
    }
  }
  PrintTable(rows);
  Print("best epoch: " + std::to_string(m.best_epoch) + " (val acc " +
        Fixed(100 * m.best_val_accuracy, 2) + "%)\nfiles:\n");
  for (const auto& f : run->files) Print("  " + f.path + "\n");
  return kExitOk;
}

// Epoch i's metric as run.json stores it: null where the run has no such epoch or the value
// is NaN (no validation split), so that no difference is computed from it.
json MetricAt(const std::vector<train::EpochMetrics>& epochs, size_t i,
              double train::EpochMetrics::*field) {
  if (i >= epochs.size() || std::isnan(epochs[i].*field)) return json();
  return epochs[i].*field;
}

// Epoch i's metric of retain set `name`, or null where the run has no such value.
json RetainAt(const std::vector<train::EpochMetrics>& epochs, size_t i, const std::string& name,
              double train::RetainMetrics::*field) {
  if (i >= epochs.size()) return json();
  auto it = epochs[i].retain.find(name);
  if (it == epochs[i].retain.end() || std::isnan(it->second.*field)) return json();
  return it->second.*field;
}

// Flattens nested objects into "a.b" keys, so nested settings compare one by one.
void Flatten(const json& j, const std::string& prefix, std::map<std::string, json>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) Flatten(v, prefix.empty() ? k : prefix + "." + k, out);
  } else {
    (*out)[prefix] = j;
  }
}

int RunCompare(const Globals& g, const std::vector<std::string>& ids, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs compare", repo.status());
  auto a = train::ReadRun(**repo, ids[0]);
  if (!a.ok()) return Fail("runs compare", a.status());
  auto b = train::ReadRun(**repo, ids[1]);
  if (!b.ok()) return Fail("runs compare", b.status());
  const json ja = train::ToJson(a->manifest), jb = train::ToJson(b->manifest);

  // Settings: the full config plus what identifies the data and the code.
  std::map<std::string, json> fa, fb;
  for (const char* key : {"config", "dataset", "base", "versions"}) {
    Flatten(ja.value(key, json()), key, &fa);
    Flatten(jb.value(key, json()), key, &fb);
  }
  std::set<std::string> keys;
  for (const auto& [k, v] : fa) keys.insert(k);
  for (const auto& [k, v] : fb) keys.insert(k);
  json settings = json::array();
  for (const auto& k : keys) {
    json va = fa.count(k) ? fa[k] : json(), vb = fb.count(k) ? fb[k] : json();
    if (va != vb) settings.push_back({{"key", k}, {"a", va}, {"b", vb}});
  }
  const train::RunManifest &ma = a->manifest, &mb = b->manifest;
  json digests = json::object();
  for (const auto& [name, va, vb] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"train_sample_digest", ma.train.sample_digest, mb.train.sample_digest},
           {"val_sample_digest", ma.val.sample_digest, mb.val.sample_digest},
           {"weights_content_id", ma.weights_id, mb.weights_id}}) {
    digests[name] = {{"a", va}, {"b", vb}, {"equal", va == vb}};
  }
  std::set<std::string> retain_names;
  for (const auto* m : {&ma, &mb}) {
    for (const auto& r : m->retain) retain_names.insert(r.name);
  }
  json epochs = json::array();
  size_t na = ma.epochs.size(), nb = mb.epochs.size();
  for (size_t i = 0; i < std::max(na, nb); ++i) {
    json row = {{"epoch", i + 1}};
    for (const auto& [metric, field] :
         {std::pair{"train_loss", &train::EpochMetrics::train_loss},
          std::pair{"val_loss", &train::EpochMetrics::val_loss},
          std::pair{"val_accuracy", &train::EpochMetrics::val_accuracy}}) {
      json va = MetricAt(ma.epochs, i, field), vb = MetricAt(mb.epochs, i, field);
      json m = {{"a", va}, {"b", vb}};
      if (va.is_number() && vb.is_number()) m["diff"] = vb.get<double>() - va.get<double>();
      row[metric] = m;
    }
    // --retain sets, by name (either run may lack one): loss and accuracy.
    json retain = json::object();
    for (const std::string& name : retain_names) {
      json entry = json::object();
      for (const auto& [metric, field] : {std::pair{"loss", &train::RetainMetrics::loss},
                                          std::pair{"accuracy", &train::RetainMetrics::accuracy}}) {
        json va = RetainAt(ma.epochs, i, name, field), vb = RetainAt(mb.epochs, i, name, field);
        json m = {{"a", va}, {"b", vb}};
        if (va.is_number() && vb.is_number()) m["diff"] = vb.get<double>() - va.get<double>();
        entry[metric] = m;
      }
      retain[name] = entry;
    }
    if (!retain_names.empty()) row["retain"] = retain;
    epochs.push_back(row);
  }
  if (as_json) {
    json out = {{"a", RunRefJson(*a)},
                {"b", RunRefJson(*b)},
                {"settings", settings},
                {"digests", digests},
                {"epochs", epochs}};
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  Print("a: run " + a->DisplayName() + " " + a->commit + "\nb: run " + b->DisplayName() + " " +
        b->commit + "\n\n");
  if (settings.empty()) {
    Print("settings: identical\n");
  } else {
    std::vector<std::vector<std::string>> rows = {{"SETTING", "A", "B"}};
    for (const auto& s : settings) rows.push_back({s["key"], Show(s["a"]), Show(s["b"])});
    PrintTable(rows);
  }
  Print("\n");
  std::vector<std::vector<std::string>> rows = {{"DIGEST", "A", "B", ""}};
  for (const auto& [name, d] : digests.items()) {
    rows.push_back({name, ShortId(d["a"].get<std::string>()), ShortId(d["b"].get<std::string>()),
                    d["equal"].get<bool>() ? "equal" : "differ"});
  }
  PrintTable(rows);
  Print("\n");
  rows = {{"EPOCH", "TRAIN LOSS A", "B", "VAL LOSS A", "B", "VAL ACC A", "B", "DIFF"}};
  auto cell = [](const json& v, double scale, int digits) {
    return v.is_number() ? Fixed(scale * v.get<double>(), digits) : std::string("-");
  };
  for (const auto& e : epochs) {
    const json& acc = e["val_accuracy"];
    rows.push_back({std::to_string(e["epoch"].get<size_t>()), cell(e["train_loss"]["a"], 1, 4),
                    cell(e["train_loss"]["b"], 1, 4), cell(e["val_loss"]["a"], 1, 4),
                    cell(e["val_loss"]["b"], 1, 4), cell(acc["a"], 100, 2) + "%",
                    cell(acc["b"], 100, 2) + "%",
                    acc.contains("diff") ? (acc["diff"].get<double>() >= 0 ? "+" : "") +
                                               Fixed(100 * acc["diff"].get<double>(), 2) + "%"
                                         : "-"});
  }
  PrintTable(rows);
  if (!retain_names.empty()) {
    Print("\n");
    rows = {{"EPOCH", "RETAIN", "LOSS A", "B", "ACC A", "B", "DIFF"}};
    for (const auto& e : epochs) {
      for (const auto& [name, r] : e["retain"].items()) {
        const json& acc = r["accuracy"];
        rows.push_back({std::to_string(e["epoch"].get<size_t>()), name, cell(r["loss"]["a"], 1, 4),
                        cell(r["loss"]["b"], 1, 4), cell(acc["a"], 100, 2) + "%",
                        cell(acc["b"], 100, 2) + "%",
                        acc.contains("diff") ? (acc["diff"].get<double>() >= 0 ? "+" : "") +
                                                   Fixed(100 * acc["diff"].get<double>(), 2) + "%"
                                             : "-"});
      }
    }
    PrintTable(rows);
  }
  return kExitOk;
}

int RunRemove(const Globals& g, const std::vector<std::string>& ids) {
  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("runs rm", repo.status());
  // Every run is found before any is removed, so a typo removes nothing.
  std::vector<train::RunRecord> runs;
  for (const auto& id : ids) {
    auto run = train::ReadRun(**repo, id);
    if (!run.ok()) return Fail("runs rm", run.status());
    runs.push_back(std::move(run).value());
  }
  for (const auto& run : runs) {
    if (Status st = train::RemoveRun(**repo, run); !st.ok()) return Fail("runs rm", st);
    Print("removed run " + run.DisplayName() + " (was " + ShortId(run.commit) + ")\n");
  }
  return kExitOk;
}

int RunExport(const Globals& g, const std::string& id, const std::string& dir) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs export", repo.status());
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("runs export", run.status());
  const std::string target = dir[0] == '/' ? dir : g.cwd + "/" + dir;
  if (Status st = train::ExportRun(**repo, *run, target); !st.ok()) {
    return Fail("runs export", st);
  }
  Print("exported run " + run->DisplayName() + ": " + std::to_string(run->files.size()) +
        " files to " + dir + "\n");
  return kExitOk;
}

}  // namespace

Command RegisterRuns(CLI::App& app, Globals& g) {
  struct Opts {
    bool json = false;
    std::string show_id;
    std::vector<std::string> compare_ids;
    std::vector<std::string> rm_ids;
    std::string export_id, export_dir;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "runs",
      "List recorded training runs, show one, or compare two\n"
      "`vrepo runs` lists every run under refs/runs/ (name, commit, date, model, dataset "
      "commit, status, best validation accuracy). `runs show ID` prints one run's record; "
      "`runs compare A B` prints the settings that differ, whether sample digests and weights "
      "are equal, and the metrics of each epoch side by side. `runs export ID DIR` writes a "
      "run's files to a folder; `runs rm ID` removes a run. ID is a run name or a full or "
      "short commit id. All but rm are read-only: they never wait for a writer.");
  sub->require_subcommand(0, 1);
  sub->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* show = sub->add_subcommand("show", "Print one run's record (run.json)");
  show->add_option("ID", o->show_id, "Run name or commit id")->required();
  show->add_flag("--json", o->json,
                 "Print the run as JSON: run.json with the name, commit, ref, date and parents "
                 "(the object `runs --json` and `train --json` give)");
  CLI::App* compare = sub->add_subcommand("compare", "Compare two runs side by side");
  compare->add_option("ID", o->compare_ids, "Two run names or commit ids")->required()->expected(2);
  compare->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* rm = sub->add_subcommand(
      "rm",
      "Remove runs: deletes refs/runs/NAME; the objects stay until `vrepo gc`, and runs that "
      "started from it keep it as their base");
  rm->add_option("ID", o->rm_ids, "Run names or commit ids")->required();
  CLI::App* exp = sub->add_subcommand(
      "export",
      "Write a run's files (run.json, metrics.jsonl, model.safetensors, plots/) to DIR, a new "
      "or empty folder; the working tree and the repository are not touched");
  exp->add_option("ID", o->export_id, "Run name or commit id")->required();
  exp->add_option("DIR", o->export_dir, "Folder to write (created)")->required();
  return {sub, [&g, o, show, compare, rm, exp] {
            if (show->parsed()) return RunShow(g, o->show_id, o->json);
            if (compare->parsed()) return RunCompare(g, o->compare_ids, o->json);
            if (rm->parsed()) return RunRemove(g, o->rm_ids);
            if (exp->parsed()) return RunExport(g, o->export_id, o->export_dir);
            return RunList(g, o->json);
          }};
}

}  // namespace vrepo::cli
