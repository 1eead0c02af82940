#include "vrepo/history/history.h"

#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include "git_handles.h"
#include "pack_stream.h"
#include "vrepo/history/tree_name.h"
#include "vrepo/util/text.h"
#include "vrepo/util/thread_pool.h"

namespace vrepo {

namespace history_internal {

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

}  // namespace history_internal

using namespace history_internal;  // NOLINT: private helpers of this layer

namespace {

struct OidHash {
  size_t operator()(const git_oid& o) const {
    size_t h;
    std::memcpy(&h, o.id, sizeof(h));  // already uniformly distributed
    return h;
  }
};
struct OidEq {
  bool operator()(const git_oid& a, const git_oid& b) const {
    return std::memcmp(a.id, b.id, GIT_OID_RAWSZ) == 0;
  }
};
using OidSet = std::unordered_set<git_oid, OidHash, OidEq>;

// Below this many new objects, loose objects are cheaper than a pack and its index.
constexpr size_t kPackThreshold = 64;

Result<git_oid> ParseFullOid(const std::string& hex, const std::string& what) {
  git_oid oid;
  if (hex.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, hex.c_str()) < 0) {
    return Status::InvalidArgument(what + " '" + hex + "' is not a 40-digit object id");
  }
  return oid;
}

CommitInfo ToCommitInfo(const git_commit* c) {
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

// Refuses a tree whose names a checkout must not write (tree_name.h): Corruption naming the
// tree and the entry.
Status CheckTree(const git_tree* tree, const std::string& prefix) {
  size_t n = git_tree_entrycount(tree);
  std::vector<std::string_view> names(n);
  for (size_t i = 0; i < n; ++i) names[i] = git_tree_entry_name(git_tree_entry_byindex(tree, i));
  std::string why = CheckTreeNames(std::move(names));
  if (why.empty()) return Status::OK();
  return Status::Corruption("tree " + OidHex(*git_tree_id(tree)) +
                            (prefix.empty() ? "" : " at " + QuoteName(prefix)) + ": " + why);
}

const char* EnvOrNull(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

}  // namespace

struct History::Impl {
  std::string path;
  GitPtr<git_repository> repo;
  GitPtr<git_odb> odb;

  Result<GitPtr<git_object>> Revparse(const std::string& rev, git_object_t peel_to);
  Result<GitPtr<git_signature>> Signature(const char* name_env, const char* email_env,
                                          const char* date_env, const git_signature* fallback);
  // A file of a tree whose pointer blob is still to be read.
  struct PendingPointer {
    git_oid blob;
    std::string path;
    git_filemode_t mode;
  };
  Status ReadTreeInto(const git_tree* tree, const std::string& prefix,
                      std::vector<PendingPointer>* out);
  Result<FileEntry> ReadPointer(const git_oid& blob, std::string path, git_filemode_t mode);
  Result<std::optional<git_oid>> RefTarget(const std::string& refname);
  Result<std::vector<std::string>> AllRefNames();
  Status CollectTips(std::vector<git_oid>* commits, std::vector<git_oid>* trees);
};

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

Result<FileEntry> History::Impl::ReadPointer(const git_oid& blob, std::string path,
                                             git_filemode_t mode) {
  git_odb_object* raw = nullptr;
  int err = git_odb_read(&raw, odb.get(), &blob);
  if (err < 0) return GitError(err, "reading blob " + OidHex(blob) + " of '" + path + "'");
  GitPtr<git_odb_object> obj(raw);
  FileEntry e;
  std::string_view text(static_cast<const char*>(git_odb_object_data(obj.get())),
                        git_odb_object_size(obj.get()));
  // The location is spelled out only on failure: building it for every pointer of a
  // million-file tree cost more than the parse.
  if (!ParsePointer(text, std::string(), &e.id, &e.size).ok()) {
    return ParsePointer(text, "blob " + OidHex(blob) + " of '" + path + "'", &e.id, &e.size);
  }
  e.path = std::move(path);
  e.executable = mode == GIT_FILEMODE_BLOB_EXECUTABLE;
  return e;
}

Status History::Impl::ReadTreeInto(const git_tree* tree, const std::string& prefix,
                                   std::vector<PendingPointer>* out) {
  VREPO_RETURN_IF_ERROR(CheckTree(tree, prefix));
  size_t n = git_tree_entrycount(tree);
  for (size_t i = 0; i < n; ++i) {
    const git_tree_entry* te = git_tree_entry_byindex(tree, i);
    std::string path = prefix + git_tree_entry_name(te);
    git_filemode_t mode = git_tree_entry_filemode(te);
    const git_oid* oid = git_tree_entry_id(te);
    if (mode == GIT_FILEMODE_TREE) {
      git_tree* raw = nullptr;
      int err = git_tree_lookup(&raw, repo.get(), oid);
      if (err < 0) return GitError(err, "reading tree " + OidHex(*oid) + " of '" + path + "'");
      GitPtr<git_tree> sub(raw);
      VREPO_RETURN_IF_ERROR(ReadTreeInto(sub.get(), path + "/", out));
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
      out->push_back({*oid, std::move(path), mode});
    } else {
      return Status::Corruption("tree " + OidHex(*git_tree_id(tree)) + ": entry '" + path +
                                "' has unsupported mode " + std::to_string(mode));
    }
  }
  return Status::OK();
}

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

Status History::Impl::CollectTips(std::vector<git_oid>* commits, std::vector<git_oid>* trees) {
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, AllRefNames());
  names.push_back("HEAD");
  for (const std::string& name : names) {
    VREPO_ASSIGN_OR_RETURN(std::optional<git_oid> target, RefTarget(name));
    if (!target) continue;
    git_object* raw = nullptr;
    int err = git_object_lookup(&raw, repo.get(), &*target, GIT_OBJECT_ANY);
    if (err < 0) return GitError(err, "ref " + name + ": reading " + OidHex(*target));
    GitPtr<git_object> obj(raw);
    git_object* peeled = nullptr;
    if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_COMMIT) == 0) {
      commits->push_back(*git_object_id(peeled));
    } else if (git_object_peel(&peeled, obj.get(), GIT_OBJECT_TREE) == 0) {
      trees->push_back(*git_object_id(peeled));
    }
    git_object_free(peeled);
  }
  return Status::OK();
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

namespace {

// Builds trees for a sorted list of files inside a scratch repository whose only object store
// is a mempack, where a write costs a hash and a map insert (no disk, no pack lookups).
class TreeBuilder {
 public:
  TreeBuilder(git_repository* repo, git_odb_backend* mempack,
              const std::vector<const FileEntry*>& files)
      : repo_(repo), mempack_(mempack), files_(files), sha1_(EVP_MD_CTX_new()) {}

  // Writes the tree of files_[lo, hi), all of which share their first `offset` path bytes.
  Result<git_oid> Build(size_t lo, size_t hi, size_t offset) {
    git_treebuilder* raw = nullptr;
    int err = git_treebuilder_new(&raw, repo_, nullptr);
    if (err < 0) return GitError(err, "starting a tree");
    GitPtr<git_treebuilder> bld(raw);
    std::string name;
    size_t i = lo;
    while (i < hi) {
      const std::string& path = files_[i]->path;
      size_t slash = path.find('/', offset);
      git_oid oid;
      git_filemode_t mode;
      size_t next;
      if (slash == std::string::npos) {
        name.assign(path, offset, std::string::npos);
        VREPO_RETURN_IF_ERROR(WritePointer(*files_[i], &oid));
        mode = files_[i]->executable ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
        next = i + 1;
      } else {
        name.assign(path, offset, slash - offset);
        // Sorted paths that share "dir/" are contiguous.
        std::string_view dir_prefix(path.data(), slash + 1);
        next = i + 1;
        while (next < hi && std::string_view(files_[next]->path).starts_with(dir_prefix)) ++next;
        if (name.empty()) return Status::InvalidArgument("invalid path '" + path + "'");
        VREPO_ASSIGN_OR_RETURN(oid, Build(i, next, slash + 1));
        mode = GIT_FILEMODE_TREE;
      }
      if (git_treebuilder_get(bld.get(), name.c_str()) != nullptr) {
        return Status::InvalidArgument("path '" + path.substr(0, offset) + name +
                                       "' is both a file and a folder");
      }
      err = git_treebuilder_insert(nullptr, bld.get(), name.c_str(), &oid, mode);
      if (err < 0) return Status::InvalidArgument("invalid path '" + path + "'");
      i = next;
    }
    git_oid tree;
    err = git_treebuilder_write(&tree, bld.get());
    if (err < 0) return GitError(err, "writing a tree");
    // Identical folders give identical trees; list each once.
    if (trees_.insert(tree).second) written_.push_back(tree);
    return tree;
  }

  // Every object written, each once, in no particular order. (The mempack of libgit2 1.5
  // cannot list its objects.)
  std::vector<git_oid> TakeWritten() { return std::move(written_); }

 private:
  // Hashes the pointer blob with OpenSSL and puts it straight into the mempack: git_odb_write
  // would hash with libgit2's slower collision-detecting SHA-1 and probe the odb first, which
  // together were most of the per-file cost. The id is git's: SHA-1("blob <size>\0" + data).
  Status WritePointer(const FileEntry& f, git_oid* oid) {
    text_ = PointerText(f.id, f.size);
    char header[32] = "blob ";
    char* end = std::to_chars(header + 5, header + sizeof(header) - 1, text_.size()).ptr;
    *end = '\0';
    size_t n = end + 1 - header;  // the NUL is hashed too
    if (EVP_DigestInit_ex(sha1_.get(), Sha1Md(), nullptr) != 1 ||
        EVP_DigestUpdate(sha1_.get(), header, n) != 1 ||
        EVP_DigestUpdate(sha1_.get(), text_.data(), text_.size()) != 1 ||
        EVP_DigestFinal_ex(sha1_.get(), oid->id, nullptr) != 1) {
      return Status::IOError("hashing pointer of '" + f.path + "': OpenSSL SHA-1 failed");
    }
    if (mempack_->exists(mempack_, oid)) return Status::OK();  // same content as another file
    int err = mempack_->write(mempack_, oid, text_.data(), text_.size(), GIT_OBJECT_BLOB);
    if (err < 0) return GitError(err, "writing pointer of '" + f.path + "'");
    written_.push_back(*oid);
    return Status::OK();
  }

  struct EvpMdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };

  git_repository* repo_;
  git_odb_backend* mempack_;
  const std::vector<const FileEntry*>& files_;
  std::unique_ptr<EVP_MD_CTX, EvpMdCtxFree> sha1_;
  std::string text_;
  std::vector<git_oid> written_;
  OidSet trees_;
};

}  // namespace

Result<std::string> History::WriteTree(const std::vector<FileEntry>& files) {
  std::vector<const FileEntry*> sorted;
  sorted.reserve(files.size());
  for (const FileEntry& f : files) sorted.push_back(&f);
  auto by_path = [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; };
  if (!std::is_sorted(sorted.begin(), sorted.end(), by_path)) {
    std::sort(sorted.begin(), sorted.end(), by_path);
  }
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i - 1]->path == sorted[i]->path) {
      return Status::InvalidArgument("path '" + sorted[i]->path + "' appears twice");
    }
  }

  git_odb* raw_odb = nullptr;
  int err = git_odb_new(&raw_odb);
  if (err < 0) return GitError(err, "creating a scratch object database");
  GitPtr<git_odb> scratch_odb(raw_odb);
  git_odb_backend* mempack = nullptr;
  err = git_mempack_new(&mempack);
  if (err < 0) return GitError(err, "creating a mempack");
  err = git_odb_add_backend(scratch_odb.get(), mempack, 1);  // the odb now owns it
  if (err < 0) {
    mempack->free(mempack);
    return GitError(err, "adding a mempack");
  }
  git_repository* raw_repo = nullptr;
  err = git_repository_wrap_odb(&raw_repo, scratch_odb.get());
  if (err < 0) return GitError(err, "wrapping the scratch object database");
  GitPtr<git_repository> scratch_repo(raw_repo);

  TreeBuilder builder(scratch_repo.get(), mempack, sorted);
  VREPO_ASSIGN_OR_RETURN(git_oid root, builder.Build(0, sorted.size(), 0));
  std::vector<git_oid> all = builder.TakeWritten();
  std::vector<git_oid> missing;
  git_odb* dest = impl_->odb.get();
  for (const git_oid& oid : all) {
    // No refresh per miss: a rescan of the pack folder for each new object would dominate.
    if (!git_odb_exists_ext(dest, &oid, GIT_ODB_LOOKUP_NO_REFRESH)) missing.push_back(oid);
  }
  if (missing.size() >= kPackThreshold) {
    VREPO_RETURN_IF_ERROR(WritePackNoDelta(mempack, missing, dest, impl_->path + "/objects/pack"));
  } else {
    for (const git_oid& oid : missing) {
      void* data = nullptr;
      size_t len = 0;
      git_object_t type = GIT_OBJECT_INVALID;
      err = mempack->read(&data, &len, &type, mempack, &oid);
      if (err < 0) return GitError(err, "reading new object " + OidHex(oid));
      git_oid written;
      err = git_odb_write(&written, dest, data, len, type);
      git_odb_backend_data_free(mempack, data);
      if (err < 0) return GitError(err, "writing object " + OidHex(oid) + " to " + impl_->path);
    }
  }
  return OidHex(root);
}

Result<std::vector<FileEntry>> History::ReadTree(const std::string& tree_or_commit) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> obj, impl_->Revparse(tree_or_commit, GIT_OBJECT_TREE));
  std::vector<Impl::PendingPointer> pending;
  VREPO_RETURN_IF_ERROR(
      impl_->ReadTreeInto(reinterpret_cast<const git_tree*>(obj.get()), "", &pending));
  // libgit2's odb is thread-safe; reading the pointers of a big tree on all cores halves
  // the time dataset commands spend loading a million-file commit.
  std::vector<FileEntry> files(pending.size());
  std::vector<Status> errors(pending.size());
  auto read_one = [&](size_t i) {
    Result<FileEntry> e =
        impl_->ReadPointer(pending[i].blob, std::move(pending[i].path), pending[i].mode);
    if (e.ok()) {
      files[i] = std::move(*e);
    } else {
      errors[i] = e.status();
    }
  };
  if (pending.size() < 4096) {
    for (size_t i = 0; i < pending.size(); ++i) read_one(i);
  } else {
    ThreadPool pool;
    VREPO_RETURN_IF_ERROR(pool.ParallelFor(pending.size(), read_one));
  }
  for (const Status& st : errors) VREPO_RETURN_IF_ERROR(st);
  // Git orders a folder as if its name ended in '/', which differs from byte order.
  auto by_path = [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; };
  if (!std::is_sorted(files.begin(), files.end(), by_path)) {
    std::sort(files.begin(), files.end(), by_path);
  }
  return files;
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

Result<std::vector<CommitInfo>> History::Log(const std::string& start_commit, size_t max_count) {
  VREPO_ASSIGN_OR_RETURN(GitPtr<git_object> start,
                         impl_->Revparse(start_commit, GIT_OBJECT_COMMIT));
  git_revwalk* raw = nullptr;
  int err = git_revwalk_new(&raw, impl_->repo.get());
  if (err < 0) return GitError(err, "starting log");
  GitPtr<git_revwalk> walk(raw);
  // Topological as well, so that commits made within one second still list children first.
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  err = git_revwalk_push(walk.get(), git_object_id(start.get()));
  if (err < 0) return GitError(err, "log of " + start_commit);
  std::vector<CommitInfo> out;
  git_oid oid;
  while (max_count == 0 || out.size() < max_count) {
    err = git_revwalk_next(&oid, walk.get());
    if (err == GIT_ITEROVER) break;
    if (err < 0) return GitError(err, "log of " + start_commit);
    git_commit* c = nullptr;
    err = git_commit_lookup(&c, impl_->repo.get(), &oid);
    if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
    GitPtr<git_commit> commit(c);
    out.push_back(ToCommitInfo(commit.get()));
  }
  return out;
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
  constexpr std::string_view kHeads = "refs/heads/";
  if (target.starts_with(kHeads)) target.remove_prefix(kHeads.size());
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

namespace {

// Adds every tree and blob below `root` to `seen`, reading trees only.
Status MarkTree(git_repository* repo, const git_oid& root, OidSet* seen) {
  std::vector<git_oid> stack{root};
  while (!stack.empty()) {
    git_oid oid = stack.back();
    stack.pop_back();
    if (!seen->insert(oid).second) continue;
    git_tree* raw = nullptr;
    int err = git_tree_lookup(&raw, repo, &oid);
    if (err < 0) return GitError(err, "reading tree " + OidHex(oid));
    GitPtr<git_tree> tree(raw);
    for (size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
      const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
      if (git_tree_entry_filemode(te) == GIT_FILEMODE_TREE) {
        stack.push_back(*git_tree_entry_id(te));
      } else {
        seen->insert(*git_tree_entry_id(te));
      }
    }
  }
  return Status::OK();
}

// The objects that commits reachable from wants and not from haves add.
struct NewObjects {
  std::vector<git_oid> commits;  // newest first
  std::vector<git_oid> trees;
  std::vector<git_oid> blobs;
  std::vector<std::string> blob_paths;
  std::vector<git_filemode_t> blob_modes;
};

Status CollectNewObjects(git_repository* repo, git_odb* odb, const std::vector<std::string>& wants,
                         const std::vector<std::string>& haves, NewObjects* out) {
  git_revwalk* raw = nullptr;
  int err = git_revwalk_new(&raw, repo);
  if (err < 0) return GitError(err, "starting a history walk");
  GitPtr<git_revwalk> walk(raw);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL);
  OidSet seen;
  for (const std::string& h : haves) {
    git_oid oid;
    if (h.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, h.c_str()) < 0) continue;
    git_commit* c = nullptr;
    if (!git_odb_exists(odb, &oid) || git_commit_lookup(&c, repo, &oid) < 0) continue;
    GitPtr<git_commit> commit(c);
    err = git_revwalk_hide(walk.get(), &oid);
    if (err < 0) return GitError(err, "walking history from " + h);
    VREPO_RETURN_IF_ERROR(MarkTree(repo, *git_commit_tree_id(commit.get()), &seen));
  }
  for (const std::string& w : wants) {
    VREPO_ASSIGN_OR_RETURN(git_oid oid, ParseFullOid(w, "commit"));
    if (!git_odb_exists(odb, &oid)) return Status::NotFound("commit " + w + " is missing");
    err = git_revwalk_push(walk.get(), &oid);
    if (err < 0) return GitError(err, "walking history from " + w);
  }
  git_oid oid;
  std::vector<std::pair<git_oid, std::string>> stack;
  while ((err = git_revwalk_next(&oid, walk.get())) == 0) {
    VREPO_RETURN_IF_ERROR(CheckObjectSize(odb, oid));
    git_commit* c = nullptr;
    err = git_commit_lookup(&c, repo, &oid);
    if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
    GitPtr<git_commit> commit(c);
    out->commits.push_back(oid);
    for (unsigned i = 0; i < git_commit_parentcount(commit.get()); ++i) {
      if (!git_odb_exists(odb, git_commit_parent_id(commit.get(), i))) {
        return Status::NotFound("commit " + OidHex(*git_commit_parent_id(commit.get(), i)) +
                                " (parent of " + OidHex(oid) + ") is missing");
      }
    }
    stack.emplace_back(*git_commit_tree_id(commit.get()), "");
    while (!stack.empty()) {
      auto [tree_oid, prefix] = std::move(stack.back());
      stack.pop_back();
      if (!seen.insert(tree_oid).second) continue;
      VREPO_RETURN_IF_ERROR(CheckObjectSize(odb, tree_oid));
      git_tree* t = nullptr;
      err = git_tree_lookup(&t, repo, &tree_oid);
      if (err < 0) {
        return GitError(err, "reading tree " + OidHex(tree_oid) + " of commit " + OidHex(oid));
      }
      GitPtr<git_tree> tree(t);
      VREPO_RETURN_IF_ERROR(CheckTree(tree.get(), prefix));
      out->trees.push_back(tree_oid);
      for (size_t i = 0; i < git_tree_entrycount(tree.get()); ++i) {
        const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
        git_filemode_t mode = git_tree_entry_filemode(te);
        const git_oid* id = git_tree_entry_id(te);
        std::string path = prefix + git_tree_entry_name(te);
        if (mode == GIT_FILEMODE_TREE) {
          if (!seen.count(*id)) stack.emplace_back(*id, path + "/");
        } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
          if (seen.insert(*id).second) {
            out->blobs.push_back(*id);
            out->blob_paths.push_back(std::move(path));
            out->blob_modes.push_back(mode);
          }
        } else {
          return Status::Corruption("tree " + OidHex(tree_oid) + ": entry '" + path +
                                    "' has unsupported mode " + std::to_string(mode));
        }
      }
    }
  }
  if (err != GIT_ITEROVER) return GitError(err, "walking history");
  return Status::OK();
}

}  // namespace

Result<HistoryDelta> History::NewHistory(const std::vector<std::string>& wants,
                                         const std::vector<std::string>& haves) {
  NewObjects objects;
  VREPO_RETURN_IF_ERROR(
      CollectNewObjects(impl_->repo.get(), impl_->odb.get(), wants, haves, &objects));
  HistoryDelta delta;
  for (const git_oid& c : objects.commits) delta.commits.push_back(OidHex(c));
  size_t n = objects.blobs.size();
  std::vector<FileEntry> files(n);
  std::vector<Status> errors(n);
  auto read_one = [&](size_t i) {
    auto e = impl_->ReadPointer(objects.blobs[i], std::move(objects.blob_paths[i]),
                                objects.blob_modes[i]);
    if (e.ok()) {
      files[i] = std::move(*e);
    } else {
      errors[i] = e.status();
    }
  };
  if (n < 4096) {
    for (size_t i = 0; i < n; ++i) read_one(i);
  } else {
    ThreadPool pool;
    VREPO_RETURN_IF_ERROR(pool.ParallelFor(n, read_one));
  }
  std::unordered_set<ContentId, ContentIdHash> ids;
  for (size_t i = 0; i < n; ++i) {
    VREPO_RETURN_IF_ERROR(errors[i]);
    if (ids.insert(files[i].id).second) delta.files.push_back(std::move(files[i]));
  }
  return delta;
}

Result<std::string> History::ExportPack(const std::vector<std::string>& wants,
                                        const std::vector<std::string>& haves) {
  NewObjects objects;
  VREPO_RETURN_IF_ERROR(
      CollectNewObjects(impl_->repo.get(), impl_->odb.get(), wants, haves, &objects));
  std::vector<git_oid> all;
  all.reserve(objects.commits.size() + objects.trees.size() + objects.blobs.size());
  all.insert(all.end(), objects.commits.begin(), objects.commits.end());
  all.insert(all.end(), objects.trees.begin(), objects.trees.end());
  all.insert(all.end(), objects.blobs.begin(), objects.blobs.end());
  return PackToString(impl_->odb.get(), all);
}

Result<uint64_t> History::ImportPack(std::string_view pack) {
  if (pack.size() < 32 || pack.substr(0, 4) != "PACK") {
    return Status::Corruption("received history is not a git pack (" +
                              std::to_string(pack.size()) + " bytes)");
  }
  auto be32 = [&](size_t at) {
    return uint32_t{static_cast<uint8_t>(pack[at])} << 24 |
           uint32_t{static_cast<uint8_t>(pack[at + 1])} << 16 |
           uint32_t{static_cast<uint8_t>(pack[at + 2])} << 8 |
           uint32_t{static_cast<uint8_t>(pack[at + 3])};
  };
  if (be32(4) != 2 && be32(4) != 3) {
    return Status::Corruption("received git pack has version " + std::to_string(be32(4)));
  }
  if (be32(8) == 0) {
    if (pack.size() != 32) return Status::Corruption("received empty git pack has extra bytes");
    return uint64_t{0};
  }
  VREPO_RETURN_IF_ERROR(CheckReceivedPack(pack));
  std::string pack_dir = impl_->path + "/objects/pack";
  git_indexer_options opts = GIT_INDEXER_OPTIONS_INIT;
  git_indexer* raw = nullptr;
  int err = git_indexer_new(&raw, pack_dir.c_str(), 0, impl_->odb.get(), &opts);
  if (err < 0) return GitError(err, "starting to index a received pack");
  std::unique_ptr<git_indexer, void (*)(git_indexer*)> idx(raw, git_indexer_free);
  git_indexer_progress stats{};
  err = git_indexer_append(idx.get(), pack.data(), pack.size(), &stats);
  if (err >= 0) err = git_indexer_commit(idx.get(), &stats);
  if (err < 0) {
    Status st = GitError(err, "indexing received git pack");
    return Status::Corruption(st.message());
  }
  err = git_odb_refresh(impl_->odb.get());
  if (err < 0) return GitError(err, "refreshing the object database");
  return uint64_t{stats.indexed_objects};
}

bool History::HasCommit(const std::string& id) {
  git_oid oid;
  if (id.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, id.c_str()) < 0) return false;
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, impl_->repo.get(), &oid) < 0) return false;
  git_commit_free(c);
  return true;
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

Status History::ForEachReachableFile(const std::function<void(const FileEntry&)>& fn) {
  git_repository* repo = impl_->repo.get();
  std::vector<git_oid> commits, trees;
  VREPO_RETURN_IF_ERROR(impl_->CollectTips(&commits, &trees));
  if (!commits.empty()) {
    git_revwalk* raw = nullptr;
    int err = git_revwalk_new(&raw, repo);
    if (err < 0) return GitError(err, "starting a history walk");
    GitPtr<git_revwalk> walk(raw);
    for (const git_oid& c : commits) {
      err = git_revwalk_push(walk.get(), &c);
      if (err < 0) return GitError(err, "walking from commit " + OidHex(c));
    }
    git_oid oid;
    while ((err = git_revwalk_next(&oid, walk.get())) == 0) {
      git_commit* c = nullptr;
      err = git_commit_lookup(&c, repo, &oid);
      if (err < 0) return GitError(err, "reading commit " + OidHex(oid));
      trees.push_back(*git_commit_tree_id(c));
      git_commit_free(c);
    }
    if (err != GIT_ITEROVER) return GitError(err, "walking history");
  }

  OidSet seen;
  // Depth-first over (tree, path prefix); a tree seen before, anywhere, is skipped whole.
  std::vector<std::pair<git_oid, std::string>> stack;
  for (const git_oid& t : trees) stack.emplace_back(t, "");
  while (!stack.empty()) {
    auto [tree_oid, prefix] = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(tree_oid).second) continue;
    git_tree* raw = nullptr;
    int err = git_tree_lookup(&raw, repo, &tree_oid);
    if (err < 0) return GitError(err, "reading tree " + OidHex(tree_oid));
    GitPtr<git_tree> tree(raw);
    size_t n = git_tree_entrycount(tree.get());
    for (size_t i = 0; i < n; ++i) {
      const git_tree_entry* te = git_tree_entry_byindex(tree.get(), i);
      std::string path = prefix + git_tree_entry_name(te);
      git_filemode_t mode = git_tree_entry_filemode(te);
      if (mode == GIT_FILEMODE_TREE) {
        if (!seen.count(*git_tree_entry_id(te))) {
          stack.emplace_back(*git_tree_entry_id(te), path + "/");
        }
      } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
        VREPO_ASSIGN_OR_RETURN(FileEntry e,
                               impl_->ReadPointer(*git_tree_entry_id(te), std::move(path), mode));
        fn(e);
      } else {
        return Status::Corruption("tree " + OidHex(tree_oid) + ": entry '" + path +
                                  "' has unsupported mode " + std::to_string(mode));
      }
    }
  }
  return Status::OK();
}

Result<std::vector<std::string>> History::Fsck() {
  git_repository* repo = impl_->repo.get();
  std::vector<std::string> problems;
  struct Item {
    git_oid oid;
    git_object_t expected;
    std::string from;  // what names it, for the report
  };
  std::vector<Item> stack;
  VREPO_ASSIGN_OR_RETURN(std::vector<std::string> names, impl_->AllRefNames());
  names.push_back("HEAD");
  for (const std::string& name : names) {
    git_oid oid;
    int err = git_reference_name_to_id(&oid, repo, name.c_str());
    if (err == GIT_ENOTFOUND && name == "HEAD") continue;  // unborn
    if (err < 0) {
      const git_error* e = git_error_last();
      problems.push_back("ref " + name + ": unreadable: " + (e ? e->message : "unknown error"));
      continue;
    }
    stack.push_back({oid, GIT_OBJECT_ANY, "ref " + name});
  }

  OidSet seen;
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    if (!seen.insert(item.oid).second) continue;
    std::string id = OidHex(item.oid);
    std::string kind =
        item.expected == GIT_OBJECT_ANY ? "object" : git_object_type2string(item.expected);
    git_odb_object* raw = nullptr;
    int err = git_odb_read(&raw, impl_->odb.get(), &item.oid);
    if (err < 0) {
      const git_error* e = git_error_last();
      std::string why = err == GIT_ENOTFOUND
                            ? "missing"
                            : std::string("unreadable: ") + (e ? e->message : "unknown error");
      problems.push_back(kind + " " + id + " (named by " + item.from + "): " + why);
      continue;
    }
    GitPtr<git_odb_object> obj(raw);
    git_object_t type = git_odb_object_type(obj.get());
    git_oid actual;
    err =
        git_odb_hash(&actual, git_odb_object_data(obj.get()), git_odb_object_size(obj.get()), type);
    if (err < 0 || !OidEq()(actual, item.oid)) {
      problems.push_back(kind + " " + id + " (named by " + item.from + "): contents hash to " +
                         (err < 0 ? std::string("nothing") : OidHex(actual)));
      continue;
    }
    if (item.expected != GIT_OBJECT_ANY && type != item.expected) {
      problems.push_back(kind + " " + id + " (named by " + item.from + "): is a " +
                         git_object_type2string(type));
      continue;
    }
    std::string from = std::string(git_object_type2string(type)) + " " + id;
    if (type == GIT_OBJECT_BLOB) {
      ContentId cid;
      uint64_t size;
      std::string_view text(static_cast<const char*>(git_odb_object_data(obj.get())),
                            git_odb_object_size(obj.get()));
      Status st = ParsePointer(text, "blob " + id + " (named by " + item.from + ")", &cid, &size);
      if (!st.ok()) problems.push_back(st.message());
      continue;
    }
    git_object* parsed = nullptr;
    err = git_object_lookup(&parsed, repo, &item.oid, type);
    if (err < 0) {
      const git_error* e = git_error_last();
      problems.push_back(from + ": cannot be parsed: " + (e ? e->message : "unknown error"));
      continue;
    }
    GitPtr<git_object> owned(parsed);
    if (type == GIT_OBJECT_COMMIT) {
      auto* c = reinterpret_cast<git_commit*>(parsed);
      stack.push_back({*git_commit_tree_id(c), GIT_OBJECT_TREE, from});
      for (unsigned i = 0; i < git_commit_parentcount(c); ++i) {
        stack.push_back({*git_commit_parent_id(c, i), GIT_OBJECT_COMMIT, from});
      }
    } else if (type == GIT_OBJECT_TREE) {
      auto* t = reinterpret_cast<git_tree*>(parsed);
      Status names = CheckTree(t, "");
      if (!names.ok()) problems.push_back(names.message() + " (named by " + item.from + ")");
      for (size_t i = 0; i < git_tree_entrycount(t); ++i) {
        const git_tree_entry* te = git_tree_entry_byindex(t, i);
        git_filemode_t mode = git_tree_entry_filemode(te);
        std::string entry_from = from + " as '" + git_tree_entry_name(te) + "'";
        if (mode == GIT_FILEMODE_TREE) {
          stack.push_back({*git_tree_entry_id(te), GIT_OBJECT_TREE, entry_from});
        } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE) {
          if (!seen.count(*git_tree_entry_id(te))) {
            stack.push_back({*git_tree_entry_id(te), GIT_OBJECT_BLOB, entry_from});
          }
        } else {
          problems.push_back(entry_from + ": unsupported mode " + std::to_string(mode));
        }
      }
    } else if (type == GIT_OBJECT_TAG) {
      auto* tag = reinterpret_cast<git_tag*>(parsed);
      stack.push_back({*git_tag_target_id(tag), git_tag_target_type(tag), from});
    }
  }
  return problems;
}

}  // namespace vrepo
