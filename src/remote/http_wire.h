// The bodies of `vrepo serve` requests and responses (docs/remote.md, "HTTP"), written and
// parsed in one place so that client and server agree. Parsers take outside input: every
// error names `source` (a URL or "request") and the line or byte at fault. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "vrepo/remote/server.h"  // CheckRepositoryName
#include "vrepo/remote/transport.h"

namespace vrepo {

// The response header that names a Status code, so a client rebuilds the server's Status.
inline constexpr const char* kErrorCodeHeader = "X-Vrepo-Error";
std::string ErrorCodeName(Status::Code code);
// The Status a server's error answer stands for: the code its header names (IOError for a
// name this client does not know) with `message`.
Status StatusFromError(std::string_view code_name, std::string message);

// First line `HEAD BRANCH` (when HEAD names a branch), then `TARGET FULLNAME` a line.
std::string FormatRefListing(const RefListing& listing);
// `checked_out`: the value of the listing's kCheckedOutHeader ("" when absent).
Result<RefListing> ParseRefListing(std::string_view text, const std::string& source,
                                   std::string_view checked_out = "");
// The listing's response header naming HEAD's branch when a working tree has it checked out
// (RefListing::head_checked_out). A header, not a line of the body, so that clients which
// do not know it still read the listing.
inline constexpr const char* kCheckedOutHeader = "X-Vrepo-Checked-Out";

// Content ids back to back, 32 raw bytes each.
std::string FormatIdList(const std::vector<ContentId>& ids);
Result<std::vector<ContentId>> ParseIdList(std::string_view body, const std::string& source);

// Lines `want ID` and `have ID` (40 hex digits).
std::string FormatHistoryRequest(const std::vector<std::string>& wants,
                                 const std::vector<std::string>& haves);
Status ParseHistoryRequest(std::string_view body, std::vector<std::string>* wants,
                           std::vector<std::string>* haves);

// Lines `OLD NEW FULLNAME [force]`, 40 zeros for "none".
std::string FormatRefUpdates(const std::vector<RefUpdate>& updates);
Result<std::vector<RefUpdate>> ParseRefUpdates(std::string_view body);

}  // namespace vrepo
