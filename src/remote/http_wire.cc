#include "http_wire.h"

#include "vrepo/util/text.h"

namespace vrepo {
namespace {

const std::string kNoCommit(40, '0');

bool IsCommitId(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A full ref name as the wire carries it: "refs/..." without spaces or control characters.
bool IsRefName(std::string_view s) {
  if (s.size() <= 5 || s.substr(0, 5) != "refs/") return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::vector<std::string_view> SplitSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    fields.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return fields;
}

std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    out +=
        (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) ? '?' : c;
  }
  return out;
}

}  // namespace

std::string ErrorCodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "ok";
    case Status::Code::kNotFound:
      return "not-found";
    case Status::Code::kCorruption:
      return "corruption";
    case Status::Code::kInvalidArgument:
      return "invalid-argument";
    case Status::Code::kIOError:
      return "io-error";
    case Status::Code::kLocked:
      return "locked";
    case Status::Code::kConflict:
      return "conflict";
    case Status::Code::kNoSpace:
      return "no-space";
  }
  return "io-error";
}

Status StatusFromError(std::string_view code_name, std::string message) {
  if (code_name == "not-found") return Status::NotFound(std::move(message));
  if (code_name == "corruption") return Status::Corruption(std::move(message));
  if (code_name == "invalid-argument") return Status::InvalidArgument(std::move(message));
  if (code_name == "locked") return Status::Locked(std::move(message));
  if (code_name == "conflict") return Status::Conflict(std::move(message));
  if (code_name == "no-space") return Status::NoSpace(std::move(message));
  return Status::IOError(std::move(message));
}

std::string FormatRefListing(const RefListing& listing) {
  std::string out;
  if (listing.head_branch) out += "HEAD " + *listing.head_branch + "\n";
  for (const RemoteRef& ref : listing.refs) out += ref.target + " " + ref.name + "\n";
  return out;
}

Result<RefListing> ParseRefListing(std::string_view text, const std::string& source,
                                   std::string_view checked_out) {
  RefListing listing;
  std::vector<std::string_view> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    auto bad = [&](const std::string& why) {
      std::string message = "ref listing from " + source;
      message += ", line " + std::to_string(i + 1) + ": " + why;
      message += ": '" + Printable(lines[i]) + "'";
      return Status::Corruption(message);
    };
    std::vector<std::string_view> f = SplitSpaces(lines[i]);
    if (f.size() != 2) return bad("expected `TARGET REFNAME`");
    if (f[0] == "HEAD") {
      if (i != 0) return bad("HEAD after the first line");
      if (!IsRefName(f[1])) return bad("bad branch name");
      listing.head_branch = std::string(f[1]);
      continue;
    }
    if (!IsCommitId(f[0])) return bad("target is not 40 hex digits");
    if (!IsRefName(f[1])) return bad("bad ref name");
    listing.refs.push_back(RemoteRef{std::string(f[1]), std::string(f[0])});
  }
  listing.head_checked_out = !checked_out.empty() && listing.head_branch == checked_out;
  return listing;
}

std::string FormatIdList(const std::vector<ContentId>& ids) {
  std::string out;
  out.reserve(ids.size() * 32);
  for (const ContentId& id : ids) out.append(id.Raw());
  return out;
}

Result<std::vector<ContentId>> ParseIdList(std::string_view body, const std::string& source) {
  if (body.size() % 32 != 0) {
    return Status::InvalidArgument("id list from " + source + " is " + std::to_string(body.size()) +
                                   " bytes, not a multiple of 32");
  }
  std::vector<ContentId> ids;
  ids.reserve(body.size() / 32);
  for (size_t pos = 0; pos < body.size(); pos += 32) {
    VREPO_ASSIGN_OR_RETURN(ContentId id, ContentId::FromRaw(body.substr(pos, 32)));
    ids.push_back(id);
  }
  return ids;
}

std::string FormatHistoryRequest(const std::vector<std::string>& wants,
                                 const std::vector<std::string>& haves) {
  std::string out;
  for (const std::string& id : wants) out += "want " + id + "\n";
  for (const std::string& id : haves) out += "have " + id + "\n";
  return out;
}

Status ParseHistoryRequest(std::string_view body, std::vector<std::string>* wants,
                           std::vector<std::string>* haves) {
  std::vector<std::string_view> lines = SplitLines(body);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string_view> f = SplitSpaces(lines[i]);
    if (f.size() != 2 || (f[0] != "want" && f[0] != "have") || !IsCommitId(f[1])) {
      return Status::InvalidArgument("history request line " + std::to_string(i + 1) +
                                     ": expected `want ID` or `have ID`, got '" +
                                     Printable(lines[i]) + "'");
    }
    (f[0] == "want" ? wants : haves)->emplace_back(f[1]);
  }
  return Status::OK();
}

std::string FormatRefUpdates(const std::vector<RefUpdate>& updates) {
  std::string out;
  for (const RefUpdate& u : updates) {
    out += (u.old_target.empty() ? kNoCommit : u.old_target) + " " +
           (u.new_target.empty() ? kNoCommit : u.new_target) + " " + u.name +
           (u.force ? " force" : "") + "\n";
  }
  return out;
}

Result<std::vector<RefUpdate>> ParseRefUpdates(std::string_view body) {
  std::vector<RefUpdate> updates;
  std::vector<std::string_view> lines = SplitLines(body);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string_view> f = SplitSpaces(lines[i]);
    bool ok = (f.size() == 3 || (f.size() == 4 && f[3] == "force")) && IsCommitId(f[0]) &&
              IsCommitId(f[1]) && IsRefName(f[2]);
    if (!ok) {
      return Status::InvalidArgument("ref update line " + std::to_string(i + 1) +
                                     ": expected `OLD NEW REFNAME [force]`, got '" +
                                     Printable(lines[i]) + "'");
    }
    RefUpdate u;
    u.old_target = f[0] == kNoCommit ? "" : std::string(f[0]);
    u.new_target = f[1] == kNoCommit ? "" : std::string(f[1]);
    u.name = std::string(f[2]);
    u.force = f.size() == 4;
    updates.push_back(std::move(u));
  }
  if (updates.empty()) return Status::InvalidArgument("ref update request names no ref");
  return updates;
}

Status CheckRepositoryName(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("bad repository name '" + name + "': " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.front() == '/') return bad("absolute paths are refused");
  size_t start = 0;
  while (true) {
    size_t slash = name.find('/', start);
    std::string_view segment =
        std::string_view(name).substr(start, slash == std::string::npos ? slash : slash - start);
    if (segment.empty()) return bad("empty path segment");
    if (segment == "." || segment == "..") return bad("'.' and '..' segments are refused");
    for (char c : segment) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) {
        return bad(c == '%' ? "percent-encoded characters are refused"
                            : "only [A-Za-z0-9._-] segments separated by '/' are allowed");
      }
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Status::OK();
}

}  // namespace vrepo
