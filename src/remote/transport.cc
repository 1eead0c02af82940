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

}  // namespace vrepo
