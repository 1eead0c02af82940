// Commits: writing them (with git's author and committer conventions), resolving
// revisions to them, reading them back and finding merge bases (the log is log.cc).
#include <cstdlib>
#include <cstring>

#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

CommitInfo history_internal::ToCommitInfo(const git_commit* c) {
  CommitInfo info;
  info.id = OidHex(*git_commit_id(c));
  info.tree = OidHex(*git_commit_tree_id(c));
  for (unsigned i = 0; i < git_commit_parentcount(c); ++i) {
    info.parents.push_back(OidHex(*git_commit_parent_id(c, i)));
  }
  const git_signature* a = git_commit_author(c);
  info.author_name = a->name;
  info.author_email = a->email;
  info.time = a->when.time;
  info.tz_offset_minutes = a->when.offset;
  const char* msg = git_commit_message(c);
  info.message = msg != nullptr ? msg : "";
  return info;
}

namespace {

// Parses "[@]<seconds> [+-]hhmm" (git's internal date format); false if it is something else.
bool ParseGitDate(const char* s, git_time_t* time, int* offset) {
  if (*s == '@') ++s;
  char* end = nullptr;
  long long secs = std::strtoll(s, &end, 10);
  if (end == s || *end != ' ') return false;
  const char* tz = end + 1;
  if ((tz[0] != '+' && tz[0] != '-') || std::strlen(tz) != 5) return false;
  for (int i = 1; i < 5; ++i) {
    if (tz[i] < '0' || tz[i] > '9') return false;
  }
  int minutes = ((tz[1] - '0') * 10 + (tz[2] - '0')) * 60 + (tz[3] - '0') * 10 + (tz[4] - '0');
  *time = secs;
  *offset = tz[0] == '-' ? -minutes : minutes;
  return true;
}

const char* EnvOrNull(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

Result<GitPtr<git_signature>> History::Impl::Signature(const char* name_env, const char* email_env,
                                                       const char* date_env,
                                                       const git_signature* fallback) {
  std::string name = "vrepo", email = "vrepo@localhost";
  git_signature* cfg = nullptr;
  if (fallback != nullptr) {
    name = fallback->name;
    email = fallback->email;
  } else if (git_signature_default(&cfg, repo.get()) == 0) {
    name = cfg->name;
    email = cfg->email;
    git_signature_free(cfg);
  }
  if (const char* v = EnvOrNull(name_env)) name = v;
  if (const char* v = EnvOrNull(email_env)) email = v;
  git_time_t when = 0;
  int offset = 0;
  git_signature* sig = nullptr;
  int err;
  const char* date = EnvOrNull(date_env);
  if (date != nullptr && ParseGitDate(date, &when, &offset)) {
    err = git_signature_new(&sig, name.c_str(), email.c_str(), when, offset);
  } else if (fallback != nullptr) {
    err = git_signature_new(&sig, name.c_str(), email.c_str(), fallback->when.time,
                            fallback->when.offset);
  } else {
    err = git_signature_now(&sig, name.c_str(), email.c_str());
  }
  if (err < 0) return GitError(err, "signature '" + name + " <" + email + ">'");
  return GitPtr<git_signature>(sig);
}

Result<std::string> History::CreateCommit(const std::string& tree,
                                          const std::vector<std::string>& parents,
                                          const std::string& message) {
  git_repository* repo = impl_->repo.get();
  VREPO_ASSIGN_OR_RETURN(git_oid tree_oid, ParseFullOid(tree, "tree"));
  git_tree* raw_tree = nullptr;
  int err = git_tree_lookup(&raw_tree, repo, &tree_oid);
  if (err < 0) return GitError(err, "tree " + tree);
  GitPtr<git_tree> tree_obj(raw_tree);
  std::vector<GitPtr<git_commit>> parent_objs;
  std::vector<const git_commit*> parent_ptrs;
  for (const std::string& p : parents) {
    VREPO_ASSIGN_OR_RETURN(git_oid poid, ParseFullOid(p, "parent commit"));
    git_commit* raw = nullptr;
    err = git_commit_lookup(&raw, repo, &poid);
    if (err < 0) return GitError(err, "parent commit " + p);
    parent_objs.emplace_back(raw);
    parent_ptrs.push_back(raw);
  }
  VREPO_ASSIGN_OR_RETURN(
      GitPtr<git_signature> author,
      impl_->Signature("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE", nullptr));
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_signature> committer,
                         impl_->Signature("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                                          "GIT_COMMITTER_DATE", author.get()));
  git_oid oid;
  err = git_commit_create(&oid, repo, nullptr, author.get(), committer.get(), nullptr,
                          message.c_str(), tree_obj.get(), parent_ptrs.size(), parent_ptrs.data());
  if (err < 0) return GitError(err, "writing commit of tree " + tree);
  return OidHex(oid);
}

Result<std::string> History::ResolveCommit(const std::string& rev) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(rev, GIT_OBJECT_COMMIT));
  return OidHex(*git_object_id(obj.get()));
}

Result<CommitInfo> History::GetCommit(const std::string& commit_id) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(commit_id, GIT_OBJECT_COMMIT));
  return ToCommitInfo(reinterpret_cast<const git_commit*>(obj.get()));
}

Result<std::optional<std::string>> History::MergeBase(const std::string& a, const std::string& b) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> ca, impl_->Revparse(a, GIT_OBJECT_COMMIT));
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> cb, impl_->Revparse(b, GIT_OBJECT_COMMIT));
  git_oid base;
  int err =
      git_merge_base(&base, impl_->repo.get(), git_object_id(ca.get()), git_object_id(cb.get()));
  if (err == GIT_ENOTFOUND) return std::optional<std::string>();
  if (err < 0) return GitError(err, "merge base of " + a + " and " + b);
  return std::optional<std::string>(OidHex(base));
}

bool History::HasCommit(const std::string& id) {
  git_oid oid;
  if (id.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, id.c_str()) < 0) return false;
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, impl_->repo.get(), &oid) < 0) return false;
  git_commit_free(c);
  return true;
}

}  // namespace vrepo
