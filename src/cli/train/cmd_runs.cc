// vrepo runs [--json] | runs show ID | runs compare ID ID: the recorded training runs.
// Read-only: opens the repository without the writer lock.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "train_cli.h"

namespace vrepo::cli {
namespace {

using json = nlohmann::json;

// A field of run.json, or `fallback` where it is absent or of another type.
template <class T>
T Get(const json& j, const json::json_pointer& ptr, T fallback) {
  if (!j.contains(ptr)) return fallback;
  const json& v = j.at(ptr);
  try {
    return v.get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

std::string Str(const json& j, const char* ptr) {
  return Get<std::string>(j, json::json_pointer(ptr), "");
}
double Num(const json& j, const char* ptr) { return Get<double>(j, json::json_pointer(ptr), 0.0); }

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

// A JSON value on one line, strings without their quotes.
std::string Show(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Prints rows as columns padded to their widest cell.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : Pad(row[i], width[i] + 2);
    }
    Print(line + "\n");
  }
}

json RunSummary(const train::RunRecord& r) {
  return {{"name", RunName(r)},
          {"commit", r.commit},
          {"date", FormatIsoDate(r.time, 0)},
          {"time", r.time},
          {"model", Str(r.run, "/model")},
          {"dataset_commit", Str(r.run, "/dataset/commit")},
          {"status", Str(r.run, "/status")},
          {"epochs", r.run.contains("epochs") ? r.run["epochs"].size() : 0},
          {"best_epoch", Get<int>(r.run, json::json_pointer("/best_epoch"), 0)},
          {"best_val_accuracy", Num(r.run, "/best_val_accuracy")},
          {"parents", r.parents}};
}

int RunList(const Globals& g, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs", repo.status());
  auto runs = train::ListRuns(**repo);
  if (!runs.ok()) return Fail("runs", runs.status());
  if (as_json) {
    json out = json::array();
    for (const auto& r : *runs) out.push_back(RunSummary(r));
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
    json s = RunSummary(r);
    rows.push_back({s["name"], ShortId(r.commit), FormatIsoDate(r.time, 0).substr(0, 16),
                    s["model"], ShortId(s["dataset_commit"]), s["status"],
                    std::to_string(s["epochs"].get<size_t>()),
                    Fixed(100 * s["best_val_accuracy"].get<double>(), 2) + "%"});
  }
  PrintTable(rows);
  return kExitOk;
}

int RunShow(const Globals& g, const std::string& id, bool as_json) {
  auto repo = OpenRepository(g, /*write=*/false);
  if (!repo.ok()) return Fail("runs show", repo.status());
  auto run = train::ReadRun(**repo, id);
  if (!run.ok()) return Fail("runs show", run.status());
  if (as_json) {
    Print(run->run.dump(2) + "\n");
    return kExitOk;
  }
  const json& j = run->run;
  std::string out = "run " + RunName(*run) + "\ncommit " + run->commit + "\n";
  out += "date: " + FormatIsoDate(run->time, 0) + "\n";
  out += "status: " + Str(j, "/status") + "\n";
  out += "dataset: commit " + Str(j, "/dataset/commit") + " tree " + Str(j, "/dataset/tree") +
         " (" + Str(j, "/dataset/rev") + ")\n";
  for (const char* split : {"train", "val"}) {
    std::string p = std::string("/splits/") + split;
    out += std::string(split) + ": " + Str(j, (p + "/table").c_str()) + ", " +
           Show(j.value(json::json_pointer(p + "/samples"), json())) + " samples, digest " +
           Str(j, (p + "/sample_digest").c_str()) + "\n";
  }
  out += "model: " + Str(j, "/model");
  if (!Str(j, "/base/spec").empty()) {
    out +=
        " from " + Str(j, "/base/spec") + " (content id " + Str(j, "/base/model_content_id") + ")";
  }
  out += "\nweights: " + Str(j, "/weights/path") + " " + Str(j, "/weights/content_id") + "\n";
  out += "seed: " + Show(j.value("seed", json())) + ", device " + Str(j, "/device") + "\n";
  out += "versions: vrepo " + Str(j, "/versions/vrepo") + " (" +
         Str(j, "/versions/source_revision") + "), libtorch " + Str(j, "/versions/libtorch") +
         ", CUDA " + Str(j, "/versions/cuda") + ", cuDNN " + Str(j, "/versions/cudnn") + "\n";
  out += "config:";
  if (j.contains("config") && j["config"].is_object()) {
    for (const auto& [k, v] : j["config"].items()) out += " " + k + "=" + Show(v);
  }
  out += "\n";
  Print(out);
  std::vector<std::vector<std::string>> rows = {
      {"EPOCH", "TRAIN LOSS", "VAL LOSS", "VAL ACC", "IMG/S", "SECONDS"}};
  if (j.contains("epochs") && j["epochs"].is_array()) {
    for (const auto& e : j["epochs"]) {
      rows.push_back(
          {Show(e.value("epoch", json())), Fixed(e.value("train_loss", 0.0), 4),
           Fixed(e.value("val_loss", 0.0), 4), Fixed(100 * e.value("val_accuracy", 0.0), 2) + "%",
           Fixed(e.value("images_per_second", 0.0), 0), Fixed(e.value("seconds", 0.0), 1)});
    }
  }
  PrintTable(rows);
  Print("best epoch: " + Show(j.value("best_epoch", json())) + " (val acc " +
        Fixed(100 * Num(j, "/best_val_accuracy"), 2) + "%)\nfiles:\n");
  for (const auto& f : run->files) Print("  " + f.path + "\n");
  return kExitOk;
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
  const json &ja = a->run, &jb = b->run;

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
  json digests = json::object();
  for (const auto& [name, ptr] : std::vector<std::pair<std::string, std::string>>{
           {"train_sample_digest", "/splits/train/sample_digest"},
           {"val_sample_digest", "/splits/val/sample_digest"},
           {"weights_content_id", "/weights/content_id"}}) {
    std::string va = Str(ja, ptr.c_str()), vb = Str(jb, ptr.c_str());
    digests[name] = {{"a", va}, {"b", vb}, {"equal", va == vb}};
  }
  json epochs = json::array();
  size_t na = ja.contains("epochs") ? ja["epochs"].size() : 0;
  size_t nb = jb.contains("epochs") ? jb["epochs"].size() : 0;
  for (size_t i = 0; i < std::max(na, nb); ++i) {
    json row = {{"epoch", i + 1}};
    for (const char* metric : {"train_loss", "val_loss", "val_accuracy"}) {
      json va = i < na ? ja["epochs"][i].value(metric, json()) : json();
      json vb = i < nb ? jb["epochs"][i].value(metric, json()) : json();
      json m = {{"a", va}, {"b", vb}};
      if (va.is_number() && vb.is_number()) m["diff"] = vb.get<double>() - va.get<double>();
      row[metric] = m;
    }
    epochs.push_back(row);
  }
  if (as_json) {
    json out = {{"a", {{"name", RunName(*a)}, {"commit", a->commit}}},
                {"b", {{"name", RunName(*b)}, {"commit", b->commit}}},
                {"settings", settings},
                {"digests", digests},
                {"epochs", epochs}};
    Print(out.dump(2) + "\n");
    return kExitOk;
  }
  Print("a: run " + RunName(*a) + " " + a->commit + "\nb: run " + RunName(*b) + " " + b->commit +
        "\n\n");
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
  return kExitOk;
}

}  // namespace

Command RegisterRuns(CLI::App& app, Globals& g) {
  struct Opts {
    bool json = false;
    std::string show_id;
    std::vector<std::string> compare_ids;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "runs",
      "List recorded training runs, show one, or compare two\n"
      "`vrepo runs` lists every run under refs/runs/ (name, commit, date, model, dataset "
      "commit, status, best validation accuracy). `runs show ID` prints one run's record; "
      "`runs compare A B` prints the settings that differ, whether sample digests and weights "
      "are equal, and the metrics of each epoch side by side. ID is a run name or a full or "
      "short commit id. Read-only: never waits for a writer.");
  sub->require_subcommand(0, 1);
  sub->add_flag("--json", o->json, "Machine-readable output");
  CLI::App* show = sub->add_subcommand("show", "Print one run's record (run.json)");
  show->add_option("ID", o->show_id, "Run name or commit id")->required();
  show->add_flag("--json", o->json, "Print run.json as it is stored");
  CLI::App* compare = sub->add_subcommand("compare", "Compare two runs side by side");
  compare->add_option("ID", o->compare_ids, "Two run names or commit ids")->required()->expected(2);
  compare->add_flag("--json", o->json, "Machine-readable output");
  return {sub, [&g, o, show, compare] {
            if (show->parsed()) return RunShow(g, o->show_id, o->json);
            if (compare->parsed()) return RunCompare(g, o->compare_ids, o->json);
            return RunList(g, o->json);
          }};
}

}  // namespace vrepo::cli
