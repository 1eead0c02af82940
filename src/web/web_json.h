// What every part of the web view answers with: JSON bodies, errors as {"error": "one line"}
// with the HTTP status docs/ui.md gives each kind of failure, and the checks on parameters
// that name paths, revisions and ids. Stateless; thread-safe.
#pragma once

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <string>

#include "vrepo/remote/server.h"
#include "vrepo/util/status.h"

namespace vrepo::web {

using Json = nlohmann::json;

// Serializes `body`; text that is not UTF-8 (paths and labels are bytes) is replaced, not
// thrown over.
std::string DumpJson(const Json& body);
void SendJson(httplib::Response& res, const Json& body, int status = 200);
void SendError(httplib::Response& res, int status, const std::string& message);
void SendStatus(httplib::Response& res, const Status& status);

// InvalidArgument "WHAT 'VALUE': why" unless `value` is a '/'-separated path inside a
// repository: not empty, not absolute, no empty, '.' or '..' segment, no backslash, NUL or
// other control character, and not inside .vrepo.
Status CheckRepoPathParam(const std::string& what, const std::string& value);
// InvalidArgument unless `rev` could be a revision (branch, tag, id, REV~N, REV^): not empty,
// no control characters, no ':' (a path inside a commit), no leading '-', at most 256 bytes.
Status CheckRevParam(const std::string& rev);
// InvalidArgument unless `text` (a label, a message) holds no NUL and no line end
// (`allow_newlines` lets a commit message keep its lines) and is at most `max` bytes.
Status CheckTextParam(const std::string& what, const std::string& text, size_t max,
                      bool allow_newlines);

// The request's JSON object body. InvalidArgument for anything else.
Result<Json> ParseJsonBody(const std::string& body);
// The string member `key` of a request object ("" when absent and !required).
Result<std::string> StringMember(const Json& object, const std::string& key, bool required);

}  // namespace vrepo::web
