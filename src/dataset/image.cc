#include "vrepo/dataset/image.h"

#include <jpeglib.h>
#include <spng.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t declared first
#include <cstdlib>
#include <cstring>
#include <memory>

namespace vrepo {
namespace {

constexpr unsigned char kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

// Ancillary chunks (text, ICC profiles) are never needed for pixels; these caps keep a hostile
// file from making spng allocate much for them.
constexpr size_t kPngChunkLimit = 16u << 20;
constexpr size_t kPngChunkCacheLimit = 64u << 20;
// spng refuses dimensions above 2^31 - 1.
constexpr uint32_t kPngMaxDimension = 0x7fffffff;

// "Bounded by the file size": a header is only a claim, so before allocating for the pixels we
// ask whether the file's bytes could possibly encode that many, at the best ratio the format
// allows. A file that fails is corrupt or hostile (a 549-byte JPEG claiming 16383 x 16383);
// every real image passes, however uniform.
// - PNG: the pixels are deflate-compressed raw scanlines, and deflate cannot do better than
//   about 1032:1 (a 258-byte match costs at least 2 bits). So the raw scanline bytes, with
//   their filter bytes, must be at most 1032 x the file size.
// - JPEG, Huffman-coded (baseline and progressive, nearly every JPEG): each scan codes every
//   8x8 block of its components with at least one bit (a DC code is never shorter), and some
//   scan must code some component; a component sampled 1x1 when the largest factor is 4x4
//   has one block per 32 x 32 pixels. So pixels <= bits x 64 x (hmax x vmax) / min(h x v),
//   read from the frame header: 512 pixels a byte for gray, 2048 for 4:2:0 color.
// - JPEG, arithmetic-coded (rare): the QM coder can spend a small fraction of a bit on a
//   block of a flat image, so no useful ratio exists; only max_pixels bounds it.
constexpr uint64_t kDeflateMaxRatio = 1032;

Status TooLittleData(const std::string& name, const char* format, uint64_t width, uint64_t height,
                     size_t file_size) {
  return Status::Corruption(name + ": " + format + ": " + std::to_string(width) + "x" +
                            std::to_string(height) + " image needs more data than the " +
                            std::to_string(file_size) + "-byte file holds");
}

Status NotAnImage(const std::string& name) {
  return Status::Corruption(name + ": not a PNG or JPEG image");
}

Status TooManyPixels(const std::string& name, const char* format, uint64_t width, uint64_t height,
                     uint64_t max_pixels) {
  return Status::Corruption(name + ": " + format + ": " + std::to_string(width) + "x" +
                            std::to_string(height) + " image exceeds the limit of " +
                            std::to_string(max_pixels) + " pixels");
}

// ITU-R BT.601 luma in 16-bit fixed point, the same weights and rounding libjpeg uses for its
// RGB to grayscale conversion, so PNG and JPEG sources convert alike.
inline uint8_t Luma(uint32_t r, uint32_t g, uint32_t b) {
  return static_cast<uint8_t>((19595 * r + 38470 * g + 7471 * b + 32768) >> 16);
}

// Rewrites `n` interleaved RGB pixels at the front of `p` as gray, in place (gray pixel i is
// written at i <= 3i, after its source was read).
void RgbToGrayInPlace(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = p + 3 * i;
    p[i] = Luma(s[0], s[1], s[2]);
  }
}

// Keeps the first of every three bytes: RGB that came from gray has R == G == B.
void FirstOfThreeInPlace(uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = p[3 * i];
}

// ---------------------------------------------------------------- PNG (libspng)

struct SpngCtxFree {
  void operator()(spng_ctx* ctx) const { spng_ctx_free(ctx); }
};
using SpngCtx = std::unique_ptr<spng_ctx, SpngCtxFree>;

// IEND has no data, so the whole chunk (length, type, CRC) is always these 12 bytes.
constexpr std::string_view kPngIend("\0\0\0\0IEND\xae\x42\x60\x82", 12);

bool HasIend(std::string_view bytes) {
  // Nearly every file ends with IEND; bytes after it are ignored, as other decoders do.
  return bytes.ends_with(kPngIend) || bytes.find(kPngIend) != std::string_view::npos;
}

Status PngError(const std::string& name, int err) {
  return Status::Corruption(name + ": png: " + spng_strerror(err));
}

uint32_t PngChannels(const spng_ihdr& ihdr) {
  switch (ihdr.color_type) {
    case SPNG_COLOR_TYPE_GRAYSCALE:
      return 1;
    case SPNG_COLOR_TYPE_GRAYSCALE_ALPHA:
      return 2;
    case SPNG_COLOR_TYPE_TRUECOLOR_ALPHA:
      return 4;
    default:  // truecolor and indexed
      return 3;
  }
}

// Opens a decoder on `bytes` and reads the signature and IHDR only.
Status OpenPng(std::string_view bytes, const std::string& name, uint32_t max_dimension,
               SpngCtx* ctx, spng_ihdr* ihdr) {
  ctx->reset(spng_ctx_new(0));
  if (*ctx == nullptr) return Status::IOError(name + ": png: out of memory");
  spng_ctx* c = ctx->get();
  int err = spng_set_crc_action(c, SPNG_CRC_ERROR, SPNG_CRC_ERROR);
  if (err == 0) err = spng_set_chunk_limits(c, kPngChunkLimit, kPngChunkCacheLimit);
  if (err == 0) err = spng_set_image_limits(c, max_dimension, max_dimension);
  if (err == 0) err = spng_set_png_buffer(c, bytes.data(), bytes.size());
  if (err == 0) err = spng_get_ihdr(c, ihdr);
  if (err != 0) return PngError(name, err);
  return Status::OK();
}

Result<DecodedImage> DecodePng(std::string_view bytes, const std::string& name, uint32_t channels,
                               uint64_t max_pixels) {
  SpngCtx ctx;
  spng_ihdr ihdr;
  // Reading the IHDR allocates nothing for pixels; the pixel limit below names the size.
  VREPO_RETURN_IF_ERROR(OpenPng(bytes, name, kPngMaxDimension, &ctx, &ihdr));
  const uint64_t pixels = uint64_t{ihdr.width} * ihdr.height;
  if (pixels > max_pixels) return TooManyPixels(name, "png", ihdr.width, ihdr.height, max_pixels);
  const uint32_t samples = ihdr.color_type == SPNG_COLOR_TYPE_INDEXED ? 1 : PngChannels(ihdr);
  const uint64_t raw_bits_per_row = uint64_t{ihdr.width} * samples * ihdr.bit_depth;
  const uint64_t raw_bytes = ihdr.height * (1 + (raw_bits_per_row + 7) / 8);
  if (raw_bytes > bytes.size() * kDeflateMaxRatio) {
    return TooLittleData(name, "png", ihdr.width, ihdr.height, bytes.size());
  }

  const bool gray = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE ||
                    ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
  if (channels == 0) channels = gray ? 1 : 3;
  // Gray up to 8 bits decodes straight to G8; everything else goes through RGB8 (which spng
  // produces from any color type and depth, dropping alpha and scaling 16 bits to 8).
  const bool direct_gray =
      channels == 1 && ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE && ihdr.bit_depth <= 8;
  const int fmt = direct_gray ? SPNG_FMT_G8 : SPNG_FMT_RGB8;

  size_t size = 0;
  int err = spng_decoded_image_size(ctx.get(), fmt, &size);
  if (err != 0) return PngError(name, err);
  DecodedImage out;
  out.width = ihdr.width;
  out.height = ihdr.height;
  out.channels = channels;
  out.pixels.resize(size);
  err = spng_decode_image(ctx.get(), out.pixels.data(), size, fmt, 0);
  // Reading on to IEND finds a file cut or corrupted after its image data. spng does not read
  // IEND's CRC, so a file cut inside it is caught by looking for the whole chunk.
  if (err == 0) err = spng_decode_chunks(ctx.get());
  if (err == 0 && !HasIend(bytes)) err = SPNG_EOF;
  if (err != 0) return PngError(name, err);

  if (channels == 1 && !direct_gray) {
    if (gray) {
      FirstOfThreeInPlace(out.pixels.data(), pixels);
    } else {
      RgbToGrayInPlace(out.pixels.data(), pixels);
    }
    out.pixels.resize(pixels);
  }
  return out;
}

// ---------------------------------------------------------------- JPEG (libjpeg-turbo)

// libjpeg reports errors through error_exit, which must not return; it longjmps back to the
// setjmp in RunJpeg. Warnings (truncated data, corrupt entropy codes) are errors too, so a
// damaged file is reported rather than decoded with gray patches.
struct JpegErrorManager {
  jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void JpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

void JpegEmitMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0) JpegErrorExit(cinfo);  // trace messages (level >= 0) are ignored
}

// Owns a decompressor whose errors land in `err`.
class JpegDecompressor {
 public:
  JpegDecompressor() {
    cinfo_.err = jpeg_std_error(&err_.pub);
    err_.pub.error_exit = JpegErrorExit;
    err_.pub.emit_message = JpegEmitMessage;
    err_.message[0] = '\0';
  }
  ~JpegDecompressor() {
    if (created_) jpeg_destroy_decompress(&cinfo_);
  }
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;

  jpeg_decompress_struct* cinfo() { return &cinfo_; }
  JpegErrorManager* err() { return &err_; }
  void set_created() { created_ = true; }

 private:
  jpeg_decompress_struct cinfo_;
  JpegErrorManager err_;
  bool created_ = false;
};

Status JpegError(const std::string& name, const JpegErrorManager& err) {
  return Status::Corruption(name + ": jpeg: " + err.message);
}

// What RunJpeg should do once the header is read.
struct JpegJob {
  uint32_t channels = 0;  // requested: 0, 1 or 3
  uint64_t max_pixels = 0;
  bool header_only = false;
  DecodedImage* out = nullptr;
  ImageInfo* info = nullptr;
  bool too_many_pixels = false;
  bool too_little_data = false;
};

// The most pixels a Huffman-coded JPEG of `file_size` bytes can hold (the rule above).
uint64_t JpegMaxPixelsFor(const jpeg_decompress_struct& cinfo, size_t file_size) {
  int min_area = cinfo.max_h_samp_factor * cinfo.max_v_samp_factor;
  for (int i = 0; i < cinfo.num_components; ++i) {
    const jpeg_component_info& c = cinfo.comp_info[i];
    min_area = std::min(min_area, c.h_samp_factor * c.v_samp_factor);
  }
  const uint64_t per_bit =
      64ull * cinfo.max_h_samp_factor * cinfo.max_v_samp_factor / std::max(min_area, 1);
  return uint64_t{file_size} * 8 * per_bit;
}

// Converts the `n` CMYK pixels at the front of `p` to RGB or gray in place. Adobe's writers
// (the usual source of CMYK JPEGs) store the inks inverted, which their APP14 marker tells.
void CmykInPlace(uint8_t* p, size_t n, uint32_t channels, bool inverted) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* s = p + 4 * i;
    uint32_t c = s[0], m = s[1], y = s[2], k = s[3];
    if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
    const uint32_t r = (c * k + 127) / 255, g = (m * k + 127) / 255, b = (y * k + 127) / 255;
    if (channels == 1) {
      p[i] = Luma(r, g, b);
    } else {
      uint8_t* d = p + 3 * i;
      d[0] = static_cast<uint8_t>(r), d[1] = static_cast<uint8_t>(g),
      d[2] = static_cast<uint8_t>(b);
    }
  }
}

// Runs libjpeg on `bytes`. Returns false when libjpeg failed (its message is in the error
// manager). No object with a destructor lives in this frame, so longjmp skips none.
bool RunJpeg(JpegDecompressor* d, std::string_view bytes, JpegJob* job) {
  jpeg_decompress_struct* cinfo = d->cinfo();
  if (setjmp(d->err()->jump) != 0) return false;
  jpeg_create_decompress(cinfo);
  d->set_created();
  jpeg_mem_src(cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(cinfo, TRUE);
  if (job->header_only) {
    job->info->format = ImageFormat::kJpeg;
    job->info->width = cinfo->image_width;
    job->info->height = cinfo->image_height;
    job->info->channels = static_cast<uint32_t>(cinfo->num_components);
    return true;
  }
  const uint64_t pixels = uint64_t{cinfo->image_width} * cinfo->image_height;
  if (pixels > job->max_pixels) {
    job->too_many_pixels = true;
    return true;
  }
  if (!cinfo->arith_code && pixels > JpegMaxPixelsFor(*cinfo, bytes.size())) {
    job->too_little_data = true;
    return true;
  }
  const bool cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  uint32_t channels = job->channels;
  if (channels == 0) channels = cinfo->jpeg_color_space == JCS_GRAYSCALE ? 1 : 3;
  // libjpeg converts gray, YCbCr and RGB to either target itself; CMYK only to CMYK.
  cinfo->out_color_space = cmyk ? JCS_CMYK : (channels == 1 ? JCS_GRAYSCALE : JCS_RGB);
  jpeg_start_decompress(cinfo);

  DecodedImage* out = job->out;
  out->width = cinfo->output_width;
  out->height = cinfo->output_height;
  out->channels = channels;
  const size_t row_bytes = size_t{cinfo->output_width} * cinfo->output_components;
  out->pixels.resize(row_bytes * cinfo->output_height);
  // Scanlines are decoded straight into the result, a few rows per call.
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW rows[4];
    const JDIMENSION want = std::min<JDIMENSION>(4, cinfo->output_height - cinfo->output_scanline);
    for (JDIMENSION i = 0; i < want; ++i) {
      rows[i] = out->pixels.data() + (cinfo->output_scanline + i) * row_bytes;
    }
    jpeg_read_scanlines(cinfo, rows, want);
  }
  jpeg_finish_decompress(cinfo);
  if (cmyk) {
    const size_t n = size_t{out->width} * out->height;
    CmykInPlace(out->pixels.data(), n, channels, cinfo->saw_Adobe_marker);
    out->pixels.resize(n * channels);
  }
  return true;
}

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  switch (format) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    default:
      return "unknown";
  }
}

ImageFormat SniffImageFormat(std::string_view bytes) {
  if (bytes.size() >= sizeof(kPngMagic) &&
      std::memcmp(bytes.data(), kPngMagic, sizeof(kPngMagic)) == 0) {
    return ImageFormat::kPng;
  }
  if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xff &&
      static_cast<unsigned char>(bytes[1]) == 0xd8 &&
      static_cast<unsigned char>(bytes[2]) == 0xff) {
    return ImageFormat::kJpeg;
  }
  return ImageFormat::kUnknown;
}

Result<ImageInfo> ProbeImage(std::string_view bytes, const std::string& name) {
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kPng: {
      SpngCtx ctx;
      spng_ihdr ihdr;
      VREPO_RETURN_IF_ERROR(OpenPng(bytes, name, kPngMaxDimension, &ctx, &ihdr));
      ImageInfo info;
      info.format = ImageFormat::kPng;
      info.width = ihdr.width;
      info.height = ihdr.height;
      info.channels = PngChannels(ihdr);
      return info;
    }
    case ImageFormat::kJpeg: {
      JpegDecompressor d;
      ImageInfo info;
      JpegJob job;
      job.header_only = true;
      job.info = &info;
      if (!RunJpeg(&d, bytes, &job)) return JpegError(name, *d.err());
      return info;
    }
    default:
      return NotAnImage(name);
  }
}

Result<DecodedImage> DecodeImage(std::string_view bytes, const std::string& name,
                                 const DecodeOptions& options) {
  const uint32_t channels = options.channels;
  const uint64_t max_pixels = options.max_pixels;
  if (channels != 0 && channels != 1 && channels != 3) {
    return Status::InvalidArgument(name + ": cannot decode to " + std::to_string(channels) +
                                   " channels (0, 1 or 3)");
  }
  switch (SniffImageFormat(bytes)) {
    case ImageFormat::kPng:
      return DecodePng(bytes, name, channels, max_pixels);
    case ImageFormat::kJpeg: {
      JpegDecompressor d;
      DecodedImage out;
      JpegJob job;
      job.channels = channels;
      job.max_pixels = max_pixels;
      job.out = &out;
      if (!RunJpeg(&d, bytes, &job)) return JpegError(name, *d.err());
      if (job.too_many_pixels) {
        return TooManyPixels(name, "jpeg", d.cinfo()->image_width, d.cinfo()->image_height,
                             max_pixels);
      }
      if (job.too_little_data) {
        return TooLittleData(name, "jpeg", d.cinfo()->image_width, d.cinfo()->image_height,
                             bytes.size());
      }
      return out;
    }
    default:
      return NotAnImage(name);
  }
}

Result<std::string> EncodePng(const DecodedImage& image) {
  if (image.channels != 1 && image.channels != 3) {
    return Status::InvalidArgument("PNG encoding: " + std::to_string(image.channels) +
                                   " channels (1 or 3 are written)");
  }
  if (image.pixels.size() != uint64_t{image.width} * image.height * image.channels) {
    return Status::InvalidArgument("PNG encoding: pixel count does not match the size");
  }
  struct EncoderFree {
    void operator()(spng_ctx* c) const { spng_ctx_free(c); }
  };
  std::unique_ptr<spng_ctx, EncoderFree> ctx(spng_ctx_new(SPNG_CTX_ENCODER));
  if (!ctx) return Status::IOError("PNG encoding: spng_ctx_new failed");
  spng_set_option(ctx.get(), SPNG_ENCODE_TO_BUFFER, 1);
  spng_ihdr ihdr{};
  ihdr.width = image.width;
  ihdr.height = image.height;
  ihdr.bit_depth = 8;
  ihdr.color_type = image.channels == 1 ? SPNG_COLOR_TYPE_GRAYSCALE : SPNG_COLOR_TYPE_TRUECOLOR;
  int rc = spng_set_ihdr(ctx.get(), &ihdr);
  if (rc == 0) {
    rc = spng_encode_image(ctx.get(), image.pixels.data(), image.pixels.size(), SPNG_FMT_PNG,
                           SPNG_ENCODE_FINALIZE);
  }
  size_t len = 0;
  void* buf = rc == 0 ? spng_get_png_buffer(ctx.get(), &len, &rc) : nullptr;
  if (!buf) return Status::IOError(std::string("PNG encoding failed: ") + spng_strerror(rc));
  std::string out(static_cast<const char*>(buf), len);
  std::free(buf);
  return out;
}

}  // namespace vrepo
