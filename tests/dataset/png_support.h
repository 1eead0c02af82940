// Encoding PNGs for tests with libspng: any color type, bit depth and interlacing.
#pragma once

#include <doctest/doctest.h>
#include <spng.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace vrepo::testing {

struct PngSpec {
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t color_type = SPNG_COLOR_TYPE_GRAYSCALE;
  uint8_t bit_depth = 8;
  uint8_t interlace = SPNG_INTERLACE_NONE;
  std::vector<spng_plte_entry> palette = {};  // color type 3 only
};

// Encodes `pixels` (the PNG's own layout, 16-bit samples host-endian) with libspng's encoder.
inline std::string EncodePng(const PngSpec& spec, const void* pixels, size_t size) {
  spng_ctx* ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  REQUIRE(ctx != nullptr);
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr = {};
  ihdr.width = spec.width;
  ihdr.height = spec.height;
  ihdr.color_type = spec.color_type;
  ihdr.bit_depth = spec.bit_depth;
  ihdr.interlace_method = spec.interlace;
  REQUIRE(spng_set_ihdr(ctx, &ihdr) == 0);
  if (!spec.palette.empty()) {
    spng_plte plte = {};
    plte.n_entries = static_cast<uint32_t>(spec.palette.size());
    std::memcpy(plte.entries, spec.palette.data(), spec.palette.size() * sizeof(spng_plte_entry));
    REQUIRE(spng_set_plte(ctx, &plte) == 0);
  }
  int err = spng_encode_image(ctx, pixels, size, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
  REQUIRE_MESSAGE(err == 0, spng_strerror(err));
  size_t len = 0;
  void* buf = spng_get_png_buffer(ctx, &len, &err);
  REQUIRE(buf != nullptr);
  std::string png(static_cast<const char*>(buf), len);
  std::free(buf);
  spng_ctx_free(ctx);
  return png;
}

}  // namespace vrepo::testing
