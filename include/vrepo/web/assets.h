// The web view's static files (src/web/assets/: the page shell, app.js, app.css), embedded in
// the binary at build time so that no page loads anything from elsewhere. Immutable; safe from
// any thread.
#pragma once

#include <string_view>

namespace vrepo::web {

struct Asset {
  std::string_view path;          // relative to the assets folder: "index.html", "app.js"
  std::string_view content_type;  // "text/html; charset=utf-8", "text/javascript", ...
  std::string_view body;
};

// The asset at `path`, or nullptr when there is none.
const Asset* FindAsset(std::string_view path);

}  // namespace vrepo::web
