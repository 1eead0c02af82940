// vrepo tag [NAME [REV]] [-m MSG] [-d NAME] [--json]
#include <algorithm>

#include "cli.h"

namespace vrepo::cli {

Command RegisterTag(CLI::App& app, Globals& g) {
  struct Opts {
    std::string name;
    std::string rev = "HEAD";
    std::string message;
    std::string del;
    bool force = false;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  CLI::App* sub = app.add_subcommand(
      "tag",
      "List, create or delete tags\n"
      "With no arguments, lists tags by name. With NAME, tags REV (HEAD by default): an "
      "annotated tag when -m gives a message, else a lightweight one. With -d, deletes a tag. "
      "Listing opens the repository read-only.");
  auto* name = sub->add_option("NAME", o->name, "Tag to create");
  sub->add_option("REV", o->rev, "Revision to tag")->needs(name);
  sub->add_option("-m,--message", o->message, "Message of an annotated tag")->needs(name);
  sub->add_option("-d,--delete", o->del, "Delete tag NAME")->type_name("NAME")->excludes(name);
  sub->add_flag("-f,--force", o->force, "Replace an existing tag");
  sub->add_flag("--json", o->json, "List as a JSON array: name, commit");
  return {sub, [&g, o] {
            bool listing = o->name.empty() && o->del.empty();
            auto repo = OpenRepository(g, /*write=*/!listing);
            if (!repo.ok()) return Fail("tag", repo.status());
            History& history = (*repo)->history();
            if (listing) {
              auto tags = history.Tags();
              if (!tags.ok()) return Fail("tag", tags.status());
              std::sort(tags->begin(), tags->end(),
                        [](const RefInfo& a, const RefInfo& b) { return a.name < b.name; });
              if (o->json) {
                JsonWriter json;
                json.BeginArray();
                for (const auto& t : *tags) {
                  json.BeginObject();
                  json.Key("name").String(t.name);
                  json.Key("commit").String(t.target);
                  json.EndObject();
                }
                json.EndArray();
                Print(json.str() + "\n");
              } else {
                for (const auto& t : *tags) Print(t.name + "\n");
              }
              return kExitOk;
            }
            if (!o->del.empty()) {
              std::string was;
              auto tags = history.Tags();
              if (tags.ok()) {
                for (const auto& t : *tags) {
                  if (t.name == o->del) was = t.target;
                }
              }
              Status st = history.DeleteTag(o->del);
              if (!st.ok()) return Fail("tag", st);
              Print("Deleted tag '" + o->del + "' (was " + ShortId(was) + ")\n");
              return kExitOk;
            }
            auto commit = history.ResolveCommit(o->rev);
            if (!commit.ok()) return Fail("tag", commit.status());
            Status st = history.CreateTag(o->name, *commit, o->message, o->force);
            if (!st.ok()) return Fail("tag", st);
            return kExitOk;
          }};
}

}  // namespace vrepo::cli
