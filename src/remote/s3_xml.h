// A small strict XML reader for the S3 answers the client reads (ListObjectsV2 results and
// error bodies): elements, attributes skipped, text with entities decoded, no DOCTYPE.
// Private to src/remote/. Pure functions; safe on any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/util/status.h"

namespace vrepo {

struct XmlElement {
  std::string name;  // as written, namespace prefix included
  std::string text;  // the element's own text, entities decoded (children's text excluded)
  std::vector<XmlElement> children;

  // The first child named `name`, or null.
  const XmlElement* Child(std::string_view child_name) const;
};

// Parses one document; Corruption "SOURCE: corrupt XML at byte N: PROBLEM" otherwise.
Result<XmlElement> ParseXml(std::string_view xml, const std::string& source);

struct S3ListedObject {
  std::string key;  // the full key, as the bucket names it
  uint64_t size = 0;
  std::string etag;  // quotes removed
};

struct S3ListPage {
  std::vector<S3ListedObject> objects;
  bool truncated = false;
  std::string next_token;  // set when truncated
};

// A ListBucketResult of ListObjectsV2; Corruption naming `source` when it is not one.
Result<S3ListPage> ParseS3ListPage(std::string_view xml, const std::string& source);

struct S3ErrorBody {
  std::string code;     // "NoSuchKey", "PreconditionFailed", ...
  std::string message;  // may be empty
};

// An <Error> body; Corruption naming `source` when it is not one.
Result<S3ErrorBody> ParseS3Error(std::string_view xml, const std::string& source);

// The UploadId of an InitiateMultipartUploadResult.
Result<std::string> ParseS3UploadId(std::string_view xml, const std::string& source);

struct S3ListedUpload {
  std::string key;  // the full key
  std::string upload_id;
};
// The uploads of a ListMultipartUploadsResult (one page).
Result<std::vector<S3ListedUpload>> ParseS3Uploads(std::string_view xml, const std::string& source);

struct S3ListedPart {
  int number = 0;
  std::string etag;  // quotes removed
  uint64_t size = 0;
};
// The parts of a ListPartsResult (one page).
Result<std::vector<S3ListedPart>> ParseS3Parts(std::string_view xml, const std::string& source);

// An ETag without the surrounding double quotes S3 writes around it.
std::string UnquoteETag(std::string_view etag);

}  // namespace vrepo
