#include "vrepo/remote/http_transport.h"

namespace vrepo {

// Placeholder until the HTTP client lands (owned by the HTTP work).
Result<std::unique_ptr<Transport>> OpenHttpTransport(const std::string& url,
                                                     const TransportOptions&) {
  return Status::InvalidArgument("http remotes are not built yet: " + url);
}

}  // namespace vrepo
