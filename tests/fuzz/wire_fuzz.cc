// Fuzz target: the text parsers of `vrepo serve`'s HTTP bodies (src/remote/http_wire.h), each
// given the whole input. A refusal is the parser's Status code with a printable message that
// names where (the source given, or the request's kind and line); what parses, written again by
// the matching Format function and parsed again, gives the same values.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http_wire.h"

namespace {

const std::string kSource = "http://fuzz/x";

// Hostile bytes must not reach a terminal through an error message.
void CheckError(const vrepo::Status& st, vrepo::Status::Code code, const std::string& prefix) {
  if (st.ok() || st.code() != code) std::abort();
  if (st.message().rfind(prefix, 0) != 0) std::abort();
  for (char c : st.message()) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) std::abort();
  }
}

bool SameRefs(const vrepo::RefListing& a, const vrepo::RefListing& b) {
  if (a.head_branch != b.head_branch || a.refs.size() != b.refs.size()) return false;
  for (size_t i = 0; i < a.refs.size(); ++i) {
    if (a.refs[i].name != b.refs[i].name || a.refs[i].target != b.refs[i].target) return false;
  }
  return true;
}

void CheckRefListing(std::string_view input) {
  auto listing = vrepo::ParseRefListing(input, kSource);
  if (!listing.ok()) {
    CheckError(listing.status(), vrepo::Status::Code::kCorruption,
               "ref listing from " + kSource + ", line ");
    return;
  }
  auto again = vrepo::ParseRefListing(vrepo::FormatRefListing(*listing), kSource);
  if (!again.ok() || !SameRefs(*listing, *again)) std::abort();
}

void CheckIdList(std::string_view input) {
  auto ids = vrepo::ParseIdList(input, kSource);
  if (!ids.ok()) {
    CheckError(ids.status(), vrepo::Status::Code::kInvalidArgument, "id list from " + kSource);
    return;
  }
  if (ids->size() * 32 != input.size()) std::abort();
  // Raw bytes back to back: the format is the input itself.
  if (vrepo::FormatIdList(*ids) != input) std::abort();
  auto again = vrepo::ParseIdList(vrepo::FormatIdList(*ids), kSource);
  if (!again.ok() || *again != *ids) std::abort();
}

void CheckHistoryRequest(std::string_view input) {
  std::vector<std::string> wants, haves;
  vrepo::Status st = vrepo::ParseHistoryRequest(input, &wants, &haves);
  if (!st.ok()) {
    CheckError(st, vrepo::Status::Code::kInvalidArgument, "history request line ");
    return;
  }
  for (const auto* ids : {&wants, &haves}) {
    for (const std::string& id : *ids) {
      if (id.size() != 40) std::abort();
    }
  }
  std::vector<std::string> wants2, haves2;
  if (!vrepo::ParseHistoryRequest(vrepo::FormatHistoryRequest(wants, haves), &wants2, &haves2)
           .ok() ||
      wants2 != wants || haves2 != haves) {
    std::abort();
  }
}

void CheckRefUpdates(std::string_view input) {
  auto updates = vrepo::ParseRefUpdates(input);
  if (!updates.ok()) {
    CheckError(updates.status(), vrepo::Status::Code::kInvalidArgument, "ref update ");
    return;
  }
  if (updates->empty()) std::abort();
  auto again = vrepo::ParseRefUpdates(vrepo::FormatRefUpdates(*updates));
  if (!again.ok() || again->size() != updates->size()) std::abort();
  for (size_t i = 0; i < updates->size(); ++i) {
    const vrepo::RefUpdate& a = (*updates)[i];
    const vrepo::RefUpdate& b = (*again)[i];
    if (a.name != b.name || a.old_target != b.old_target || a.new_target != b.new_target ||
        a.force != b.force) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckRefListing(input);
  CheckIdList(input);
  CheckHistoryRequest(input);
  CheckRefUpdates(input);
  return 0;
}
