// The HTTP(S) transport: each Transport operation is one request to `vrepo serve`
// (docs/remote.md, "HTTP").
#pragma once

#include <memory>
#include <string>

#include "vrepo/remote/transport.h"

namespace vrepo {

// `url` is http://HOST:PORT/NAME or https://HOST:PORT/NAME.
Result<std::unique_ptr<Transport>> OpenHttpTransport(const std::string& url,
                                                     const TransportOptions& options);

}  // namespace vrepo
