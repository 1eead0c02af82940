#include "vrepo/dataset/image.h"

#include <doctest/doctest.h>
#include <jpeglib.h>
#include <spng.h>
#include <sys/resource.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset/png_support.h"
#include "testing.h"

namespace vrepo {
namespace {

using testing::EncodePng;
using testing::PngSpec;

std::string EncodeJpeg(uint32_t width, uint32_t height, int components,
                       const std::vector<uint8_t>& pixels, int quality = 95,
                       bool progressive = false) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&cinfo, &buf, &len);
  cinfo.image_width = width;
  cinfo.image_height = height;
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) +
                   size_t{cinfo.next_scanline} * width * static_cast<size_t>(components);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string jpeg(reinterpret_cast<const char*>(buf), len);
  std::free(buf);
  return jpeg;
}

// A smooth gradient without wrap-around edges, which JPEG reproduces closely.
std::vector<uint8_t> Gradient(uint32_t width, uint32_t height, int components) {
  std::vector<uint8_t> p;
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      for (int c = 0; c < components; ++c) {
        p.push_back(static_cast<uint8_t>(x * 160 / width + y * 60 / height + c * 10));
      }
    }
  }
  return p;
}

uint8_t Luma(int r, int g, int b) {
  return static_cast<uint8_t>((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
}

int MaxAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int{a[i]} - b[i]));
  return worst;
}

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// An image must either decode or fail with a message naming it; a crash fails the whole run.
void CheckFailsNamed(const std::string& bytes, const std::string& name) {
  auto decoded = DecodeImage(bytes, name);
  REQUIRE_FALSE(decoded.ok());
  CHECK_MESSAGE(StartsWith(decoded.status().message(), name + ": "), decoded.status().message());
}

std::string SmallPng() {
  PngSpec spec{.width = 16, .height = 12, .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
  std::vector<uint8_t> px = Gradient(16, 12, 3);
  return EncodePng(spec, px.data(), px.size());
}

// A PNG signature and IHDR with a valid CRC declaring `width` x `height` 8-bit gray, then a
// few bytes of IDAT: what a decompression bomb or a damaged header looks like.
std::string PngWithHeader(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
    return s;
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    std::string body = type + data;
    uLong crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size());
    return be32(static_cast<uint32_t>(data.size())) + body + be32(static_cast<uint32_t>(crc));
  };
  std::string ihdr = be32(width) + be32(height) + std::string("\x08\x00\x00\x00\x00", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) +
         chunk("IDAT", std::string("\x78\x9c\x03\x00", 4)) + chunk("IEND", "");
}

// The process's peak resident memory so far, in bytes.
uint64_t PeakRss() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return uint64_t(usage.ru_maxrss) * 1024;
}

// `jpeg` with its frame header (SOF0 or SOF2) patched to claim `width` x `height`.
std::string ClaimJpegSize(std::string jpeg, uint16_t width, uint16_t height) {
  size_t sof = jpeg.find("\xff\xc0");
  if (sof == std::string::npos) sof = jpeg.find("\xff\xc2");
  REQUIRE(sof != std::string::npos);
  jpeg[sof + 5] = static_cast<char>(height >> 8);
  jpeg[sof + 6] = static_cast<char>(height & 0xff);
  jpeg[sof + 7] = static_cast<char>(width >> 8);
  jpeg[sof + 8] = static_cast<char>(width & 0xff);
  return jpeg;
}

TEST_CASE("format sniffing reads the magic bytes") {
  CHECK(SniffImageFormat(SmallPng()) == ImageFormat::kPng);
  CHECK(SniffImageFormat(EncodeJpeg(8, 8, 1, Gradient(8, 8, 1))) == ImageFormat::kJpeg);
  CHECK(SniffImageFormat("GIF89a") == ImageFormat::kUnknown);
  CHECK(SniffImageFormat("") == ImageFormat::kUnknown);
  CHECK(SniffImageFormat(std::string("\x89PNG", 4)) == ImageFormat::kUnknown);
  CHECK(std::string(ImageFormatName(ImageFormat::kPng)) == "png");
  CHECK(std::string(ImageFormatName(ImageFormat::kJpeg)) == "jpeg");
  CHECK(std::string(ImageFormatName(ImageFormat::kUnknown)) == "unknown");
}

TEST_CASE("8-bit gray PNG round-trips exactly and converts to RGB") {
  std::vector<uint8_t> px = Gradient(17, 9, 1);
  PngSpec spec{.width = 17, .height = 9};
  std::string png = EncodePng(spec, px.data(), px.size());

  auto info = ProbeImage(png, "g.png");
  REQUIRE(info.ok());
  CHECK(info->format == ImageFormat::kPng);
  CHECK(info->width == 17);
  CHECK(info->height == 9);
  CHECK(info->channels == 1);

  auto gray = DecodeImage(png, "g.png");
  REQUIRE(gray.ok());
  CHECK(gray->width == 17);
  CHECK(gray->height == 9);
  CHECK(gray->channels == 1);
  CHECK(gray->pixels == px);

  auto rgb = DecodeImage(png, "g.png", {.channels = 3});
  REQUIRE(rgb.ok());
  CHECK(rgb->channels == 3);
  REQUIRE(rgb->pixels.size() == px.size() * 3);
  for (size_t i = 0; i < px.size(); ++i) {
    CHECK(rgb->pixels[3 * i] == px[i]);
    CHECK(rgb->pixels[3 * i + 1] == px[i]);
    CHECK(rgb->pixels[3 * i + 2] == px[i]);
  }
}

TEST_CASE("RGB, RGBA and interlaced PNGs decode to RGB, gray conversion uses BT.601 luma") {
  std::vector<uint8_t> rgb_px = Gradient(10, 7, 3);
  PngSpec rgb_spec{.width = 10, .height = 7, .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
  std::string rgb_png = EncodePng(rgb_spec, rgb_px.data(), rgb_px.size());
  auto rgb = DecodeImage(rgb_png, "c.png");
  REQUIRE(rgb.ok());
  CHECK(rgb->channels == 3);
  CHECK(rgb->pixels == rgb_px);

  auto gray = DecodeImage(rgb_png, "c.png", {.channels = 1});
  REQUIRE(gray.ok());
  CHECK(gray->channels == 1);
  REQUIRE(gray->pixels.size() == 70);
  for (size_t i = 0; i < 70; ++i) {
    CHECK(gray->pixels[i] == Luma(rgb_px[3 * i], rgb_px[3 * i + 1], rgb_px[3 * i + 2]));
  }

  std::vector<uint8_t> rgba_px = Gradient(10, 7, 4);
  PngSpec rgba_spec{.width = 10, .height = 7, .color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA};
  std::string rgba_png = EncodePng(rgba_spec, rgba_px.data(), rgba_px.size());
  auto info = ProbeImage(rgba_png, "a.png");
  REQUIRE(info.ok());
  CHECK(info->channels == 4);
  auto rgba = DecodeImage(rgba_png, "a.png");
  REQUIRE(rgba.ok());
  CHECK(rgba->channels == 3);
  REQUIRE(rgba->pixels.size() == 210);
  for (size_t i = 0; i < 70; ++i) {
    CHECK(rgba->pixels[3 * i] == rgba_px[4 * i]);  // alpha dropped, not blended
    CHECK(rgba->pixels[3 * i + 2] == rgba_px[4 * i + 2]);
  }

  PngSpec adam7 = rgb_spec;
  adam7.interlace = SPNG_INTERLACE_ADAM7;
  auto interlaced = DecodeImage(EncodePng(adam7, rgb_px.data(), rgb_px.size()), "i.png");
  REQUIRE(interlaced.ok());
  CHECK(interlaced->pixels == rgb_px);
}

TEST_CASE("palette PNG expands to its colors") {
  PngSpec spec{.width = 4, .height = 2, .color_type = SPNG_COLOR_TYPE_INDEXED};
  spec.palette = {{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}};
  std::vector<uint8_t> idx = {0, 1, 2, 0, 2, 2, 1, 0};
  std::string png = EncodePng(spec, idx.data(), idx.size());
  auto info = ProbeImage(png, "p.png");
  REQUIRE(info.ok());
  CHECK(info->channels == 3);
  auto img = DecodeImage(png, "p.png");
  REQUIRE(img.ok());
  CHECK(img->channels == 3);
  REQUIRE(img->pixels.size() == 24);
  for (size_t i = 0; i < idx.size(); ++i) {
    const spng_plte_entry& e = spec.palette[idx[i]];
    CHECK(img->pixels[3 * i] == e.red);
    CHECK(img->pixels[3 * i + 1] == e.green);
    CHECK(img->pixels[3 * i + 2] == e.blue);
  }
  auto gray = DecodeImage(png, "p.png", {.channels = 1});
  REQUIRE(gray.ok());
  CHECK(gray->pixels[0] == Luma(255, 0, 0));
  CHECK(gray->pixels[1] == Luma(0, 255, 0));
}

TEST_CASE("gray+alpha PNG stays gray with alpha dropped") {
  std::vector<uint8_t> ga = {10, 255, 20, 0, 30, 128, 40, 7, 250, 1, 0, 255};
  PngSpec spec{.width = 3, .height = 2, .color_type = SPNG_COLOR_TYPE_GRAYSCALE_ALPHA};
  std::string png = EncodePng(spec, ga.data(), ga.size());
  auto info = ProbeImage(png, "ga.png");
  REQUIRE(info.ok());
  CHECK(info->channels == 2);
  auto img = DecodeImage(png, "ga.png");
  REQUIRE(img.ok());
  CHECK(img->channels == 1);
  CHECK(img->pixels == std::vector<uint8_t>{10, 20, 30, 40, 250, 0});
  auto rgb = DecodeImage(png, "ga.png", {.channels = 3});
  REQUIRE(rgb.ok());
  CHECK(rgb->pixels == std::vector<uint8_t>{10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40, 250,
                                            250, 250, 0, 0, 0});
}

TEST_CASE("16-bit PNG decodes to 8 bits, low bit depths scale to the full range") {
  std::vector<uint16_t> g16 = {0, 0x00ff, 0x0100, 0x8000, 0xfeff, 0xffff};
  PngSpec spec{.width = 3, .height = 2, .bit_depth = 16};
  std::string png = EncodePng(spec, g16.data(), g16.size() * 2);
  auto img = DecodeImage(png, "g16.png");
  REQUIRE(img.ok());
  CHECK(img->channels == 1);
  CHECK(img->pixels == std::vector<uint8_t>{0x00, 0x00, 0x01, 0x80, 0xfe, 0xff});

  std::vector<uint16_t> c16 = {0xffff, 0x0000, 0x8000, 0x1234, 0xabcd, 0x0101};
  PngSpec cspec{.width = 2, .height = 1, .color_type = SPNG_COLOR_TYPE_TRUECOLOR, .bit_depth = 16};
  auto color = DecodeImage(EncodePng(cspec, c16.data(), c16.size() * 2), "c16.png");
  REQUIRE(color.ok());
  CHECK(color->pixels == std::vector<uint8_t>{0xff, 0x00, 0x80, 0x12, 0xab, 0x01});

  // 1-bit gray, 8 pixels packed in one byte: 1 0 1 1 0 0 0 1.
  std::vector<uint8_t> bits = {0xb1};
  PngSpec bspec{.width = 8, .height = 1, .bit_depth = 1};
  auto bw = DecodeImage(EncodePng(bspec, bits.data(), bits.size()), "bw.png");
  REQUIRE(bw.ok());
  CHECK(bw->pixels == std::vector<uint8_t>{255, 0, 255, 255, 0, 0, 0, 255});
}

TEST_CASE("JPEG gray and RGB decode close to the source and convert between channels") {
  std::vector<uint8_t> gray_px = Gradient(32, 24, 1);
  std::string gray_jpeg = EncodeJpeg(32, 24, 1, gray_px, 100);
  auto info = ProbeImage(gray_jpeg, "g.jpg");
  REQUIRE(info.ok());
  CHECK(info->format == ImageFormat::kJpeg);
  CHECK(info->width == 32);
  CHECK(info->height == 24);
  CHECK(info->channels == 1);
  auto gray = DecodeImage(gray_jpeg, "g.jpg");
  REQUIRE(gray.ok());
  CHECK(gray->channels == 1);
  CHECK(gray->width == 32);
  CHECK(gray->height == 24);
  CHECK(MaxAbsDiff(gray->pixels, gray_px) <= 3);
  auto gray_as_rgb = DecodeImage(gray_jpeg, "g.jpg", {.channels = 3});
  REQUIRE(gray_as_rgb.ok());
  REQUIRE(gray_as_rgb->pixels.size() == gray->pixels.size() * 3);
  for (size_t i = 0; i < gray->pixels.size(); ++i) {
    CHECK(gray_as_rgb->pixels[3 * i + 1] == gray->pixels[i]);
  }

  std::vector<uint8_t> rgb_px = Gradient(40, 30, 3);
  for (bool progressive : {false, true}) {
    CAPTURE(progressive);
    std::string rgb_jpeg = EncodeJpeg(40, 30, 3, rgb_px, 100, progressive);
    auto probe = ProbeImage(rgb_jpeg, "c.jpg");
    REQUIRE(probe.ok());
    CHECK(probe->channels == 3);
    auto rgb = DecodeImage(rgb_jpeg, "c.jpg");
    REQUIRE(rgb.ok());
    CHECK(rgb->channels == 3);
    CHECK(rgb->width == probe->width);
    CHECK(rgb->height == probe->height);
    CHECK(MaxAbsDiff(rgb->pixels, rgb_px) <= 12);  // 4:2:0 chroma subsampling smears edges
    auto luma = DecodeImage(rgb_jpeg, "c.jpg", {.channels = 1});
    REQUIRE(luma.ok());
    REQUIRE(luma->pixels.size() == 1200);
    std::vector<uint8_t> want(1200);
    for (size_t i = 0; i < 1200; ++i) {
      want[i] = Luma(rgb_px[3 * i], rgb_px[3 * i + 1], rgb_px[3 * i + 2]);
    }
    CHECK(MaxAbsDiff(luma->pixels, want) <= 3);
  }
}

TEST_CASE("a CMYK JPEG (Adobe, inverted inks) decodes to RGB and gray") {
  // libjpeg stores CMYK samples as given and writes an Adobe marker, whose convention is
  // inverted inks (255 = no ink): stored C=255 M=0 Y=0 K=255 is full magenta and yellow, red.
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&cinfo, &buf, &len);
  cinfo.image_width = 16;
  cinfo.image_height = 8;
  cinfo.input_components = 4;
  cinfo.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 100, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<uint8_t> row(16 * 4);
  for (size_t x = 0; x < 16; ++x) {
    row[4 * x] = 255, row[4 * x + 1] = 0, row[4 * x + 2] = 0, row[4 * x + 3] = 255;
  }
  while (cinfo.next_scanline < 8) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&cinfo, &r, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::string jpeg(reinterpret_cast<const char*>(buf), len);
  std::free(buf);

  auto info = ProbeImage(jpeg, "cmyk.jpg");
  REQUIRE(info.ok());
  CHECK(info->channels == 4);
  auto rgb = DecodeImage(jpeg, "cmyk.jpg");
  REQUIRE(rgb.ok());
  CHECK(rgb->channels == 3);
  REQUIRE(rgb->pixels.size() == 16 * 8 * 3);
  CHECK(rgb->pixels[0] >= 250);  // red: no cyan, full magenta and yellow, no black
  CHECK(rgb->pixels[1] <= 5);
  CHECK(rgb->pixels[2] <= 5);
  auto gray = DecodeImage(jpeg, "cmyk.jpg", {.channels = 1});
  REQUIRE(gray.ok());
  REQUIRE(gray->pixels.size() == 16 * 8);
  CHECK(std::abs(int{gray->pixels[0]} - Luma(rgb->pixels[0], rgb->pixels[1], rgb->pixels[2])) <= 1);
}

TEST_CASE("a Fashion-MNIST PNG from the exporter probes and decodes as 28x28 gray") {
  namespace fs = std::filesystem;
  const std::string exporter =
      fs::path(VREPO_BINARY).parent_path().string() + "/examples/vrepo-fmnist-export";
  if (!fs::exists(exporter) || !fs::exists("/usr/share/datasets/fashion-mnist")) {
    MESSAGE("skipped: exporter or Fashion-MNIST data missing");
    return;
  }
  testing::TempDir dir;
  const std::string cmd =
      "'" + exporter + "' --out '" + dir.path() + "' --split train --limit 3 >/dev/null 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  int seen = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
    if (e.path().extension() != ".png") continue;
    ++seen;
    std::string bytes = testing::ReadFileOrDie(e.path().string());
    auto info = ProbeImage(bytes, e.path().string());
    REQUIRE(info.ok());
    CHECK(info->width == 28);
    CHECK(info->height == 28);
    CHECK(info->channels == 1);
    auto img = DecodeImage(bytes, e.path().string());
    REQUIRE(img.ok());
    CHECK(img->pixels.size() == 784);
    int lit = 0;
    for (uint8_t v : img->pixels) lit += v > 0;
    CHECK(lit > 50);  // a garment, not a blank canvas
  }
  CHECK(seen == 3);
}

TEST_CASE("every truncation of a PNG or JPEG is an error naming the image") {
  const std::string png = SmallPng();
  for (size_t cut = 0; cut < png.size(); ++cut) {
    CAPTURE(cut);
    CheckFailsNamed(png.substr(0, cut), "cut.png");
  }
  // Signature and IHDR are the first 33 bytes: a probe needs them, and nothing after.
  CHECK(ProbeImage(png.substr(0, 33), "cut.png").ok());
  for (size_t cut = 0; cut < 29; ++cut) {
    CAPTURE(cut);
    auto info = ProbeImage(png.substr(0, cut), "cut.png");
    REQUIRE_FALSE(info.ok());
    CHECK(StartsWith(info.status().message(), "cut.png: "));
  }

  for (bool progressive : {false, true}) {
    const std::string jpeg = EncodeJpeg(24, 16, 3, Gradient(24, 16, 3), 90, progressive);
    for (size_t cut = 0; cut < jpeg.size(); ++cut) {
      CAPTURE(cut);
      CAPTURE(progressive);
      CheckFailsNamed(jpeg.substr(0, cut), "cut.jpg");
    }
  }
  auto msg = DecodeImage(SmallPng().substr(0, 60), "x.png").status().message();
  CHECK(StartsWith(msg, "x.png: png: "));
  const std::string jpeg = EncodeJpeg(24, 16, 3, Gradient(24, 16, 3));
  msg = DecodeImage(jpeg.substr(0, jpeg.size() - 20), "x.jpg").status().message();
  CHECK(msg == "x.jpg: jpeg: Premature end of JPEG file");
}

TEST_CASE("a flipped byte anywhere in a PNG is caught, a damaged JPEG never crashes") {
  const std::string png = SmallPng();
  for (size_t i = 0; i < png.size(); ++i) {
    CAPTURE(i);
    std::string bad = png;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    CheckFailsNamed(bad, "flip.png");  // every byte is covered by the magic or a CRC
  }
  const std::string jpeg = EncodeJpeg(24, 16, 3, Gradient(24, 16, 3));
  int errors = 0;
  for (size_t i = 0; i < jpeg.size(); ++i) {
    std::string bad = jpeg;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    auto img = DecodeImage(bad, "flip.jpg");
    if (!img.ok()) {
      ++errors;
      CHECK(StartsWith(img.status().message(), "flip.jpg: "));
    } else {
      CHECK(img->pixels.size() == size_t{img->width} * img->height * img->channels);
    }
  }
  CHECK(errors > 0);
}

TEST_CASE("bytes that are neither PNG nor JPEG are refused by name") {
  for (const std::string& bytes : {std::string(), std::string("GIF89a..."),
                                   std::string("\x89PNX\r\n\x1a\n", 8), std::string("\xff\xd8")}) {
    auto img = DecodeImage(bytes, "odd.bin");
    REQUIRE_FALSE(img.ok());
    CHECK(img.status().code() == Status::Code::kCorruption);
    CHECK(img.status().message() == "odd.bin: not a PNG or JPEG image");
    auto info = ProbeImage(bytes, "odd.bin");
    REQUIRE_FALSE(info.ok());
    CHECK(info.status().message() == "odd.bin: not a PNG or JPEG image");
  }
  auto two = DecodeImage(SmallPng(), "small.png", {.channels = 2});
  REQUIRE_FALSE(two.ok());
  CHECK(two.status().code() == Status::Code::kInvalidArgument);
}

TEST_CASE("a huge declared size is refused by max_pixels before decoding") {
  // 100000 x 100000 gray would need 10 GB; the header alone is enough to refuse it.
  std::string bomb = PngWithHeader(100000, 100000);
  auto info = ProbeImage(bomb, "bomb.png");
  REQUIRE(info.ok());
  CHECK(info->width == 100000);
  auto img = DecodeImage(bomb, "bomb.png");
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() ==
        "bomb.png: png: 100000x100000 image exceeds the limit of 89478485 pixels");
  // Within max_pixels but far more than the file's bytes could inflate to.
  img = DecodeImage(PngWithHeader(16000, 16000), "big.png", {.max_pixels = uint64_t{1} << 30});
  REQUIRE_FALSE(img.ok());
  CHECK(StartsWith(img.status().message(), "big.png: png: 16000x16000 image needs more data"));
  // A small limit refuses an ordinary image.
  img = DecodeImage(SmallPng(), "small.png", {.max_pixels = 100});
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() == "small.png: png: 16x12 image exceeds the limit of 100 pixels");

  // A JPEG whose frame header claims 60000 x 60000 (SOF0 height and width patched).
  std::string jpeg = EncodeJpeg(16, 16, 3, Gradient(16, 16, 3));
  size_t sof = jpeg.find("\xff\xc0");
  REQUIRE(sof != std::string::npos);
  for (size_t off : {sof + 5, sof + 7}) {
    jpeg[off] = static_cast<char>(60000 >> 8);
    jpeg[off + 1] = static_cast<char>(60000 & 0xff);
  }
  auto probe = ProbeImage(jpeg, "bomb.jpg");
  REQUIRE(probe.ok());
  CHECK(probe->width == 60000);
  img = DecodeImage(jpeg, "bomb.jpg");
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() ==
        "bomb.jpg: jpeg: 60000x60000 image exceeds the limit of 89478485 pixels");
}

TEST_CASE("a tiny JPEG claiming 16383x16383 is refused by its file size, before allocating") {
  // The attack: a few hundred bytes whose frame header claims 268 M pixels, which cost 800 MB
  // per decoding thread before libjpeg noticed the data was missing.
  const std::string jpeg =
      ClaimJpegSize(EncodeJpeg(16, 16, 3, Gradient(16, 16, 3), 50), 16383, 16383);
  REQUIRE(jpeg.size() < 1000);
  auto img = DecodeImage(jpeg, "tiny.jpg");
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() ==
        "tiny.jpg: jpeg: 16383x16383 image exceeds the limit of 89478485 pixels");
  // With the limit raised, the file size still refuses it, and nothing large is allocated.
  const uint64_t before = PeakRss();
  img = DecodeImage(jpeg, "tiny.jpg", {.max_pixels = uint64_t{1} << 30});
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() == "tiny.jpg: jpeg: 16383x16383 image needs more data than the " +
                                      std::to_string(jpeg.size()) + "-byte file holds");
  CHECK(PeakRss() - before < (64u << 20));
  // The same for progressive JPEG and for gray.
  for (bool progressive : {false, true}) {
    CAPTURE(progressive);
    std::string gray =
        ClaimJpegSize(EncodeJpeg(16, 16, 1, Gradient(16, 16, 1), 50, progressive), 9000, 9000);
    img = DecodeImage(gray, "g.jpg");
    REQUIRE_FALSE(img.ok());
    CHECK(StartsWith(img.status().message(), "g.jpg: jpeg: 9000x9000 image needs more data"));
  }
}

TEST_CASE("the file-size bound passes the most compressible real JPEGs and PNGs") {
  // A flat image is the best case for every coder; all of these must decode.
  const uint32_t side = 2048;
  for (int components : {1, 3}) {
    for (bool progressive : {false, true}) {
      CAPTURE(components);
      CAPTURE(progressive);
      std::vector<uint8_t> flat(size_t{side} * side * components, 128);
      std::string jpeg = EncodeJpeg(side, side, components, flat, 10, progressive);
      auto img = DecodeImage(jpeg, "flat.jpg");
      REQUIRE_MESSAGE(img.ok(), img.status().message());
      CHECK(img->width == side);
    }
  }
  std::vector<uint8_t> zeros(size_t{side} * side, 0);
  PngSpec spec{.width = side, .height = side};
  auto img = DecodeImage(EncodePng(spec, zeros.data(), zeros.size()), "flat.png");
  REQUIRE_MESSAGE(img.ok(), img.status().message());
  // 1-bit gray: 8 pixels a byte before deflate, the PNG that packs the most pixels.
  PngSpec bits{.width = side, .height = side, .bit_depth = 1};
  img = DecodeImage(EncodePng(bits, zeros.data(), zeros.size() / 8), "bits.png");
  REQUIRE_MESSAGE(img.ok(), img.status().message());
}

TEST_CASE("a real PNG above the pixel limit is refused by default and decodes when raised") {
  // 9500 x 9500 zeros: a valid file of ~90 KB that would decode to 90 MB (270 MB as RGB).
  const uint32_t side = 9500;
  std::vector<uint8_t> zeros(size_t{side} * side, 0);
  PngSpec spec{.width = side, .height = side};
  const std::string png = EncodePng(spec, zeros.data(), zeros.size());
  zeros = {};
  CHECK(png.size() < 300000);
  auto img = DecodeImage(png, "big.png", {.channels = 3});
  REQUIRE_FALSE(img.ok());
  CHECK(img.status().message() ==
        "big.png: png: 9500x9500 image exceeds the limit of 89478485 pixels");
  img = DecodeImage(png, "big.png", {.max_pixels = 100'000'000});
  REQUIRE_MESSAGE(img.ok(), img.status().message());
  CHECK(img->pixels.size() == size_t{side} * side);
}

}  // namespace
}  // namespace vrepo
