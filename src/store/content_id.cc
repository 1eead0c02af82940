#include "vrepo/store/content_id.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace vrepo {

namespace {

// Fetched once: an implicit fetch per digest would take a global lock on every call.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtxPtr NewCtx() {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) != 1) std::abort();
  return ctx;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ContentId::Hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

Result<ContentId> ContentId::FromHex(std::string_view hex) {
  if (hex.size() != 64) {
    return Status::InvalidArgument("content id must be 64 hex digits: '" + std::string(hex) + "'");
  }
  ContentId id;
  for (size_t i = 0; i < 32; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("content id is not hex: '" + std::string(hex) + "'");
    }
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

Result<ContentId> ContentId::FromRaw(std::string_view raw) {
  if (raw.size() != 32) {
    return Status::Corruption("raw content id has " + std::to_string(raw.size()) +
                              " bytes, expected 32");
  }
  ContentId id;
  std::memcpy(id.bytes.data(), raw.data(), 32);
  return id;
}

ContentId ContentId::Of(std::string_view data) {
  // One context per thread, re-initialised per call: allocation-free on the hot path.
  thread_local MdCtxPtr ctx(EVP_MD_CTX_new());
  ContentId id;
  unsigned int len = 0;
  if (EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), id.bytes.data(), &len) != 1 || len != 32) {
    std::abort();  // only fails when OpenSSL cannot allocate
  }
  return id;
}

struct Sha256::Impl {
  MdCtxPtr ctx = NewCtx();
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {}
Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) std::abort();
}

ContentId Sha256::Finish() {
  ContentId id;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), id.bytes.data(), &len) != 1 || len != 32) std::abort();
  // Ready for reuse, like a fresh hasher.
  if (EVP_DigestInit_ex(impl_->ctx.get(), Sha256Md(), nullptr) != 1) std::abort();
  return id;
}

}  // namespace vrepo
