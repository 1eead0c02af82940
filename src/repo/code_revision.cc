#include "vrepo/repo/code_revision.h"

// The one libgit2 set-up and error mapping, shared with history/ (see config_file.cc).
#include "../history/git_handles.h"

namespace vrepo {

using history_internal::EnsureLibgit2;
using history_internal::GitError;
using history_internal::GitPtr;
using history_internal::OidHex;

namespace {

struct StatusListFree {
  void operator()(git_status_list* p) const { git_status_list_free(p); }
};

}  // namespace

Result<std::optional<CodeRevision>> FindCodeRevision(const std::string& path) {
  EnsureLibgit2();
  git_repository* raw = nullptr;
  int err = git_repository_open_ext(&raw, path.c_str(), 0, nullptr);
  if (err == GIT_ENOTFOUND) return std::optional<CodeRevision>();
  if (err < 0) return GitError(err, "finding the git repository of " + path);
  GitPtr<git_repository> repo(raw);
  const char* workdir = git_repository_workdir(repo.get());
  if (workdir == nullptr) return std::optional<CodeRevision>();  // bare: no code checked out

  CodeRevision code;
  code.work_dir = workdir;
  while (code.work_dir.size() > 1 && code.work_dir.back() == '/') code.work_dir.pop_back();
  git_oid head;
  err = git_reference_name_to_id(&head, repo.get(), "HEAD");
  if (err == 0) {
    code.revision = OidHex(head);
  } else if (err != GIT_ENOTFOUND) {
    return GitError(err, "reading HEAD of the git repository " + code.work_dir);
  }

  // Untracked files in general do not count (build outputs, data), but the script itself does:
  // a revision that lacks it does not describe what ran.
  git_status_options opts = GIT_STATUS_OPTIONS_INIT;
  opts.show = GIT_STATUS_SHOW_INDEX_AND_WORKDIR;
  opts.flags = GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
  git_status_list* list_raw = nullptr;
  err = git_status_list_new(&list_raw, repo.get(), &opts);
  if (err < 0) return GitError(err, "reading the status of the git repository " + code.work_dir);
  std::unique_ptr<git_status_list, StatusListFree> list(list_raw);
  code.dirty = git_status_list_entrycount(list.get()) > 0;
  if (!code.dirty && path.size() > code.work_dir.size() + 1 &&
      path.starts_with(code.work_dir + "/")) {
    const std::string relative = path.substr(code.work_dir.size() + 1);
    unsigned int flags = 0;
    if (git_status_file(&flags, repo.get(), relative.c_str()) == 0) {
      code.dirty = (flags & GIT_STATUS_WT_NEW) != 0;
    }
  }
  return std::optional<CodeRevision>(code);
}

}  // namespace vrepo
