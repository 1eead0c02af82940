#include "git_handles.h"

namespace vrepo::history_internal {

void EnsureLibgit2() {
  static const bool initialized = [] {
    git_libgit2_init();
    // A ref must never name an object that a crash could lose.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
    // Like git, reads do not re-hash every object (libgit2's collision-detecting SHA-1 was
    // half the cost of reading a tree of pointers; zlib's checksum still guards the bytes).
    // Fsck hashes every object itself.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
    return true;
  }();
  (void)initialized;
}

Status GitError(int err, const std::string& what) {
  const git_error* e = git_error_last();
  std::string msg = what + ": ";
  if (e != nullptr && e->message != nullptr) {
    msg += e->message;
  } else {
    msg += "libgit2 error " + std::to_string(err);
  }
  switch (err) {
    case GIT_ENOTFOUND:
      return Status::NotFound(msg);
    case GIT_EEXISTS:
    case GIT_EINVALIDSPEC:
    case GIT_EAMBIGUOUS:
    case GIT_EINVALID:
      return Status::InvalidArgument(msg);
    case GIT_EMODIFIED:
      return Status::Conflict(msg);
    case GIT_ELOCKED:
      return Status::Locked(msg);
    case GIT_EMISMATCH:
      return Status::Corruption(msg);
    default:
      return Status::IOError(msg);
  }
}

const EVP_MD* Sha1Md() {
  // Fetched once: an implicit fetch inside every EVP_DigestInit_ex costs more than the hash.
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA1", nullptr);
    return fetched != nullptr ? fetched : EVP_sha1();
  }();
  return md;
}

std::string OidHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &oid);
  return buf;
}

Result<git_oid> ParseFullOid(const std::string& hex, const std::string& what) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) < 0) {
    return Status::InvalidArgument(what + " '" + hex + "' is not a 40-digit object id");
  }
  return oid;
}

}  // namespace vrepo::history_internal
