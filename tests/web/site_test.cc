// The web view's server (src/web/): every API route of docs/ui.md on a real server on
// 127.0.0.1, over real repositories, as a browser or a script would call it.
#include "vrepo/web/site.h"

#include <doctest/doctest.h>
#include <httplib.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_support.h"
#include "dataset/png_support.h"
#include "must.h"
#include "testing.h"
#include "vrepo/dataset/image.h"
#include "vrepo/history/history.h"
#include "vrepo/remote/server.h"
#include "vrepo/repo/repository.h"
#include "vrepo/store/content_id.h"
#include "vrepo/util/file.h"
#include "vrepo/worktree/worktree.h"

namespace vrepo::testing {
namespace {

using Json = nlohmann::json;

std::string GrayPng(uint32_t width, uint32_t height, uint8_t shade) {
  std::vector<uint8_t> pixels(size_t{width} * height);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(shade + i % 7);
  return EncodePng(PngSpec{width, height}, pixels.data(), pixels.size());
}

constexpr const char* kLabels =
    "path,label,source\n"
    "images/a.png,cat,\"web, 1\"\n"
    "images/b.png,dog,x\n"
    "images/c.png,cat,y\n"
    "images/d.png,bird,z\n";

// A repository with four PNGs, labels.csv and labels.jsonl in two commits (the second
// relabels c.png cat -> dog), its writer lock released.
struct WebRepo {
  TempDir root;  // serve: the root; the repository is root/data
  std::string dir;
  std::string first, second;

  WebRepo() : dir(root / "data") {
    MakeDirs(dir).ok();
    auto repo = Must(Repository::Init(dir));
    Write("images/a.png", GrayPng(300, 150, 10));
    Write("images/b.png", GrayPng(64, 64, 80));
    Write("images/c.png", GrayPng(20, 40, 160));
    Write("images/d.png", GrayPng(8, 8, 240));
    Write("notes.txt", "not an image\n");
    Write("labels.csv", kLabels);
    Write(
        "labels.jsonl",
        "{\"path\": \"images/a.png\", \"label\": 3}\n{\"path\": \"images/b.png\", \"label\": 4}\n");
    Must(Add(*repo, {""}).status());
    first = Must(Commit(*repo, "first")).commit;
    std::string relabeled = kLabels;
    relabeled.replace(relabeled.find("images/c.png,cat"), 16, "images/c.png,dog");
    Write("labels.csv", relabeled);
    Must(Add(*repo, {"labels.csv"}).status());
    second = Must(Commit(*repo, "relabel c")).commit;
  }
  void Write(const std::string& rel, const std::string& data) {
    WriteFile(dir + "/" + rel, data);
    AgeFile(dir + "/" + rel, 10);
  }
  std::string Id(const std::string& rel) const {
    return ContentId::Of(ReadFileOrDie(dir + "/" + rel)).Hex();
  }
};

// A Site on a RepositoryServer of 127.0.0.1:0, as `vrepo ui` (pages at the root) or `vrepo
// serve` (pages under /ui/) run it.
struct SiteServer {
  std::shared_ptr<web::Site> site;
  std::unique_ptr<RepositoryServer> server;
  std::thread thread;

  SiteServer(web::SiteOptions site_options, const std::string& root, const std::string& prefix) {
    site = Must(web::Site::Create(std::move(site_options)));
    ServerOptions options;
    options.root = root;
    options.pages_prefix = prefix;
    options.max_page_request = 4096;
    auto s = site;
    options.pages = [s](const httplib::Request& req, httplib::Response& res) {
      return s->Handle(req, res);
    };
    server = Must(RepositoryServer::Bind(options));
    thread = std::thread([this] { (void)server->Run(); });
  }
  ~SiteServer() {
    server->Stop();
    thread.join();
  }
  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", server->port());
    client.set_read_timeout(30);
    return client;
  }
};

SiteServer UiServer(const WebRepo& r) {
  web::SiteOptions options;
  options.mode = web::SiteMode::kUi;
  options.repository = r.dir;
  return SiteServer(std::move(options), r.dir, "");
}

// A client whose every request carries a header (a cookie or a bearer token).
struct Browser {
  httplib::Client client;
  httplib::Headers headers;

  httplib::Result Get(const std::string& path) { return client.Get(path.c_str(), headers); }
  httplib::Result Post(const std::string& path, const Json& body) {
    return client.Post(path.c_str(), headers, body.dump(), "application/json");
  }
  Json GetJson(const std::string& path, int status = 200) {
    auto res = Get(path);
    REQUIRE(res);
    CHECK_MESSAGE(res->status == status, path << ": " << res->body);
    CHECK(res->get_header_value("Content-Type") == "application/json");
    return Json::parse(res->body);
  }
  Json PostJson(const std::string& path, const Json& body, int status = 200) {
    auto res = Post(path, body);
    REQUIRE(res);
    CHECK_MESSAGE(res->status == status, path << ": " << res->body);
    return Json::parse(res->body);
  }
};

Browser Bearer(const SiteServer& s, const std::string& token) {
  return Browser{s.Client(), {{"Authorization", "Bearer " + token}}};
}

// A repository served as by `vrepo ui`, and a script calling it with the token.
struct UiSite {
  WebRepo repo;
  SiteServer server = UiServer(repo);
  Browser script = Bearer(server, server.site->token());
};

// The session id a Set-Cookie header sets.
std::string SessionOf(const httplib::Result& res) {
  std::string cookie = res->get_header_value("Set-Cookie");
  REQUIRE(cookie.rfind("vrepo_session=", 0) == 0);
  return cookie.substr(14, cookie.find(';') - 14);
}

TEST_CASE(
    "web ui: the printed token becomes a strict HttpOnly session cookie, nothing works "
    "without one") {
  WebRepo r;
  SiteServer s = UiServer(r);
  httplib::Client client = s.Client();
  const std::string token = s.site->token();
  REQUIRE(token.size() == 64);

  auto first = client.Get(("/dataset/HEAD?token=" + token + "&labels=labels.csv").c_str());
  REQUIRE(first);
  CHECK(first->status == 303);
  CHECK(first->get_header_value("Location") == "/dataset/HEAD?labels=labels.csv");
  std::string cookie = first->get_header_value("Set-Cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Path=/") != std::string::npos);
  CHECK(cookie.find("Max-Age=43200") != std::string::npos);
  const std::string session = SessionOf(first);
  CHECK(session.size() == 64);

  Browser browser{s.Client(), {{"Cookie", "vrepo_session=" + session}}};
  auto page = browser.Get("/dataset/HEAD");
  REQUIRE(page);
  CHECK(page->status == 200);
  CHECK(page->body.find("{{CONFIG}}") == std::string::npos);
  CHECK(page->body.find("\"can_write\":true") != std::string::npos);
  CHECK(page->body.find("\"mode\":\"ui\"") != std::string::npos);
  CHECK(page->get_header_value("Content-Security-Policy").find("sha256-") != std::string::npos);
  CHECK(page->get_header_value("Referrer-Policy") == "no-referrer");
  auto js = client.Get("/assets/app.js");
  REQUIRE(js);
  CHECK(js->status == 200);
  CHECK(js->get_header_value("Content-Type").find("javascript") != std::string::npos);
  CHECK(client.Get("/assets/nothing.js")->status == 404);

  // No cookie, a forged one, a wrong token: 401, as JSON on the API and as a page elsewhere.
  CHECK(client.Get("/api/")->status == 401);
  CHECK(Json::parse(client.Get("/api/")->body)["error"].get<std::string>().find("no session") !=
        std::string::npos);
  Browser forged{s.Client(), {{"Cookie", "vrepo_session=" + std::string(64, 'a')}}};
  forged.GetJson("/api/", 401);
  Bearer(s, std::string(64, 'b')).GetJson("/api/", 401);
  CHECK(client.Get("/")->status == 401);
  CHECK(client.Get(("/?token=" + std::string(64, 'c')).c_str())->status == 401);
  Bearer(s, token).GetJson("/api/");

  // Logout ends the session.
  browser.PostJson("/api/logout", Json::object());
  browser.GetJson("/api/", 401);
}

TEST_CASE("web ui: front page, commit page with its label diff, and the diff between commits") {
  UiSite u;
  WebRepo& r = u.repo;
  Browser& b = u.script;

  Json home = b.GetJson("/api/");
  CHECK(home["name"] == "data");
  CHECK(home["head"]["branch"] == "main");
  CHECK(home["head"]["commit"] == r.second);
  CHECK(home["commits"].size() == 2);
  CHECK(home["commits"][0]["subject"] == "relabel c");
  CHECK(home["branches"][0]["name"] == "main");
  CHECK(home["runs"].empty());
  CHECK(home["can_write"] == true);

  Json commit = b.GetJson("/api/commit/HEAD");
  CHECK(commit["id"] == r.second);
  CHECK(commit["parents"][0] == r.first);
  CHECK(commit["files"]["modified"][0]["path"] == "labels.csv");
  CHECK(commit["files"]["counts"]["modified"] == 1);
  REQUIRE(commit["tables"].size() == 1);
  Json table = commit["tables"][0];
  CHECK(table["path"] == "labels.csv");
  REQUIRE(table["relabeled"].size() == 1);
  CHECK(
      table["relabeled"][0] ==
      Json{{"path", "images/c.png"}, {"id", r.Id("images/c.png")}, {"old", "cat"}, {"new", "dog"}});
  CHECK(table["counts"]["relabeled"] == 1);

  Json root = b.GetJson("/api/commit/" + r.first);
  CHECK(root["files"]["added"].size() == 7);
  CHECK(root["tables"].size() == 2);  // both tables added: every row an addition

  Json diff = b.GetJson("/api/diff/" + r.first + "..main?labels=labels.csv");
  CHECK(diff["from"] == r.first);
  CHECK(diff["to"] == r.second);
  CHECK(diff["counts"]["relabeled"] == 1);
  CHECK(diff["relabeled"][0]["new"] == "dog");
  CHECK(diff["added"].empty());
}

TEST_CASE("web ui: dataset pages: counts, filters by label and path, paging") {
  UiSite u;
  WebRepo& r = u.repo;
  Browser& b = u.script;

  Json page = b.GetJson("/api/dataset/HEAD");
  CHECK(page["table"] == "labels.csv");
  CHECK(page["tables"] == Json{"labels.csv", "labels.jsonl"});
  CHECK(page["commit"] == r.second);
  CHECK(page["rows"] == 4);
  CHECK(page["counts"] == Json{{"bird", 1}, {"cat", 1}, {"dog", 2}});
  CHECK(page["matched"] == 4);
  CHECK(page["samples"][0] ==
        Json{{"path", "images/a.png"}, {"id", r.Id("images/a.png")}, {"label", "cat"}});

  Json dogs = b.GetJson("/api/dataset/HEAD?labels=labels.csv&label=dog&per_page=1&page=2");
  CHECK(dogs["matched"] == 2);
  CHECK(dogs["pages"] == 2);
  REQUIRE(dogs["samples"].size() == 1);
  CHECK(dogs["samples"][0]["path"] == "images/c.png");
  CHECK(dogs["counts"]["cat"] == 1);  // counts stay those of the whole table

  Json filtered = b.GetJson("/api/dataset/" + r.first + "?path=b.p");
  CHECK(filtered["matched"] == 1);
  CHECK(filtered["samples"][0]["path"] == "images/b.png");
  CHECK(b.GetJson("/api/dataset/HEAD?label=zebra")["matched"] == 0);

  Json jsonl = b.GetJson("/api/dataset/HEAD?labels=labels.jsonl");
  CHECK(jsonl["format"] == "jsonl");
  CHECK(jsonl["counts"] == Json{{"3", 1}, {"4", 1}});
}

TEST_CASE("web ui: thumbnails fit 128x128, keep the aspect and are cached as immutable") {
  UiSite u;
  WebRepo& r = u.repo;
  Browser& b = u.script;
  struct Want {
    const char* file;
    uint32_t width, height;
  };
  for (Want want : {Want{"images/a.png", 128, 64}, Want{"images/c.png", 20, 40}}) {
    CAPTURE(want.file);
    for (int round = 0; round < 2; ++round) {
      auto res = b.Get("/api/thumb/" + r.Id(want.file));
      REQUIRE(res);
      REQUIRE(res->status == 200);
      CHECK(res->get_header_value("Content-Type") == "image/png");
      CHECK(res->get_header_value("Cache-Control").find("immutable") != std::string::npos);
      DecodedImage thumb = Must(DecodeImage(res->body, "thumbnail"));
      CHECK(thumb.width == want.width);
      CHECK(thumb.height == want.height);
    }
  }
  b.GetJson("/api/thumb/" + std::string(64, '0'), 404);
  Json not_image = b.GetJson("/api/thumb/" + r.Id("notes.txt"), 415);
  CHECK(not_image["error"].get<std::string>().find("not a PNG or JPEG") != std::string::npos);
  b.GetJson("/api/thumb/xyz", 400);
}

TEST_CASE("web ui: label fixing stages edits and commits them as an ordinary commit") {
  UiSite u;
  WebRepo& r = u.repo;
  Browser& b = u.script;

  Json staged = b.PostJson(
      "/api/stage", {{"table", "labels.csv"}, {"path", "images/a.png"}, {"label", "dog, really"}});
  CHECK(staged["branch"] == "main");
  CHECK(staged["commit"] == r.second);
  CHECK(staged["edits"] == Json::array({{{"table", "labels.csv"},
                                         {"path", "images/a.png"},
                                         {"old", "cat"},
                                         {"new", "dog, really"}}}));
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/d.png"}, {"label", "cat"}});
  b.PostJson("/api/stage", {{"table", "labels.jsonl"}, {"path", "images/b.png"}, {"label", "7"}});
  CHECK(b.PostJson("/api/unstage", {{"table", "labels.csv"}, {"path", "images/d.png"}})["edits"]
            .size() == 2);
  // Choosing the committed label again drops the edit.
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/b.png"}, {"label", "dog"}});
  CHECK(b.GetJson("/api/staged")["edits"].size() == 2);

  Json done = b.PostJson("/api/commit", {{"message", "Fix a and b"}});
  const std::string commit = done["commit"];
  CHECK(commit.size() == 40);
  CHECK(b.GetJson("/api/staged")["edits"].empty());

  // Only the edited rows changed, in each table's own format; the working tree follows.
  std::string want = std::string(kLabels);
  want.replace(want.find("images/c.png,cat"), 16, "images/c.png,dog");
  want.replace(want.find("images/a.png,cat"), 16, "images/a.png,\"dog, really\"");
  CHECK(ReadFileOrDie(r.dir + "/labels.csv") == want);
  CHECK(ReadFileOrDie(r.dir + "/labels.jsonl") ==
        "{\"path\": \"images/a.png\", \"label\": 3}\n{\"path\":\"images/b.png\",\"label\":7}\n");
  CHECK(MustRun(r.dir, {"status", "--porcelain"}).out == "");

  CommandResult log = MustRun(r.dir, {"log", "--oneline"});
  CHECK(log.out.find("Fix a and b") != std::string::npos);
  CHECK(RevParse(r.dir, "HEAD") == commit);
  CommandResult diff = MustRun(r.dir, {"diff", "--labels", "labels.csv", "HEAD~1", "HEAD"});
  CHECK(diff.out.find("R\timages/a.png\tcat -> dog, really") != std::string::npos);
  Json page = b.GetJson("/api/commit/HEAD");
  CHECK(page["tables"].size() == 2);
  CHECK(page["files"]["modified"].size() == 2);
}

TEST_CASE("web ui: label fixing refuses uncommitted table changes and a branch that moved") {
  UiSite u;
  WebRepo& r = u.repo;
  Browser& b = u.script;
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/a.png"}, {"label", "x"}});

  r.Write("labels.csv", std::string(kLabels) + "images/d.png,owl,w\n");
  Json dirty = b.PostJson("/api/commit", {{"message", "m"}}, 409);
  CHECK(dirty["error"].get<std::string>().find("not committed") != std::string::npos);
  CHECK(RevParse(r.dir, "HEAD") == r.second);

  MustRun(r.dir, {"add", "labels.csv"});
  MustRun(r.dir, {"commit", "-m", "moved on"});
  Json moved = b.PostJson("/api/commit", {{"message", "m"}}, 409);
  CHECK(moved["error"].get<std::string>().find("moved") != std::string::npos);
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/b.png"}, {"label", "x"}},
             409);
}

TEST_CASE("web ui: bad input gets a one-line JSON error and changes nothing") {
  WebRepo r;
  r.Write("bad.csv", "path,label\n\"images/a.png,cat\n");
  {
    auto repo = Must(Repository::Discover(r.dir, OpenOptions{}));
    Must(Add(*repo, {"bad.csv"}).status());
    Must(Commit(*repo, "a broken table").status());
  }
  const std::string head = RevParse(r.dir, "HEAD");
  SiteServer s = UiServer(r);
  Browser b = Bearer(s, s.site->token());
  auto error_of = [&](const std::string& path, int status) {
    return b.GetJson(path, status)["error"].get<std::string>();
  };
  CHECK(error_of("/api/commit/nope", 404).find("unknown revision") != std::string::npos);
  CHECK(error_of("/api/dataset/nope", 404).find("unknown revision") != std::string::npos);
  CHECK(error_of("/api/dataset/HEAD?labels=bad.csv", 400).find("bad.csv:2") != std::string::npos);
  CHECK(error_of("/api/dataset/HEAD?labels=missing.csv", 404).find("missing.csv") !=
        std::string::npos);
  for (const std::string& outside :
       {std::string("../etc/passwd"), std::string("/etc/passwd"), std::string("a/../../b"),
        std::string("a\\..\\b"), std::string("a\0b", 3), std::string(".vrepo/config"),
        std::string("a//b")}) {
    CAPTURE(outside);
    std::string escaped = httplib::detail::encode_query_param(outside);
    CHECK(b.GetJson("/api/dataset/HEAD?labels=" + escaped, 400).contains("error"));
    CHECK(b.GetJson("/api/diff/HEAD~1..HEAD?labels=" + escaped, 400).contains("error"));
    b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", outside}, {"label", "x"}}, 400);
  }
  b.GetJson("/api/commit/-x", 400);
  b.GetJson("/api/commit/HEAD:labels.csv", 400);
  b.GetJson("/api/diff/HEAD", 400);
  b.GetJson("/api/dataset/HEAD?page=x", 400);
  CHECK(error_of("/api/runs/nope", 404).find("nope") != std::string::npos);
  b.GetJson("/api/runs/..%2Fx", 400);
  b.GetJson("/api/nothing", 404);
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/zz.png"}, {"label", "x"}},
             404);
  b.PostJson("/api/stage", {{"table", "labels.csv"}, {"path", "images/a.png"}, {"label", "a\nb"}},
             400);
  b.PostJson("/api/stage", {{"table", "images"}, {"path", "images/a.png"}, {"label", "x"}}, 400);
  b.PostJson("/api/commit", Json::object(), 400);  // nothing staged
  auto not_json = b.client.Post("/api/stage", b.headers, "{", "application/json");
  CHECK(not_json->status == 400);
  auto form =
      b.client.Post("/api/stage", b.headers, "table=x", "application/x-www-form-urlencoded");
  CHECK(form->status == 415);
  auto big = b.client.Post("/api/stage", b.headers, std::string(5000, ' '), "application/json");
  CHECK(big->status == 413);
  CHECK(Json::parse(big->body)["error"].get<std::string>().find("limit") != std::string::npos);
  CHECK(RevParse(r.dir, "HEAD") == head);
  CHECK(MustRun(r.dir, {"status", "--porcelain"}).out == "");
}

// A training run's record under refs/runs/NAME on `dataset` (run.json, and
// predictions/val.csv when given).
void AddRun(Repository& repo, const std::string& name, const std::string& dataset, double lr,
            double accuracy, const std::string& predictions) {
  Json run = {{"format", 1},
              {"dataset", {{"rev", "main"}, {"commit", dataset}}},
              {"model", "small-cnn"},
              {"status", "completed"},
              {"config", {{"lr", lr}, {"epochs", 2}}},
              {"seed", 1},
              {"epochs",
               {{{"epoch", 1}, {"train_loss", 1.0}, {"val_accuracy", accuracy / 2}},
                {{"epoch", 2}, {"train_loss", 0.5}, {"val_accuracy", accuracy}}}},
              {"classes", {"bird", "cat", "dog"}},
              {"confusion", {{0, 1, 0}, {0, 0, 1}, {0, 1, 1}}}};
  auto writer = Must(repo.store().NewWriter());
  std::vector<FileEntry> files;
  for (const auto& [path, bytes] : std::vector<std::pair<std::string, std::string>>{
           {"run.json", run.dump()}, {"predictions/val.csv", predictions}}) {
    if (bytes.empty()) continue;
    files.push_back(FileEntry{path, Must(writer->Put(bytes)), bytes.size(), false});
  }
  Must(writer->Commit(nullptr));
  std::string tree = Must(repo.history().WriteTree(files));
  std::string commit = Must(repo.history().CreateCommit(tree, {dataset}, "run " + name));
  Must(repo.history().CreateRef("refs/runs/" + name, commit));
}

TEST_CASE("web ui: runs table, a run's record, its suspects and a confusion cell's samples") {
  WebRepo r;
  {
    auto repo = Must(Repository::Discover(r.dir, OpenOptions{}));
    AddRun(*repo, "one", r.second, 0.1, 0.75,
           "path,label,predicted,p_label,p_predicted\n"
           "images/a.png,cat,dog,0.2,0.8\n"
           "images/b.png,dog,dog,0.9,0.9\n"
           "images/c.png,dog,cat,0.05,0.95\n"
           "images/d.png,bird,cat,0.4,0.6\n");
    AddRun(*repo, "two", r.second, 0.01, 0.9, "");
    AddRun(*repo, "bad", r.second, 0.01, 0.5,
           "path,label,predicted,p_label,p_predicted\nimages/a.png,cat,dog,2,0\n");
  }
  SiteServer s = UiServer(r);
  Browser b = Bearer(s, s.site->token());

  Json table = b.GetJson("/api/runs?sort=val_accuracy&desc=1");
  CHECK(table["columns"] == Json{"lr"});
  CHECK(table["metrics"] == Json{"train_loss", "val_accuracy"});
  REQUIRE(table["runs"].size() == 3);
  CHECK(table["runs"][0]["name"] == "two");
  CHECK(table["runs"][1]["name"] == "one");
  CHECK(table["runs"][1]["best"]["val_accuracy"] == 0.75);
  CHECK(table["runs"][1]["last"]["train_loss"] == 0.5);
  CHECK(table["runs"][1]["dataset_commit"] == r.second);
  b.GetJson("/api/runs?sort=nothing", 400);
  CHECK(b.GetJson("/api/")["runs"].size() == 3);

  Json one = b.GetJson("/api/runs/one");
  CHECK(one["kind"] == "train");
  CHECK(one["classes"] == Json{"bird", "cat", "dog"});
  CHECK(one["confusion"][2][2] == 1);
  CHECK(one["metrics"].size() == 2);
  REQUIRE(one["suspects"].size() == 3);
  CHECK(one["suspects"][0] == Json{{"path", "images/c.png"},
                                   {"id", r.Id("images/c.png")},
                                   {"label", "dog"},
                                   {"predicted", "cat"},
                                   {"p_label", 0.05}});
  CHECK(one["suspects"][1]["path"] == "images/a.png");
  CHECK(one["suspects"][2]["path"] == "images/d.png");
  Json cell = b.GetJson("/api/runs/one/samples?label=cat&predicted=dog");
  REQUIRE(cell["samples"].size() == 1);
  CHECK(cell["samples"][0]["path"] == "images/a.png");
  CHECK(b.GetJson("/api/runs/two")["suspects"].empty());
  CHECK(b.GetJson("/api/runs/two/samples?label=cat&predicted=dog")["samples"].empty());
  Json bad = b.GetJson("/api/runs/bad");
  CHECK(bad["suspects"].empty());
  CHECK(bad["predictions_error"].get<std::string>().find("predictions/val.csv:2") !=
        std::string::npos);
}

TEST_CASE("web serve: anonymous reads, login, and rights per token") {
  WebRepo r;
  WriteFile(r.root / "tokens", "ro-token r data\nrw-token rw *\nanonymous r data\n");
  web::SiteOptions options;
  options.mode = web::SiteMode::kServe;
  options.root = r.root.path();
  options.grants = Must(TokenGrants::Load(r.root / "tokens"));
  SiteServer s(std::move(options), r.root.path(), "/ui");
  httplib::Client anonymous = s.Client();

  Json repos = Json::parse(anonymous.Get("/ui/api/repos")->body);
  CHECK(repos["repos"] ==
        Json::array({{{"name", "data"}, {"base", "/ui/data/-"}, {"can_write", false}}}));
  CHECK(repos["user"]["logged_in"] == false);
  auto shell = anonymous.Get("/ui/data/-/dataset/HEAD");
  CHECK(shell->status == 200);
  CHECK(shell->body.find("\"base\":\"/ui/data/-\"") != std::string::npos);
  CHECK(shell->body.find("\"can_write\":false") != std::string::npos);
  CHECK(anonymous.Get("/ui/")->status == 200);
  CHECK(anonymous.Get("/ui/assets/app.js")->status == 200);
  Browser anon{s.Client(), {}};
  CHECK(anon.GetJson("/ui/data/-/api/dataset/HEAD")["rows"] == 4);
  anon.PostJson("/ui/data/-/api/stage",
                {{"table", "labels.csv"}, {"path", "images/a.png"}, {"label", "x"}}, 401);
  anon.GetJson("/ui/nothing/-/api/", 401);  // no grant: strangers learn nothing
  anon.GetJson("/ui/a%2F..%2Fb/-/api/", 400);

  auto bad_login =
      anonymous.Post("/ui/api/login", Json{{"token", "guess"}}.dump(), "application/json");
  CHECK(bad_login->status == 401);
  auto login =
      anonymous.Post("/ui/api/login", Json{{"token", "ro-token"}}.dump(), "application/json");
  REQUIRE(login->status == 200);
  Browser reader{s.Client(), {{"Cookie", "vrepo_session=" + SessionOf(login)}}};
  CHECK(reader.GetJson("/ui/api/repos")["user"]["logged_in"] == true);
  reader.PostJson("/ui/data/-/api/stage",
                  {{"table", "labels.csv"}, {"path", "images/a.png"}, {"label", "x"}}, 403);
  reader.PostJson("/ui/data/-/api/commit", {{"message", "m"}}, 403);

  Browser writer = Bearer(s, "rw-token");
  CHECK(writer.GetJson("/ui/data/-/api/")["can_write"] == true);
  writer.PostJson("/ui/data/-/api/stage",
                  {{"table", "labels.csv"}, {"path", "images/d.png"}, {"label", "owl"}});
  Json done = writer.PostJson("/ui/data/-/api/commit", {{"message", "owl"}});
  CHECK(RevParse(r.dir, "HEAD") == done["commit"].get<std::string>());
  Bearer(s, "wrong").GetJson("/ui/data/-/api/", 401);

  // Targets outside the pages go on to the repository routes.
  CHECK(anonymous.Get("/data/refs")->status == 200);
}

TEST_CASE("web ui: the vrepo ui command prints its link, serves the pages and stops on SIGINT") {
  WebRepo r;
  const std::string out = r.root / "ui.out";
  pid_t pid = SpawnVrepo(r.dir, {"ui", "--listen", "127.0.0.1:0"}, out);
  std::string line;
  for (int i = 0; i < 100 && line.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    line = Exists(out) ? ReadFileOrDie(out) : "";
  }
  REQUIRE(line.rfind("open http://127.0.0.1:", 0) == 0);
  const size_t port_at = std::string("open http://127.0.0.1:").size();
  const int port = std::stoi(line.substr(port_at));
  const std::string token = line.substr(line.find("?token=") + 7, 64);
  httplib::Client client("127.0.0.1", port);
  auto first = client.Get(("/?token=" + token).c_str());
  REQUIRE(first);
  CHECK(first->status == 303);
  httplib::Headers cookie = {{"Cookie", "vrepo_session=" + SessionOf(first)}};
  auto home = client.Get("/api/", cookie);
  REQUIRE(home);
  CHECK(home->status == 200);
  CHECK(Json::parse(home->body)["name"] == "data");
  CHECK(client.Get("/data/refs")->status == 404);  // no repository routes beside the pages
  ::kill(pid, SIGINT);
  CHECK(WaitPid(pid) == 0);
}

}  // namespace
}  // namespace vrepo::testing
