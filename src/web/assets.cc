// The embedded assets: a table over the bytes cmake/embed_assets.cmake wrote into the generated
// vrepo_web_assets.h at build time.
#include "vrepo/web/assets.h"

#include <array>

#include "vrepo_web_assets.h"

namespace vrepo::web {
namespace {

constexpr std::size_t kWebAssetCount = std::size(kEmbeddedWebAssets);

std::string_view WebAssetContentType(std::string_view name) {
  auto ends_with = [&](std::string_view suffix) { return name.ends_with(suffix); };
  if (ends_with(".html")) return "text/html; charset=utf-8";
  if (ends_with(".js") || ends_with(".mjs")) return "text/javascript; charset=utf-8";
  if (ends_with(".css")) return "text/css; charset=utf-8";
  if (ends_with(".svg")) return "image/svg+xml";
  if (ends_with(".png")) return "image/png";
  if (ends_with(".ico")) return "image/x-icon";
  return "application/octet-stream";
}

// Built once, on first use; the function-local static makes that thread-safe.
const std::array<Asset, kWebAssetCount>& WebAssetTable() {
  static const std::array<Asset, kWebAssetCount> table = [] {
    std::array<Asset, kWebAssetCount> assets;
    for (std::size_t i = 0; i < kWebAssetCount; ++i) {
      const EmbeddedWebAsset& embedded = kEmbeddedWebAssets[i];
      assets[i] =
          Asset{embedded.name, WebAssetContentType(embedded.name),
                std::string_view(reinterpret_cast<const char*>(embedded.bytes), embedded.size)};
    }
    return assets;
  }();
  return table;
}

}  // namespace

const Asset* FindAsset(std::string_view path) {
  for (const Asset& asset : WebAssetTable()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace vrepo::web
