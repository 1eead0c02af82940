// Site: the web view (docs/ui.md) as one request handler: the page shell, the embedded assets,
// the JSON API under BASE/api/, thumbnails, sessions and staged label edits. `vrepo ui` serves
// one repository with a generated read-write token; `vrepo serve` mounts it under /ui/ for every
// repository under its root, behind its tokens. Thread-safe: Handle runs on many server threads
// at once, each request opening the repository it reads.
#pragma once

#include <memory>
#include <string>

#include "vrepo/remote/token_grants.h"
#include "vrepo/util/status.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace vrepo::web {

enum class SiteMode {
  kUi,     // one repository at "/", one read-write token
  kServe,  // the repositories under a root at "/ui/NAME/-/", rights from TokenGrants
};

struct SiteOptions {
  SiteMode mode = SiteMode::kUi;
  std::string repository;  // kUi: a folder inside the repository to serve
  std::string root;        // kServe: the folder holding the repositories
  TokenGrants grants = TokenGrants::ReadOnlyForAll();  // kServe: who may read and write what
  // Bounds of the in-memory caches: encoded thumbnails (bytes) and parsed label tables (rows,
  // over all tables kept; the table being read is kept whatever its size).
  size_t thumbnail_cache_bytes = 64ull << 20;
  size_t dataset_cache_rows = 4'000'000;
};

class Site {
 public:
  // kUi: finds the repository and makes the token. kServe: checks that the root is a folder.
  static Result<std::unique_ptr<Site>> Create(SiteOptions options);
  ~Site();

  // kUi: the read-write token `vrepo ui` prints in its URL (64 hex digits).
  const std::string& token() const;
  // kUi: the repository's root.
  const std::string& repository_root() const;

  // Answers a request and returns true, or returns false for a target the site does not own
  // (kServe: anything outside /ui/ that is not a page of a repository, left to the server's
  // repository routes). POST bodies must be in `req.body`.
  bool Handle(const httplib::Request& req, httplib::Response& res);

 private:
  struct Impl;
  explicit Site(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vrepo::web
