// Private to src/history and src/repo (the layer directly above, the only other one allowed
// libgit2): RAII owners for libgit2 handles, the one-time library setup, and the mapping of
// libgit2 errors to Status. Handles are not thread-safe; the helpers are.
#pragma once

#include <git2.h>
#include <git2/sys/mempack.h>
#include <git2/sys/odb_backend.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

#include "vrepo/util/status.h"

namespace vrepo::history_internal {

struct GitFree {
  void operator()(git_repository* p) const { git_repository_free(p); }
  void operator()(git_odb* p) const { git_odb_free(p); }
  void operator()(git_odb_object* p) const { git_odb_object_free(p); }
  void operator()(git_object* p) const { git_object_free(p); }
  void operator()(git_commit* p) const { git_commit_free(p); }
  void operator()(git_tree* p) const { git_tree_free(p); }
  void operator()(git_tree_entry* p) const { git_tree_entry_free(p); }
  void operator()(git_tag* p) const { git_tag_free(p); }
  void operator()(git_treebuilder* p) const { git_treebuilder_free(p); }
  void operator()(git_reference* p) const { git_reference_free(p); }
  void operator()(git_reference_iterator* p) const { git_reference_iterator_free(p); }
  void operator()(git_branch_iterator* p) const { git_branch_iterator_free(p); }
  void operator()(git_revwalk* p) const { git_revwalk_free(p); }
  void operator()(git_signature* p) const { git_signature_free(p); }
  void operator()(git_config* p) const { git_config_free(p); }
  void operator()(git_config_iterator* p) const { git_config_iterator_free(p); }
  void operator()(git_odb_writepack* p) const { p->free(p); }
};
template <class T>
using GitPtr = std::unique_ptr<T, GitFree>;

// Initialises libgit2 once per process with fsync and strict hash checks on.
void EnsureLibgit2();

// A Status for libgit2 error `err`: "<what>: <libgit2's last error message>".
Status GitError(int err, const std::string& what);

std::string OidHex(const git_oid& oid);
// InvalidArgument "<what> '<hex>' is not a 40-digit object id" unless `hex` is a full id.
Result<git_oid> ParseFullOid(const std::string& hex, const std::string& what);

// OpenSSL's SHA-1, fetched once.
const EVP_MD* Sha1Md();

}  // namespace vrepo::history_internal
