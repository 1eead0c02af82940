// Refs: HEAD, branches, tags and any refs/ name, with compare-and-swap updates so that a
// ref moves only from the value its writer read.
#include <algorithm>
#include <string_view>

#include "history_impl.h"

namespace vrepo {

using namespace history_internal;  // NOLINT: private helpers of this layer

Result<std::optional<git_oid>> History::Impl::RefTarget(const std::string& refname) {
  git_oid oid;
  int err = git_reference_name_to_id(&oid, repo.get(), refname.c_str());
  if (err == GIT_ENOTFOUND || err == GIT_EUNBORNBRANCH) return std::optional<git_oid>();
  if (err < 0) return GitError(err, "reading ref " + refname);
  return std::optional<git_oid>(oid);
}

Result<std::vector<std::string>> History::Impl::AllRefNames() {
  std::vector<std::string> names;
  int err = git_reference_foreach_name(
      repo.get(),
      [](const char* name, void* payload) {
        static_cast<std::vector<std::string>*>(payload)->push_back(name);
        return 0;
      },
      &names);
  if (err < 0) return GitError(err, "listing refs in " + path);
  return names;
}

Result<std::optional<std::string>> History::HeadCommit() {
  VREPO_ASSIGN_OR_RETURN(std::optional<git_oid> oid, impl_->RefTarget("HEAD"));
  if (!oid) return std::optional<std::string>();
  return std::optional<std::string>(OidHex(*oid));
}

Result<std::optional<std::string>> History::CurrentBranch() {
  git_reference* raw = nullptr;
  int err = git_reference_lookup(&raw, impl_->repo.get(), "HEAD");
  if (err < 0) return GitError(err, "reading HEAD of " + impl_->path);
  GitPtr<git_reference> head(raw);
  if (git_reference_type(head.get()) != GIT_REFERENCE_SYMBOLIC) {
    return std::optional<std::string>();
  }
  std::string_view target = git_reference_symbolic_target(head.get());
  if (target.starts_with(kHeadsPrefix)) target.remove_prefix(kHeadsPrefix.size());
  return std::optional<std::string>(std::string(target));
}

Status History::AdvanceHead(const std::string& commit,
                            const std::optional<std::string>& expected_old,
                            const std::string& reflog_message) {
  git_repository* repo = impl_->repo.get();
  VREPO_ASSIGN_OR_RETURN(git_oid new_oid, ParseFullOid(commit, "commit"));
  git_reference* raw = nullptr;
  int err = git_reference_lookup(&raw, repo, "HEAD");
  if (err < 0) return GitError(err, "reading HEAD of " + impl_->path);
  GitPtr<git_reference> head(raw);
  std::string target = git_reference_type(head.get()) == GIT_REFERENCE_SYMBOLIC
                           ? git_reference_symbolic_target(head.get())
                           : "HEAD";
  git_reference* updated = nullptr;
  if (expected_old) {
    VREPO_ASSIGN_OR_RETURN(git_oid old_oid, ParseFullOid(*expected_old, "expected commit"));
    err = git_reference_create_matching(&updated, repo, target.c_str(), &new_oid, 1, &old_oid,
                                        reflog_message.c_str());
  } else {
    err = git_reference_create(&updated, repo, target.c_str(), &new_oid, 0, reflog_message.c_str());
  }
  git_reference_free(updated);
  if (err == GIT_EMODIFIED || err == GIT_EEXISTS || (err == GIT_ENOTFOUND && expected_old)) {
    VREPO_ASSIGN_OR_RETURN(std::optional<git_oid> found, impl_->RefTarget(target));
    return Status::Conflict("ref " + target + " moved: expected " +
                            expected_old.value_or("unborn") + ", found " +
                            (found ? OidHex(*found) : "unborn"));
  }
  if (err < 0) return GitError(err, "moving " + target + " to " + commit);
  return Status::OK();
}

Status History::SetHeadToBranch(const std::string& name) {
  int valid = 0;
  if (git_branch_name_is_valid(&valid, name.c_str()) < 0 || !valid) {
    return Status::InvalidArgument("invalid branch name '" + name + "'");
  }
  std::string refname = "refs/heads/" + name;
  VREPO_ASSIGN_OR_RETURN(std::optional<git_oid> target, impl_->RefTarget(refname));
  if (!target) {
    VREPO_ASSIGN_OR_RETURN(std::vector<std::string> refs, impl_->AllRefNames());
    // With no commits at all there is nothing to lose: HEAD may name an unborn branch.
    if (!refs.empty()) return Status::NotFound("branch '" + name + "' not found");
  }
  int err = git_repository_set_head(impl_->repo.get(), refname.c_str());
  if (err < 0) return GitError(err, "pointing HEAD at " + refname);
  return Status::OK();
}

Status History::DetachHead(const std::string& commit) {
  VREPO_ASSIGN_OR_RETURN(git_oid oid, ParseFullOid(commit, "commit"));
  int err = git_repository_set_head_detached(impl_->repo.get(), &oid);
  if (err < 0) return GitError(err, "detaching HEAD at " + commit);
  return Status::OK();
}

Result<std::vector<RefInfo>> History::Branches() {
  git_branch_iterator* raw = nullptr;
  int err = git_branch_iterator_new(&raw, impl_->repo.get(), GIT_BRANCH_LOCAL);
  if (err < 0) return GitError(err, "listing branches");
  GitPtr<git_branch_iterator> it(raw);
  std::vector<RefInfo> out;
  git_reference* ref = nullptr;
  git_branch_t type;
  while ((err = git_branch_next(&ref, &type, it.get())) == 0) {
    GitPtr<git_reference> owned(ref);
    RefInfo info;
    const char* name = nullptr;
    git_branch_name(&name, owned.get());
    info.name = name != nullptr ? name : git_reference_name(owned.get());
    const git_oid* target = git_reference_target(owned.get());
    if (target != nullptr) info.target = OidHex(*target);
    info.current = git_branch_is_head(owned.get()) == 1;
    out.push_back(std::move(info));
  }
  if (err != GIT_ITEROVER) return GitError(err, "listing branches");
  std::sort(out.begin(), out.end(),
            [](const RefInfo& a, const RefInfo& b) { return a.name < b.name; });
  return out;
}

Status History::CreateBranch(const std::string& name, const std::string& commit, bool force) {
  int valid = 0;
  if (git_branch_name_is_valid(&valid, name.c_str()) < 0 || !valid) {
    return Status::InvalidArgument("invalid branch name '" + name + "'");
  }
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(commit, GIT_OBJECT_COMMIT));
  git_reference* ref = nullptr;
  int err = git_branch_create(&ref, impl_->repo.get(), name.c_str(),
                              reinterpret_cast<const git_commit*>(obj.get()), force ? 1 : 0);
  git_reference_free(ref);
  if (err == GIT_EEXISTS) return Status::InvalidArgument("branch '" + name + "' already exists");
  if (err < 0) {
    Status st = GitError(err, "creating branch '" + name + "'");
    // libgit2 refuses to force-move the checked-out branch.
    if (force) return Status::Conflict(st.message());
    return st;
  }
  return Status::OK();
}

Status History::DeleteBranch(const std::string& name) {
  git_reference* raw = nullptr;
  int err = git_branch_lookup(&raw, impl_->repo.get(), name.c_str(), GIT_BRANCH_LOCAL);
  if (err == GIT_ENOTFOUND || err == GIT_EINVALIDSPEC) {
    return Status::NotFound("branch '" + name + "' not found");
  }
  if (err < 0) return GitError(err, "looking up branch '" + name + "'");
  GitPtr<git_reference> ref(raw);
  if (git_branch_is_head(ref.get()) == 1) {
    return Status::Conflict("cannot delete branch '" + name + "' checked out");
  }
  err = git_branch_delete(ref.get());
  if (err < 0) return GitError(err, "deleting branch '" + name + "'");
  return Status::OK();
}

Result<std::vector<RefInfo>> History::Tags() { return RefsWithPrefix("refs/tags/"); }

Status History::CreateTag(const std::string& name, const std::string& commit,
                          const std::string& message, bool force) {
  int valid = 0;
  if (git_tag_name_is_valid(&valid, name.c_str()) < 0 || !valid) {
    return Status::InvalidArgument("invalid tag name '" + name + "'");
  }
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> target, impl_->Revparse(commit, GIT_OBJECT_COMMIT));
  git_oid oid;
  int err;
  if (message.empty()) {
    err = git_tag_create_lightweight(&oid, impl_->repo.get(), name.c_str(), target.get(),
                                     force ? 1 : 0);
  } else {
    VREPO_ASSIGN_OR_RETURN(GitPtr<git_signature> tagger,
                           impl_->Signature("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
                                            "GIT_COMMITTER_DATE", nullptr));
    err = git_tag_create(&oid, impl_->repo.get(), name.c_str(), target.get(), tagger.get(),
                         message.c_str(), force ? 1 : 0);
  }
  if (err == GIT_EEXISTS) return Status::InvalidArgument("tag '" + name + "' already exists");
  if (err < 0) return GitError(err, "creating tag '" + name + "'");
  return Status::OK();
}

Status History::DeleteTag(const std::string& name) {
  int err = git_tag_delete(impl_->repo.get(), name.c_str());
  if (err == GIT_ENOTFOUND || err == GIT_EINVALIDSPEC) {
    return Status::NotFound("tag '" + name + "' not found");
  }
  if (err < 0) return GitError(err, "deleting tag '" + name + "'");
  return Status::OK();
}

Result<std::vector<std::string>> History::RefTips() {
  std::vector<std::string> tips;
  VREPO_ASSIGN_OR_RETURN(std::vector<RefInfo> refs, RefsWithPrefix("refs/"));
  for (const RefInfo& r : refs) {
    if (!r.target.empty()) tips.push_back(r.target);
  }
  std::sort(tips.begin(), tips.end());
  tips.erase(std::unique(tips.begin(), tips.end()), tips.end());
  return tips;
}

Result<std::vector<RefInfo>> History::RefsWithPrefix(const std::string& prefix) {
  std::vector<std::string> names;
  std::string glob = prefix + "*";
  int err = git_reference_foreach_glob(
      impl_->repo.get(), glob.c_str(),
      [](const char* name, void* payload) {
        static_cast<std::vector<std::string>*>(payload)->push_back(name);
        return 0;
      },
      &names);
  if (err < 0) return GitError(err, "listing refs " + glob);
  std::vector<RefInfo> out;
  for (const std::string& refname : names) {
    git_reference* raw = nullptr;
    err = git_reference_lookup(&raw, impl_->repo.get(), refname.c_str());
    if (err < 0) return GitError(err, "reading " + refname);
    GitPtr<git_reference> ref(raw);
    RefInfo info;
    info.name = refname.substr(prefix.size());
    git_object* peeled = nullptr;
    if (git_reference_peel(&peeled, ref.get(), GIT_OBJECT_COMMIT) == 0) {
      info.target = OidHex(*git_object_id(peeled));
      git_object_free(peeled);
    } else if (const git_oid* t = git_reference_target(ref.get())) {
      info.target = OidHex(*t);
    }
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const RefInfo& a, const RefInfo& b) { return a.name < b.name; });
  return out;
}

Status History::CreateRef(const std::string& full_name, const std::string& commit) {
  int valid = 0;
  if (git_reference_name_is_valid(&valid, full_name.c_str()) < 0 || !valid) {
    return Status::InvalidArgument("invalid ref name '" + full_name + "'");
  }
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(commit, GIT_OBJECT_COMMIT));
  git_reference* ref = nullptr;
  int err = git_reference_create(&ref, impl_->repo.get(), full_name.c_str(),
                                 git_object_id(obj.get()), /*force=*/0, "vrepo: create ref");
  git_reference_free(ref);
  if (err == GIT_EEXISTS) return Status::InvalidArgument("ref '" + full_name + "' already exists");
  if (err < 0) return GitError(err, "creating ref '" + full_name + "'");
  return Status::OK();
}

Result<std::optional<std::string>> History::ReadRef(const std::string& full_name) {
  git_reference* raw = nullptr;
  int err = git_reference_lookup(&raw, impl_->repo.get(), full_name.c_str());
  if (err == GIT_ENOTFOUND || err == GIT_EINVALIDSPEC) return std::optional<std::string>();
  if (err < 0) return GitError(err, "reading ref " + full_name);
  GitPtr<git_reference> ref(raw);
  git_object* peeled = nullptr;
  err = git_reference_peel(&peeled, ref.get(), GIT_OBJECT_COMMIT);
  if (err < 0) return GitError(err, "ref " + full_name + " names no commit");
  std::string id = OidHex(*git_object_id(peeled));
  git_object_free(peeled);
  return std::optional<std::string>(id);
}

Status History::UpdateRef(const std::string& full_name, const std::string& new_target,
                          const std::string& expected_old, const std::string& reflog_message) {
  int valid = 0;
  if (git_reference_name_is_valid(&valid, full_name.c_str()) < 0 || !valid ||
      full_name.rfind("refs/", 0) != 0) {
    return Status::InvalidArgument("invalid ref name '" + full_name + "'");
  }
  git_repository* repo = impl_->repo.get();
  auto changed = [&](const std::string& found) {
    return Status::Conflict("ref " + full_name + " changed: expected " +
                            (expected_old.empty() ? "none" : expected_old) + ", found " +
                            (found.empty() ? "none" : found));
  };
  git_reference* raw = nullptr;
  int err = git_reference_lookup(&raw, repo, full_name.c_str());
  if (err < 0 && err != GIT_ENOTFOUND) return GitError(err, "reading ref " + full_name);
  GitPtr<git_reference> current(raw);
  std::string found;
  if (current) {
    git_object* peeled = nullptr;
    if (git_reference_peel(&peeled, current.get(), GIT_OBJECT_COMMIT) == 0) {
      found = OidHex(*git_object_id(peeled));
      git_object_free(peeled);
    }
  }
  if (found != expected_old) return changed(found);
  if (new_target.empty()) {
    if (!current) return Status::OK();
    err = git_reference_delete(current.get());
    if (err == GIT_EMODIFIED) return changed("another value");
    if (err < 0) return GitError(err, "deleting ref " + full_name);
    return Status::OK();
  }
  VREPO_ASSIGN_OR_RETURN(git_oid new_oid, ParseFullOid(new_target, "commit"));
  git_reference* updated = nullptr;
  if (current) {
    const git_oid* direct = git_reference_target(current.get());
    if (direct == nullptr) return Status::InvalidArgument("ref " + full_name + " is symbolic");
    err = git_reference_create_matching(&updated, repo, full_name.c_str(), &new_oid, 1, direct,
                                        reflog_message.c_str());
  } else {
    err = git_reference_create(&updated, repo, full_name.c_str(), &new_oid, 0,
                               reflog_message.c_str());
  }
  git_reference_free(updated);
  if (err == GIT_EMODIFIED || err == GIT_EEXISTS) return changed("another value");
  if (err < 0) return GitError(err, "moving ref " + full_name + " to " + new_target);
  return Status::OK();
}

}  // namespace vrepo
