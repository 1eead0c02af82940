// Creating and opening a History; the rest of the class lives in files by concept:
// commits.cc, refs.cc, tree_reader.cc, tree_writer.cc, reachable.cc, exchange.cc and
// history_fsck.cc.
#include "vrepo/history/history.h"

#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

Result<GitPtr<git_object>> History::Impl::Revparse(const std::string& rev, git_object_t peel_to) {
  git_object* raw = nullptr;
  int err = rev.empty() ? GIT_EINVALIDSPEC : git_revparse_single(&raw, repo.get(), rev.c_str());
  if (err == GIT_ENOTFOUND) return Status::NotFound("unknown revision '" + rev + "'");
  if (err == GIT_EAMBIGUOUS) return Status::InvalidArgument("ambiguous revision '" + rev + "'");
  if (err == GIT_EINVALIDSPEC) return Status::InvalidArgument("invalid revision '" + rev + "'");
  if (err < 0) return GitError(err, "resolving revision '" + rev + "'");
  GitPtr<git_object> obj(raw);
  git_object* peeled = nullptr;
  err = git_object_peel(&peeled, obj.get(), peel_to);
  if (err < 0) {
    return Status::InvalidArgument("revision '" + rev + "' is not a " +
                                   git_object_type2string(peel_to));
  }
  return GitPtr<git_object>(peeled);
}

History::History(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
History::~History() = default;

const std::string& History::path() const { return impl_->path; }

Status History::Init(const std::string& meta_dir) {
  EnsureLibgit2();
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  opts.flags =
      GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
  opts.initial_head = "main";
  git_repository* raw = nullptr;
  int err = git_repository_init_ext(&raw, meta_dir.c_str(), &opts);
  if (err == GIT_EEXISTS) {
    return Status::InvalidArgument("repository '" + meta_dir + "' already exists");
  }
  if (err < 0) return GitError(err, "creating repository '" + meta_dir + "'");
  GitPtr<git_repository> repo(raw);
  // Reflogs let a user recover a branch that was moved by mistake.
  git_config* cfg = nullptr;
  err = git_repository_config(&cfg, repo.get());
  if (err < 0) return GitError(err, "opening config of '" + meta_dir + "'");
  GitPtr<git_config> config(cfg);
  err = git_config_set_bool(config.get(), "core.logAllRefUpdates", 1);
  if (err < 0) return GitError(err, "writing config of '" + meta_dir + "'");
  return Status::OK();
}

Result<std::unique_ptr<History>> History::Open(const std::string& meta_dir) {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  int err = git_repository_open_ext(
      &raw, meta_dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH | GIT_REPOSITORY_OPEN_BARE, nullptr);
  if (err == GIT_ENOTFOUND) return Status::NotFound("no repository at '" + meta_dir + "'");
  if (err < 0) return GitError(err, "opening repository '" + meta_dir + "'");
  auto impl = std::make_unique<Impl>();
  impl->path = meta_dir;
  impl->repo.reset(raw);
  git_odb* odb = nullptr;
  err = git_repository_odb(&odb, raw);
  if (err < 0) return GitError(err, "opening objects of '" + meta_dir + "'");
  impl->odb.reset(odb);
  return std::unique_ptr<History>(new History(std::move(impl)));
}

}  // namespace vrepo
