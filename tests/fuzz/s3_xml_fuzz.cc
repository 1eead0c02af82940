// Fuzz target: the S3 answers' XML reader (src/remote/s3_xml.h) on the whole input, as a
// document, a ListObjectsV2 page, the multipart answers and an error body. A refusal is Corruption
// starting with the source given, on one printable line; a page that parses, written again with
// every text escaped, parses back to the same objects, which checks the entity decoding.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "s3_xml.h"

namespace {

const std::string kS3XmlSource = "S3 LIST fuzz/p";

void CheckS3XmlError(const vrepo::Status& st) {
  if (st.ok() || st.code() != vrepo::Status::Code::kCorruption) std::abort();
  if (st.message().rfind(kS3XmlSource + ": ", 0) != 0) std::abort();
  for (const char c : st.message()) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) std::abort();
  }
}

std::string EscapeS3XmlText(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void CheckListPage(std::string_view input) {
  auto page = vrepo::ParseS3ListPage(input, kS3XmlSource);
  if (!page.ok()) {
    CheckS3XmlError(page.status());
    return;
  }
  if (page->truncated == page->next_token.empty()) std::abort();
  std::string again = "<ListBucketResult>";
  for (const vrepo::S3ListedObject& object : page->objects) {
    if (object.key.empty()) std::abort();
    again += "<Contents><Key>" + EscapeS3XmlText(object.key) + "</Key><Size>" +
             std::to_string(object.size) + "</Size><ETag>&quot;" + EscapeS3XmlText(object.etag) +
             "&quot;</ETag></Contents>";
  }
  again += std::string("<IsTruncated>") + (page->truncated ? "true" : "false") + "</IsTruncated>";
  if (page->truncated) {
    again +=
        "<NextContinuationToken>" + EscapeS3XmlText(page->next_token) + "</NextContinuationToken>";
  }
  again += "</ListBucketResult>";
  auto reread = vrepo::ParseS3ListPage(again, kS3XmlSource);
  if (!reread.ok() || reread->objects.size() != page->objects.size() ||
      reread->truncated != page->truncated || reread->next_token != page->next_token) {
    std::abort();
  }
  for (size_t i = 0; i < page->objects.size(); ++i) {
    const vrepo::S3ListedObject& a = page->objects[i];
    const vrepo::S3ListedObject& b = reread->objects[i];
    if (a.key != b.key || a.size != b.size || a.etag != b.etag) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto xml = vrepo::ParseXml(input, kS3XmlSource);
  if (!xml.ok()) CheckS3XmlError(xml.status());
  CheckListPage(input);
  // The multipart answers: an upload id, the uploads of a key, the parts of an upload.
  auto upload = vrepo::ParseS3UploadId(input, kS3XmlSource);
  if (!upload.ok()) {
    CheckS3XmlError(upload.status());
  } else if (upload->empty()) {
    std::abort();
  }
  auto uploads = vrepo::ParseS3Uploads(input, kS3XmlSource);
  if (!uploads.ok()) CheckS3XmlError(uploads.status());
  auto parts = vrepo::ParseS3Parts(input, kS3XmlSource);
  if (!parts.ok()) {
    CheckS3XmlError(parts.status());
  } else {
    for (const vrepo::S3ListedPart& part : *parts) {
      if (part.etag.empty()) std::abort();
    }
  }
  auto error = vrepo::ParseS3Error(input, kS3XmlSource);
  if (!error.ok()) {
    CheckS3XmlError(error.status());
  } else if (error->code.empty()) {
    std::abort();
  }
  return 0;
}
