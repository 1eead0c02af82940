#include "vrepo/remote/transport.h"

#include "vrepo/remote/http_transport.h"
#include "vrepo/remote/s3_transport.h"
#include "vrepo/remote/service.h"

namespace vrepo {

Result<std::unique_ptr<Transport>> OpenTransport(const std::string& url,
                                                 const TransportOptions& options) {
  if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
    return OpenHttpTransport(url, options);
  }
  if (url.rfind("s3://", 0) == 0) return OpenS3Transport(url, options);
  std::string path = url;
  if (path.rfind("file://", 0) == 0) {
    path = path.substr(7);
  } else if (path.find("://") != std::string::npos) {
    return Status::InvalidArgument("unsupported remote URL '" + url +
                                   "' (use a path, file://, http://, https:// or s3://)");
  }
  if (path.empty()) return Status::InvalidArgument("empty remote URL");
  // A push may create the repository there; reads of a missing one answer NotFound.
  std::unique_ptr<Transport> service = RemoteService::AtPath(path, /*create_if_missing=*/true);
  return service;
}

Result<std::vector<BatchRecord>> ReadObjectPrefix(Transport& source,
                                                  const std::vector<ContentId>& ids,
                                                  std::string* batch) {
  VREPO_ASSIGN_OR_RETURN(*batch, source.ReadObjects(ids));
  VREPO_ASSIGN_OR_RETURN(std::vector<BatchRecord> records, ParseObjectBatch(*batch));
  if (records.empty() || records.size() > ids.size()) {
    return Status::Corruption("object batch from " + source.Describe() + " holds " +
                              std::to_string(records.size()) + " objects for a read of " +
                              std::to_string(ids.size()));
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (records[i].id != ids[i]) {
      return Status::Corruption("object batch from " + source.Describe() + " holds object " +
                                records[i].id.Hex() + " where " + ids[i].Hex() + " was asked for");
    }
  }
  return records;
}

}  // namespace vrepo
