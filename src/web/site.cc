#include "vrepo/web/site.h"

#include <dirent.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <exception>

#include "dataset_cache.h"
#include "label_edits.h"
#include "pages_api.h"
#include "sessions.h"
#include "thumbnails.h"
#include "vrepo/remote/server.h"
#include "vrepo/remote/token_failures.h"
#include "vrepo/util/file.h"
#include "vrepo/web/assets.h"
#include "web_json.h"

namespace vrepo::web {
namespace {

constexpr size_t kMaxServedRepos = 1000;
constexpr int kMaxRepoDepth = 4;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Where one repository's pages live: "" (vrepo ui) or "/ui/NAME/-" (vrepo serve).
struct RepoTarget {
  std::string root;  // the repository's folder
  std::string name;  // ui: the folder's name; serve: NAME
  std::string base;
};

// Who sent a request: a session (owner = its id), a bearer token (owner "bearer:" + token),
// or nobody (serve's anonymous readers).
struct Caller {
  std::string owner;
  std::string token;
  bool logged_in = false;
  int error_status = 0;  // 401 when the request must be refused whatever it asks
  std::string error;
};

// The base64 SHA-256 of an inline script, for the Content-Security-Policy that allows it.
std::string ScriptHash(std::string_view script) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(script.data()), script.size(), digest);
  unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return "'sha256-" + std::string(reinterpret_cast<char*>(b64), n) + "'";
}

// The config object, safe inside a <script>: '<', '>' and '&' only occur inside JSON strings,
// where their \u escapes mean the same.
std::string ScriptSafeJson(const Json& value) {
  std::string out;
  for (char c : DumpJson(value)) {
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void SetSecurityHeaders(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  // The first page's URL holds the token of `vrepo ui`.
  res.set_header("Referrer-Policy", "no-referrer");
}

void SendHtmlError(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  std::string escaped;
  for (char c : message) {
    if (c == '<') {
      escaped += "&lt;";
    } else if (c == '&') {
      escaped += "&amp;";
    } else {
      escaped.push_back(c);
    }
  }
  res.set_content(
      "<!doctype html><meta charset=\"utf-8\"><title>vrepo</title><p>" + escaped + "</p>\n",
      "text/html; charset=utf-8");
}

bool IsPageRoute(const std::string& sub) {
  return sub.empty() || sub == "/" || sub == "/runs" || StartsWith(sub, "/commit/") ||
         StartsWith(sub, "/dataset/") || StartsWith(sub, "/diff/") || StartsWith(sub, "/runs/");
}

// A query parameter as a page number: 1 to 9 digits; `fallback` when absent.
Result<uint64_t> NumberParam(const httplib::Request& req, const std::string& key,
                             uint64_t fallback) {
  if (!req.has_param(key)) return fallback;
  std::string v = req.get_param_value(key);
  if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument(key + " '" + v + "' is not a number");
  }
  return std::stoull(v);
}

// A text query parameter ("" when absent): no control characters, at most 4096 bytes.
Result<std::string> TextParam(const httplib::Request& req, const std::string& key) {
  std::string v = req.has_param(key) ? req.get_param_value(key) : "";
  VREPO_RETURN_IF_ERROR(CheckTextParam(key, v, 4096, false));
  return v;
}

Result<std::unique_ptr<Repository>> OpenForReading(const std::string& root) {
  OpenOptions options;
  options.read_only = true;
  return Repository::Discover(root, options);
}

// The repositories under `root` (folders holding .vrepo), as names relative to it.
void FindRepositories(const std::string& root, const std::string& rel, int depth,
                      std::vector<std::string>* out) {
  if (depth > kMaxRepoDepth || out->size() >= kMaxServedRepos) return;
  const std::string dir = rel.empty() ? root : JoinPath(root, rel);
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == ".vrepo") continue;
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string child = rel.empty() ? name : rel + "/" + name;
    if (!CheckRepositoryName(child).ok() || !IsDir(JoinPath(root, child))) continue;
    if (IsDir(JoinPath(JoinPath(root, child), ".vrepo"))) {
      if (out->size() < kMaxServedRepos) out->push_back(child);
    } else {
      FindRepositories(root, child, depth + 1, out);
    }
  }
}

}  // namespace

struct Site::Impl {
  SiteOptions options;
  std::string token;      // ui
  std::string repo_root;  // ui
  std::string repo_name;  // ui
  SessionStore sessions;
  TokenFailures login_failures{10, 60};  // logins: 10 unknown tokens a minute per address
  LabelEditStore edits;
  ThumbnailCache thumbnails;
  DatasetCache datasets;

  explicit Impl(SiteOptions o)
      : options(std::move(o)),
        thumbnails(options.thumbnail_cache_bytes),
        datasets(options.dataset_cache_rows) {}

  bool ui() const { return options.mode == SiteMode::kUi; }
  std::string Prefix() const { return ui() ? "" : "/ui"; }

  bool Route(const httplib::Request& req, httplib::Response& res);
  bool RouteServeTop(const httplib::Request& req, httplib::Response& res, const std::string& rest);
  void RouteRepo(const httplib::Request& req, httplib::Response& res, const RepoTarget& target,
                 const std::string& sub);
  void Page(const httplib::Request& req, httplib::Response& res, const RepoTarget* target,
            const std::string& sub);
  void Shell(httplib::Response& res, const RepoTarget* target, bool can_write);
  void ServeAsset(httplib::Response& res, const std::string& name);
  void Api(const httplib::Request& req, httplib::Response& res, const RepoTarget& target,
           const Caller& caller, Access access, const std::string& sub);
  void Post(const httplib::Request& req, httplib::Response& res, const RepoTarget& target,
            const Caller& caller, Access access, const std::string& sub);

  Caller Identify(const httplib::Request& req);
  Access AccessFor(const Caller& caller, const std::string& name) const {
    if (ui()) return caller.logged_in ? Access::kReadWrite : Access::kNone;
    return options.grants.AccessFor(caller.token, name);
  }
};

Caller Site::Impl::Identify(const httplib::Request& req) {
  Caller caller;
  const std::string bearer = BearerToken(req);
  if (!bearer.empty()) {
    bool known = ui() ? SameSecret(bearer, token) : options.grants.Knows(bearer);
    if (!known) {
      caller.error_status = 401;
      caller.error = "unknown token";
      return caller;
    }
    return Caller{"bearer:" + bearer, bearer, true, 0, ""};
  }
  const std::string cookie = CookieValue(req, kSessionCookie);
  if (!cookie.empty()) {
    if (auto t = sessions.TokenOf(cookie)) return Caller{cookie, *t, true, 0, ""};
    // serve: a stale cookie reads as anonymous; ui has no anonymous readers.
    if (ui()) {
      caller.error_status = 401;
      caller.error = "unknown or expired session: open the link `vrepo ui` printed again";
      return caller;
    }
  }
  if (ui()) {
    caller.error_status = 401;
    caller.error = "no session: open the link `vrepo ui` printed (it holds the token)";
  }
  return caller;
}

bool Site::Impl::Route(const httplib::Request& req, httplib::Response& res) {
  const std::string& path = req.path;
  const std::string prefix = Prefix();
  if (!ui() && path != prefix && !StartsWith(path, prefix + "/")) return false;
  const std::string rest = path.substr(prefix.size());
  if (StartsWith(rest, "/assets/")) {
    ServeAsset(res, rest.substr(8));
    return true;
  }
  if (ui()) {
    RouteRepo(req, res, RepoTarget{repo_root, repo_name, ""}, rest);
    return true;
  }
  if (RouteServeTop(req, res, rest)) return true;
  // /ui/NAME/-/PAGE: the "/-" ends a name that may hold '/'.
  size_t sep = rest.find("/-/");
  if (sep == std::string::npos && rest.size() >= 2 && rest.compare(rest.size() - 2, 2, "/-") == 0) {
    sep = rest.size() - 2;
  }
  if (sep == std::string::npos || sep == 0) return false;
  const std::string name = rest.substr(1, sep - 1);
  const std::string sub = rest.substr(sep + 2);
  if (Status st = CheckRepositoryName(name); !st.ok()) {
    SendError(res, 400, st.message());
    return true;
  }
  RouteRepo(req, res, RepoTarget{JoinPath(options.root, name), name, "/ui/" + name + "/-"}, sub);
  return true;
}

// /ui/, /ui/login and /ui/api/{repos,login,logout}: the pages above the repositories.
bool Site::Impl::RouteServeTop(const httplib::Request& req, httplib::Response& res,
                               const std::string& rest) {
  if (rest.empty() || rest == "/" || rest == "/login") {
    Page(req, res, nullptr, rest);
    return true;
  }
  if (!StartsWith(rest, "/api/")) return false;
  const std::string api = rest.substr(4);
  if (api == "/login" && req.method == "POST") {
    if (int wait = login_failures.RetryAfter(req.remote_addr); wait > 0) {
      res.set_header("Retry-After", std::to_string(wait));
      SendError(res, 429,
                "too many unknown tokens from " + req.remote_addr + "; retry in " +
                    std::to_string(wait) + " s");
      return true;
    }
    auto body = ParseJsonBody(req.body);
    if (!body.ok()) return SendStatus(res, body.status()), true;
    auto token = StringMember(*body, "token", true);
    if (!token.ok()) return SendStatus(res, token.status()), true;
    if (token->empty() || !options.grants.Knows(*token)) {
      login_failures.Fail(req.remote_addr);
      SendError(res, 401, "unknown token");
      return true;
    }
    auto id = sessions.Create(*token);
    if (!id.ok()) return SendStatus(res, id.status()), true;
    SetSessionCookie(res, *id);
    SendJson(res, Json{{"logged_in", true}});
    return true;
  }
  if (api == "/logout" && req.method == "POST") {
    const std::string cookie = CookieValue(req, kSessionCookie);
    sessions.End(cookie);
    edits.DropOwner(cookie);
    ClearSessionCookie(res);
    SendJson(res, Json{{"logged_in", false}});
    return true;
  }
  if (api == "/repos" && req.method == "GET") {
    Caller caller = Identify(req);
    if (caller.error_status) return SendError(res, caller.error_status, caller.error), true;
    std::vector<std::string> names;
    FindRepositories(options.root, "", 0, &names);
    Json repos = Json::array();
    for (const std::string& name : names) {
      if (AccessFor(caller, name) < Access::kRead) continue;
      repos.push_back(Json{{"name", name},
                           {"base", "/ui/" + name + "/-"},
                           {"can_write", AccessFor(caller, name) == Access::kReadWrite}});
    }
    SendJson(res, Json{{"repos", std::move(repos)}, {"user", {{"logged_in", caller.logged_in}}}});
    return true;
  }
  if (StartsWith(api, "/") && api.find("/-") == std::string::npos) {
    SendError(res, 404, "no such API: " + req.method + " " + req.path);
    return true;
  }
  return false;
}

void Site::Impl::RouteRepo(const httplib::Request& req, httplib::Response& res,
                           const RepoTarget& target, const std::string& sub) {
  if (sub == "/api" || StartsWith(sub, "/api/")) {
    Caller caller = Identify(req);
    if (caller.error_status) return SendError(res, caller.error_status, caller.error);
    Access access = AccessFor(caller, target.name);
    if (access < Access::kRead) {
      if (caller.logged_in) return SendError(res, 403, "no read access to " + target.name);
      res.set_header("WWW-Authenticate", "Bearer");
      return SendError(res, 401, "log in to read " + target.name);
    }
    // After the rights, so that strangers learn nothing of which names exist.
    if (!IsDir(JoinPath(target.root, ".vrepo"))) {
      return SendError(res, 404, "no repository " + target.name);
    }
    const std::string api = sub.substr(4);
    if (req.method == "POST") return Post(req, res, target, caller, access, api);
    if (req.method != "GET") return SendError(res, 405, req.method + " is not served here");
    return Api(req, res, target, caller, access, api);
  }
  if (!IsPageRoute(sub)) return SendHtmlError(res, 404, "No such page: " + req.path);
  Page(req, res, &target, sub);
}

void Site::Impl::Page(const httplib::Request& req, httplib::Response& res, const RepoTarget* target,
                      const std::string& sub) {
  if (req.method != "GET") return SendHtmlError(res, 405, req.method + " is not served here");
  if (ui() && req.has_param("token")) {
    // The link `vrepo ui` printed: trade the token for a session cookie, then drop it from
    // the address bar (and from history).
    if (!SameSecret(req.get_param_value("token"), token)) {
      return SendHtmlError(res, 401, "Unknown token: open the link `vrepo ui` printed.");
    }
    auto id = sessions.Create(token);
    if (!id.ok()) return SendHtmlError(res, 500, id.status().message());
    SetSessionCookie(res, *id);
    std::string location = sub.empty() ? "/" : sub;
    std::string query;
    for (const auto& [key, value] : req.params) {
      if (key == "token") continue;
      query += (query.empty() ? "?" : "&") + httplib::detail::encode_query_param(key) + "=" +
               httplib::detail::encode_query_param(value);
    }
    res.status = 303;
    res.set_header("Location", location + query);
    return;
  }
  Caller caller = Identify(req);
  if (caller.error_status) {
    return SendHtmlError(res, caller.error_status,
                         "This is vrepo's web view. " + caller.error + ".");
  }
  bool can_write = target && AccessFor(caller, target->name) == Access::kReadWrite;
  Shell(res, target, can_write);
}

void Site::Impl::Shell(httplib::Response& res, const RepoTarget* target, bool can_write) {
  const Asset* shell = FindAsset("index.html");
  if (!shell) return SendHtmlError(res, 500, "the page shell is missing from this build");
  const std::string base = target ? target->base : Prefix();
  Json config = {{"base", base},
                 {"api", base + "/api"},
                 {"assets", Prefix() + "/assets"},
                 {"can_write", can_write},
                 {"mode", ui() ? "ui" : "serve"},
                 {"repo", target ? Json(target->name) : Json(nullptr)}};
  std::string html(shell->body);
  size_t at = html.find("{{CONFIG}}");
  if (at != std::string::npos) html.replace(at, 10, ScriptSafeJson(config));
  // Scripts run only from vrepo itself, plus the shell's inline ones by their hash.
  std::string script_src = "'self'";
  for (size_t open = html.find("<script>"); open != std::string::npos;
       open = html.find("<script>", open + 1)) {
    size_t start = open + 8, end = html.find("</script>", start);
    if (end == std::string::npos) break;
    script_src += " " + ScriptHash(std::string_view(html).substr(start, end - start));
  }
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src " + script_src +
                     "; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                     "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                     "form-action 'self'");
  res.set_header("Cache-Control", "no-store");
  res.status = 200;
  res.set_content(html, std::string(shell->content_type));
}

void Site::Impl::ServeAsset(httplib::Response& res, const std::string& name) {
  const Asset* asset = name == "index.html" ? nullptr : FindAsset(name);
  if (!asset) return SendHtmlError(res, 404, "No such asset: " + name);
  res.status = 200;
  // A new binary may bring new assets under the same names.
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::string(asset->body), std::string(asset->content_type));
}

void Site::Impl::Api(const httplib::Request& req, httplib::Response& res, const RepoTarget& target,
                     const Caller& caller, Access access, const std::string& sub) {
  auto repo = OpenForReading(target.root);
  if (!repo.ok()) return SendStatus(res, repo.status());
  Repository& r = **repo;
  const bool can_write = access == Access::kReadWrite;
  auto send = [&](Result<Json> answer) {
    if (!answer.ok()) return SendStatus(res, answer.status());
    SendJson(res, *answer);
  };
  if (sub.empty() || sub == "/") {
    auto home = HomeJson(r, target.name);
    if (home.ok()) (*home)["can_write"] = can_write;
    return send(std::move(home));
  }
  if (StartsWith(sub, "/commit/")) {
    const std::string rev = sub.substr(8);
    if (Status st = CheckRevParam(rev); !st.ok()) return SendStatus(res, st);
    return send(CommitJson(r, rev));
  }
  if (StartsWith(sub, "/dataset/")) {
    const std::string rev = sub.substr(9);
    auto answer = [&]() -> Result<Json> {
      VREPO_RETURN_IF_ERROR(CheckRevParam(rev));
      VREPO_ASSIGN_OR_RETURN(std::string labels, TextParam(req, "labels"));
      if (!labels.empty()) VREPO_RETURN_IF_ERROR(CheckRepoPathParam("labels", labels));
      PageQuery query;
      VREPO_ASSIGN_OR_RETURN(query.label, TextParam(req, "label"));
      VREPO_ASSIGN_OR_RETURN(query.path, TextParam(req, "path"));
      VREPO_ASSIGN_OR_RETURN(query.page, NumberParam(req, "page", 1));
      VREPO_ASSIGN_OR_RETURN(query.per_page, NumberParam(req, "per_page", 60));
      VREPO_ASSIGN_OR_RETURN(std::string commit, r.history().ResolveCommit(rev));
      VREPO_ASSIGN_OR_RETURN(auto table, datasets.Get(r, commit, labels));
      Json page = DatasetPage(*table, rev, query);
      page["can_write"] = can_write;
      return page;
    }();
    return send(std::move(answer));
  }
  if (StartsWith(sub, "/diff/")) {
    auto labels = TextParam(req, "labels");
    if (!labels.ok()) return SendStatus(res, labels.status());
    return send(DiffJson(r, sub.substr(6), labels->empty() ? "labels.csv" : *labels));
  }
  if (sub == "/runs") {
    auto sort = TextParam(req, "sort");
    if (!sort.ok()) return SendStatus(res, sort.status());
    return send(RunsJson(r, *sort, req.get_param_value("desc") == "1"));
  }
  if (StartsWith(sub, "/runs/")) {
    std::string id = sub.substr(6);
    constexpr std::string_view kSamples = "/samples";
    if (id.size() > kSamples.size() && id.ends_with(kSamples)) {
      id.resize(id.size() - kSamples.size());
      auto label = TextParam(req, "label");
      auto predicted = TextParam(req, "predicted");
      if (!label.ok()) return SendStatus(res, label.status());
      if (!predicted.ok()) return SendStatus(res, predicted.status());
      return send(RunSamplesJson(r, id, *label, *predicted));
    }
    return send(RunJson(r, id));
  }
  if (StartsWith(sub, "/thumb/")) {
    auto id = ContentId::FromHex(sub.substr(7));
    if (!id.ok())
      return SendError(res, 400, "thumbnail id '" + sub.substr(7) + "': not 64 hex digits");
    auto png = thumbnails.Get(r.store(), *id);
    if (!png.ok()) {
      const Status& st = png.status();
      return SendError(res,
                       st.code() == Status::Code::kInvalidArgument
                           ? 415
                           : HttpStatusFor(st, /*client_sent=*/false),
                       st.message());
    }
    res.status = 200;
    // Content-addressed: the id names these bytes forever.
    res.set_header("Cache-Control", "private, max-age=31536000, immutable");
    res.set_content(**png, "image/png");
    return;
  }
  if (sub == "/staged") {
    std::string tip;
    auto branch = EditBranch(r, &tip);
    if (!branch.ok()) return SendStatus(res, branch.status());
    Json out = EditSetJson(edits.Get(caller.owner, target.root, *branch));
    out["can_write"] = can_write;
    return SendJson(res, out);
  }
  SendError(res, 404, "no such API: GET " + req.path);
}

void Site::Impl::Post(const httplib::Request& req, httplib::Response& res, const RepoTarget& target,
                      const Caller& caller, Access access, const std::string& sub) {
  // A form on another site cannot send this type without the browser asking first.
  if (!StartsWith(req.get_header_value("Content-Type"), "application/json")) {
    return SendError(res, 415, "POST bodies are JSON: send Content-Type: application/json");
  }
  if (sub == "/logout") {
    if (!StartsWith(caller.owner, "bearer:")) sessions.End(caller.owner);
    edits.DropOwner(caller.owner);
    ClearSessionCookie(res);
    return SendJson(res, Json{{"logged_in", false}});
  }
  if (sub != "/stage" && sub != "/unstage" && sub != "/commit") {
    return SendError(res, 404, "no such API: POST " + req.path);
  }
  if (access != Access::kReadWrite) {
    if (!caller.logged_in) return SendError(res, 401, "log in with a read-write token to edit");
    return SendError(res, 403, "this token may only read " + target.name);
  }
  auto answer = [&]() -> Result<Json> {
    VREPO_ASSIGN_OR_RETURN(Json body, ParseJsonBody(req.body));
    VREPO_ASSIGN_OR_RETURN(std::unique_ptr<Repository> repo, OpenForReading(target.root));
    std::string tip;
    VREPO_ASSIGN_OR_RETURN(std::string branch, EditBranch(*repo, &tip));
    EditSet set = edits.Get(caller.owner, target.root, branch);
    if (sub == "/commit") {
      VREPO_ASSIGN_OR_RETURN(std::string message, StringMember(body, "message", false));
      VREPO_RETURN_IF_ERROR(CheckTextParam("message", message, 10000, true));
      if (message.find_first_not_of(" \t\n") == std::string::npos) {
        message = "Relabel " + std::to_string(set.edits.size()) + " sample" +
                  (set.edits.size() == 1 ? "" : "s") + " in the web view";
      }
      repo.reset();  // the commit opens it for writing
      VREPO_ASSIGN_OR_RETURN(std::string commit, CommitLabelEdits(target.root, set, message));
      edits.Put(caller.owner, target.root, EditSet{branch, "", {}});
      return Json{{"commit", commit}, {"branch", branch}};
    }
    VREPO_ASSIGN_OR_RETURN(std::string table, StringMember(body, "table", true));
    VREPO_ASSIGN_OR_RETURN(std::string path, StringMember(body, "path", true));
    VREPO_RETURN_IF_ERROR(CheckRepoPathParam("table", table));
    VREPO_RETURN_IF_ERROR(CheckRepoPathParam("path", path));
    if (sub == "/stage") {
      VREPO_ASSIGN_OR_RETURN(std::string label, StringMember(body, "label", true));
      if (label.empty()) return Status::InvalidArgument("label is empty");
      VREPO_RETURN_IF_ERROR(CheckTextParam("label", label, 1024, false));
      VREPO_RETURN_IF_ERROR(StageEdit(*repo, datasets, table, path, label, &set));
    } else {
      set.edits.erase({table, path});
      if (set.edits.empty()) set.base = "";
    }
    edits.Put(caller.owner, target.root, set);
    return EditSetJson(set);
  }();
  if (!answer.ok()) return SendStatus(res, answer.status());
  SendJson(res, *answer);
}

Result<std::unique_ptr<Site>> Site::Create(SiteOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (impl->ui()) {
    VREPO_ASSIGN_OR_RETURN(impl->repo_root, Repository::FindRoot(impl->options.repository));
    size_t slash = impl->repo_root.rfind('/');
    impl->repo_name = impl->repo_root.substr(slash == std::string::npos ? 0 : slash + 1);
    VREPO_ASSIGN_OR_RETURN(impl->token, RandomHex(32));
  } else {
    std::string& root = impl->options.root;
    while (root.size() > 1 && root.back() == '/') root.pop_back();
    if (!IsDir(root)) return Status::NotFound("serve root " + root + " is not a folder");
  }
  return std::unique_ptr<Site>(new Site(std::move(impl)));
}

Site::Site(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Site::~Site() = default;

const std::string& Site::token() const { return impl_->token; }
const std::string& Site::repository_root() const { return impl_->repo_root; }

bool Site::Handle(const httplib::Request& req, httplib::Response& res) {
  bool handled = false;
  try {
    handled = impl_->Route(req, res);
  } catch (const std::exception& e) {
    SendError(res, 500, std::string("internal error: ") + e.what());
    handled = true;
  }
  if (handled) SetSecurityHeaders(res);
  return handled;
}

}  // namespace vrepo::web
