// vrepo merge BRANCH [--json] [--path-column C] [--label-column C] | vrepo merge --abort
#include "cli.h"
#include "vrepo/dataset/merge.h"

namespace vrepo::cli {
namespace {

const char* OutcomeName(MergeOutcome outcome) {
  switch (outcome) {
    case MergeOutcome::kUpToDate:
      return "up-to-date";
    case MergeOutcome::kFastForward:
      return "fast-forward";
    case MergeOutcome::kMerged:
      return "merged";
    case MergeOutcome::kConflicts:
      return "conflicts";
  }
  return "?";
}

std::string Json(const MergeResult& r) {
  JsonWriter json;
  json.BeginObject();
  json.Key("outcome").String(OutcomeName(r.outcome));
  json.Key("head").String(r.head);
  json.Key("theirs").String(r.theirs);
  json.Key("base");
  if (r.base)
    json.String(*r.base);
  else
    json.Null();
  json.Key("commit");
  if (r.commit.empty())
    json.Null();
  else
    json.String(r.commit);
  json.Key("files_changed").Uint(r.files_changed);
  json.Key("tables_merged").BeginArray();
  for (const auto& t : r.tables_merged) json.String(t);
  json.EndArray();
  json.Key("conflicts").BeginArray();
  for (const auto& c : r.conflicts) {
    json.BeginObject();
    json.Key("conflict").String(c.kind);
    json.Key("path").String(c.file);
    json.Key("key");
    if (c.key.empty())
      json.Null();
    else
      json.String(c.key);
    if (c.kind == "label") {
      json.Key("ours").String(c.ours);
      json.Key("theirs").String(c.theirs);
    }
    json.Key("message").String(DescribeConflict(c));
    json.EndObject();
  }
  json.EndArray();
  json.EndObject();
  return json.str() + "\n";
}

std::string Human(const MergeResult& r) {
  switch (r.outcome) {
    case MergeOutcome::kUpToDate:
      return "Already up to date.\n";
    case MergeOutcome::kFastForward:
      return "Updating " + ShortId(r.head) + ".." + ShortId(r.theirs) + "\nFast-forward\n " +
             std::to_string(r.files_changed) + " file(s) changed\n";
    case MergeOutcome::kMerged: {
      std::string out;
      for (const auto& t : r.tables_merged) out += "Merged label table " + t + " by key\n";
      return out + "Merge made by vrepo: " + ShortId(r.commit) + "\n " +
             std::to_string(r.files_changed) + " file(s) changed\n";
    }
    case MergeOutcome::kConflicts: {
      std::string out;
      for (const auto& t : r.tables_merged) out += "Merged label table " + t + " by key\n";
      for (const auto& c : r.conflicts) out += DescribeConflict(c) + "\n";
      return out +
             "Automatic merge failed; fix the conflicts, 'vrepo add' the files and 'vrepo "
             "commit' the result (or 'vrepo merge --abort').\n";
    }
  }
  return "";
}

}  // namespace

Command RegisterMerge(CLI::App& app, Globals& g) {
  struct Opts {
    std::string rev;
    bool abort = false;
    bool json = false;
    bool quiet = false;
    MergeOptions merge;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "merge",
      "Merge a branch into HEAD, label tables by sample\n"
      "A three-way merge against the merge base, as git does: already merged -> nothing to do; "
      "HEAD an ancestor of BRANCH -> fast-forward; otherwise files changed on one side take "
      "that side, and a label table (.csv/.jsonl) changed on both sides is merged by its path "
      "column: each sample takes the side that changed it, rows added on either side are kept "
      "(ours' order, then theirs' new rows). An image moved to another class folder "
      "(FOLDER/A/x.png -> FOLDER/B/x.png, bytes unchanged) is relabeled in the folder-per-class "
      "table FOLDER. The same sample changed differently on both sides (also moved to two "
      "different class folders), or any other file changed on both sides, is a conflict: "
      "nothing is committed, "
      "the working tree gets every clean change and, in a conflicted table, ours' row for each "
      "conflicted sample; fix, 'vrepo add' and 'vrepo commit' (a commit with both parents), or "
      "'vrepo merge --abort'. Exit 0 when merged, 1 on conflicts or a refusal (local changes "
      "would be overwritten).");
  auto* rev = sub->add_option("BRANCH", o->rev, "Branch or revision to merge into HEAD");
  sub->add_flag("--abort", o->abort, "Give up the merge in progress and restore HEAD's files")
      ->excludes(rev);
  sub->add_flag("--json", o->json, "One JSON object: outcome, commits and every conflict");
  sub->add_flag("-q,--quiet", o->quiet, "Print only conflicts");
  AddColumnOptions(sub, &o->merge.table);
  return {
      sub, [&g, o] {
        if (!o->abort && o->rev.empty()) {
          return FailWith("merge", "no branch given [see 'vrepo merge --help']", kExitUsage);
        }
        auto repo = OpenRepository(g, /*write=*/true);
        if (!repo.ok()) return Fail("merge", repo.status());
        if (o->abort) {
          Status st = AbortMerge(**repo);
          return st.ok() ? kExitOk : Fail("merge --abort", st);
        }
        o->merge.reporter = o->quiet || o->json ? nullptr : CliReporter();
        auto result = Merge(**repo, o->rev, o->merge);
        if (!result.ok()) {
          const Status& st = result.status();
          if (st.code() == Status::Code::kConflict && st.message().ends_with(" is in progress")) {
            return FailWith("merge", st.message() + " [commit it, or 'vrepo merge --abort']",
                            kExitFailure);
          }
          return Fail("merge", st);
        }
        int code = result->outcome == MergeOutcome::kConflicts ? kExitFailure : kExitOk;
        if (o->json) {
          Print(Json(*result));
        } else if (!o->quiet || code != kExitOk) {
          Print(Human(*result));
        }
        return code;
      }};
}

}  // namespace vrepo::cli
