#include "web_json.h"

#include "vrepo/util/text.h"

namespace vrepo::web {
namespace {

// Request bodies are a few small members; deeper nesting is refused before parsing.
constexpr int kMaxBodyDepth = 8;

bool HasControl(std::string_view text, bool allow_newlines) {
  for (unsigned char c : text) {
    if (allow_newlines && (c == '\n' || c == '\t')) continue;
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

std::string DumpJson(const Json& body) {
  return body.dump(-1, ' ', false, Json::error_handler_t::replace);
}

void SendJson(httplib::Response& res, const Json& body, int status) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(DumpJson(body), "application/json");
}

void SendError(httplib::Response& res, int status, const std::string& message) {
  // One line: a message may quote a stranger's file name or table line.
  SendJson(res, Json{{"error", EscapeControl(message)}}, status);
}

void SendStatus(httplib::Response& res, const Status& status) {
  SendError(res, HttpStatusFor(status, /*client_sent=*/false), status.message());
}

Status CheckRepoPathParam(const std::string& what, const std::string& value) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(what + " " + QuoteName(value) + ": " + why);
  };
  if (value.empty()) return bad("empty");
  if (value.size() > 4096) return bad("longer than 4096 bytes");
  if (value.front() == '/') return bad("absolute paths are refused");
  if (value.find('\\') != std::string::npos) return bad("backslashes are refused");
  if (HasControl(value, false)) return bad("control characters are refused");
  size_t start = 0;
  while (true) {
    size_t slash = value.find('/', start);
    std::string_view segment = std::string_view(value).substr(
        start, slash == std::string::npos ? std::string::npos : slash - start);
    if (segment.empty()) return bad("empty path segment");
    if (segment == "." || segment == "..") return bad("'.' and '..' segments are refused");
    if (start == 0 && segment == ".vrepo") return bad("paths inside .vrepo are refused");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return Status::OK();
}

Status CheckRevParam(const std::string& rev) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("revision " + QuoteName(rev) + ": " + why);
  };
  if (rev.empty()) return bad("empty");
  if (rev.size() > 256) return bad("longer than 256 bytes");
  if (HasControl(rev, false)) return bad("control characters are refused");
  if (rev.front() == '-') return bad("a revision does not start with '-'");
  if (rev.find(':') != std::string::npos || rev.find('\\') != std::string::npos) {
    return bad("':' and '\\' are refused");
  }
  return Status::OK();
}

Status CheckTextParam(const std::string& what, const std::string& text, size_t max,
                      bool allow_newlines) {
  if (text.size() > max) {
    return Status::InvalidArgument(what + " is longer than " + std::to_string(max) + " bytes");
  }
  if (HasControl(text, allow_newlines)) {
    return Status::InvalidArgument(what + " holds control characters" +
                                   (allow_newlines ? "" : " or a line end"));
  }
  return Status::OK();
}

Result<Json> ParseJsonBody(const std::string& body) {
  if (JsonNestingPastLimit(body, kMaxBodyDepth) != std::string_view::npos) {
    return Status::InvalidArgument("request body nests deeper than " +
                                   std::to_string(kMaxBodyDepth) + " levels");
  }
  Json value = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return Status::InvalidArgument("request body is not JSON");
  if (!value.is_object()) return Status::InvalidArgument("request body is not a JSON object");
  return value;
}

Result<std::string> StringMember(const Json& object, const std::string& key, bool required) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) return Status::InvalidArgument("request body lacks \"" + key + "\"");
    return std::string();
  }
  if (!it->is_string()) {
    return Status::InvalidArgument("request body's \"" + key + "\" is not a string");
  }
  return it->get<std::string>();
}

}  // namespace vrepo::web
