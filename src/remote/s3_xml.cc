#include "s3_xml.h"

#include <charconv>

namespace vrepo {

namespace {

// Deeper documents are refused: S3 answers nest three levels, and a recursive reader must not
// let hostile input exhaust the stack.
constexpr int kMaxXmlDepth = 32;

bool IsXmlNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == ':' || c == '.' || c == '-';
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void AppendXmlUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class XmlReader {
 public:
  XmlReader(std::string_view xml, const std::string& source) : xml_(xml), source_(source) {}

  Result<XmlElement> Document() {
    VREPO_RETURN_IF_ERROR(SkipMisc());
    if (pos_ >= xml_.size()) return Fail("no root element");
    XmlElement root;
    VREPO_RETURN_IF_ERROR(Element(0, &root));
    VREPO_RETURN_IF_ERROR(SkipMisc());
    if (pos_ != xml_.size()) return Fail("text after the root element");
    return root;
  }

 private:
  Status Fail(const std::string& problem) const {
    return Status::Corruption(source_ + ": corrupt XML at byte " + std::to_string(pos_) + ": " +
                              problem);
  }

  bool StartsWith(std::string_view s) const { return xml_.substr(pos_).substr(0, s.size()) == s; }

  // Moves past `end`, which must come before the end of the input.
  Status SkipPast(std::string_view end, const char* what) {
    const size_t at = xml_.find(end, pos_);
    if (at == std::string_view::npos) return Fail(std::string("unterminated ") + what);
    pos_ = at + end.size();
    return Status::OK();
  }

  // Whitespace, comments and processing instructions (the <?xml ?> declaration included).
  Status SkipMisc() {
    while (pos_ < xml_.size()) {
      if (IsXmlSpace(xml_[pos_])) {
        ++pos_;
      } else if (StartsWith("<!--")) {
        VREPO_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (StartsWith("<?")) {
        VREPO_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else if (StartsWith("<!")) {
        // DOCTYPE would bring entity definitions; S3 never sends one.
        return Fail("DOCTYPE or declaration not allowed");
      } else {
        break;
      }
    }
    if (pos_ < xml_.size() && xml_[pos_] != '<') return Fail("text outside the root element");
    return Status::OK();
  }

  Result<std::string> Name() {
    const size_t start = pos_;
    while (pos_ < xml_.size() && IsXmlNameChar(xml_[pos_])) ++pos_;
    if (pos_ == start) return Fail("expected a name");
    return std::string(xml_.substr(start, pos_ - start));
  }

  // One "&...;" at pos_, decoded onto `out`.
  Status Entity(std::string* out) {
    const size_t semi = xml_.find(';', pos_);
    if (semi == std::string_view::npos || semi - pos_ > 12) return Fail("unterminated entity");
    const std::string_view name = xml_.substr(pos_ + 1, semi - pos_ - 1);
    if (name == "amp") {
      out->push_back('&');
    } else if (name == "lt") {
      out->push_back('<');
    } else if (name == "gt") {
      out->push_back('>');
    } else if (name == "quot") {
      out->push_back('"');
    } else if (name == "apos") {
      out->push_back('\'');
    } else if (name.size() >= 2 && name[0] == '#') {
      const bool hex = name[1] == 'x';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      const auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return Fail("bad character reference");
      }
      AppendXmlUtf8(cp, out);
    } else {
      return Fail("unknown entity");
    }
    pos_ = semi + 1;
    return Status::OK();
  }

  // Attributes are read and dropped (S3 puts only xmlns there), up to and including '>' or
  // "/>"; *empty tells which.
  Status Attributes(bool* empty) {
    for (;;) {
      while (pos_ < xml_.size() && IsXmlSpace(xml_[pos_])) ++pos_;
      if (pos_ >= xml_.size()) return Fail("unterminated tag");
      if (xml_[pos_] == '>') {
        ++pos_;
        *empty = false;
        return Status::OK();
      }
      if (StartsWith("/>")) {
        pos_ += 2;
        *empty = true;
        return Status::OK();
      }
      VREPO_ASSIGN_OR_RETURN(std::string attr, Name());
      (void)attr;
      while (pos_ < xml_.size() && IsXmlSpace(xml_[pos_])) ++pos_;
      if (pos_ >= xml_.size() || xml_[pos_] != '=') return Fail("expected '=' in an attribute");
      ++pos_;
      while (pos_ < xml_.size() && IsXmlSpace(xml_[pos_])) ++pos_;
      if (pos_ >= xml_.size() || (xml_[pos_] != '"' && xml_[pos_] != '\'')) {
        return Fail("expected a quoted attribute value");
      }
      const char quote = xml_[pos_++];
      std::string ignored;
      while (pos_ < xml_.size() && xml_[pos_] != quote) {
        if (xml_[pos_] == '<') return Fail("'<' in an attribute value");
        if (xml_[pos_] == '&') {
          VREPO_RETURN_IF_ERROR(Entity(&ignored));
        } else {
          ++pos_;
        }
      }
      if (pos_ >= xml_.size()) return Fail("unterminated attribute value");
      ++pos_;
    }
  }

  // An element starting at pos_ ('<'), through its end tag.
  Status Element(int depth, XmlElement* out) {
    if (depth >= kMaxXmlDepth) return Fail("elements nested too deeply");
    ++pos_;  // '<'
    VREPO_ASSIGN_OR_RETURN(out->name, Name());
    bool empty = false;
    VREPO_RETURN_IF_ERROR(Attributes(&empty));
    if (empty) return Status::OK();
    for (;;) {
      if (pos_ >= xml_.size()) return Fail("unterminated element");
      const char c = xml_[pos_];
      if (c == '&') {
        VREPO_RETURN_IF_ERROR(Entity(&out->text));
      } else if (c != '<') {
        out->text.push_back(c);
        ++pos_;
      } else if (StartsWith("</")) {
        pos_ += 2;
        VREPO_ASSIGN_OR_RETURN(std::string end_name, Name());
        while (pos_ < xml_.size() && IsXmlSpace(xml_[pos_])) ++pos_;
        if (pos_ >= xml_.size() || xml_[pos_] != '>') return Fail("unterminated end tag");
        if (end_name != out->name) return Fail("end tag does not match <" + out->name + ">");
        ++pos_;
        return Status::OK();
      } else if (StartsWith("<![CDATA[")) {
        const size_t start = pos_ + 9;
        VREPO_RETURN_IF_ERROR(SkipPast("]]>", "CDATA section"));
        out->text.append(xml_.substr(start, pos_ - 3 - start));
      } else if (StartsWith("<!--")) {
        VREPO_RETURN_IF_ERROR(SkipPast("-->", "comment"));
      } else if (StartsWith("<?")) {
        VREPO_RETURN_IF_ERROR(SkipPast("?>", "processing instruction"));
      } else if (StartsWith("<!")) {
        return Fail("declaration inside an element");
      } else {
        out->children.emplace_back();
        VREPO_RETURN_IF_ERROR(Element(depth + 1, &out->children.back()));
      }
    }
  }

  std::string_view xml_;
  const std::string& source_;
  size_t pos_ = 0;
};

Status S3XmlFieldError(const std::string& source, const std::string& what) {
  return Status::Corruption(source + ": " + what);
}

}  // namespace

const XmlElement* XmlElement::Child(std::string_view child_name) const {
  for (const XmlElement& child : children) {
    if (child.name == child_name) return &child;
  }
  return nullptr;
}

Result<XmlElement> ParseXml(std::string_view xml, const std::string& source) {
  return XmlReader(xml, source).Document();
}

std::string UnquoteETag(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

Result<S3ListPage> ParseS3ListPage(std::string_view xml, const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml, source));
  if (root.name != "ListBucketResult") {
    return S3XmlFieldError(source, "not a ListBucketResult");
  }
  S3ListPage page;
  for (const XmlElement& child : root.children) {
    if (child.name != "Contents") continue;
    const XmlElement* key = child.Child("Key");
    const XmlElement* size = child.Child("Size");
    if (key == nullptr || key->text.empty())
      return S3XmlFieldError(source, "Contents without a Key");
    if (size == nullptr) return S3XmlFieldError(source, "Contents without a Size");
    S3ListedObject object;
    object.key = key->text;
    const std::string& digits = size->text;
    const auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), object.size);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return S3XmlFieldError(source, "a Size that is not a number");
    }
    if (const XmlElement* etag = child.Child("ETag")) object.etag = UnquoteETag(etag->text);
    page.objects.push_back(std::move(object));
  }
  const XmlElement* truncated = root.Child("IsTruncated");
  if (truncated != nullptr) {
    if (truncated->text == "true") {
      page.truncated = true;
    } else if (truncated->text != "false") {
      return S3XmlFieldError(source, "IsTruncated is neither true nor false");
    }
  }
  if (page.truncated) {
    const XmlElement* token = root.Child("NextContinuationToken");
    if (token == nullptr || token->text.empty()) {
      return S3XmlFieldError(source, "a truncated listing without a NextContinuationToken");
    }
    page.next_token = token->text;
  }
  return page;
}

Result<S3ErrorBody> ParseS3Error(std::string_view xml, const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml, source));
  const XmlElement* code = root.Child("Code");
  if (root.name != "Error" || code == nullptr || code->text.empty()) {
    return S3XmlFieldError(source, "not an S3 Error");
  }
  S3ErrorBody error;
  error.code = code->text;
  if (const XmlElement* message = root.Child("Message")) error.message = message->text;
  return error;
}

namespace {

// A decimal field of an S3 answer; Corruption naming `what` otherwise.
template <class T>
Result<T> S3XmlNumber(const XmlElement* element, const std::string& source, const char* what) {
  T value{};
  if (element == nullptr) return S3XmlFieldError(source, std::string("no ") + what);
  const std::string& digits = element->text;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    return S3XmlFieldError(source, std::string("a ") + what + " that is not a number");
  }
  return value;
}

}  // namespace

Result<std::string> ParseS3UploadId(std::string_view xml, const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml, source));
  const XmlElement* id = root.Child("UploadId");
  if (root.name != "InitiateMultipartUploadResult" || id == nullptr || id->text.empty()) {
    return S3XmlFieldError(source, "not an InitiateMultipartUploadResult with an UploadId");
  }
  return id->text;
}

Result<std::vector<S3ListedUpload>> ParseS3Uploads(std::string_view xml,
                                                   const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml, source));
  if (root.name != "ListMultipartUploadsResult") {
    return S3XmlFieldError(source, "not a ListMultipartUploadsResult");
  }
  std::vector<S3ListedUpload> uploads;
  for (const XmlElement& child : root.children) {
    if (child.name != "Upload") continue;
    const XmlElement* key = child.Child("Key");
    const XmlElement* id = child.Child("UploadId");
    if (key == nullptr || id == nullptr || key->text.empty() || id->text.empty()) {
      return S3XmlFieldError(source, "an Upload without its Key or UploadId");
    }
    uploads.push_back({key->text, id->text});
  }
  return uploads;
}

Result<std::vector<S3ListedPart>> ParseS3Parts(std::string_view xml, const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(XmlElement root, ParseXml(xml, source));
  if (root.name != "ListPartsResult") return S3XmlFieldError(source, "not a ListPartsResult");
  std::vector<S3ListedPart> parts;
  for (const XmlElement& child : root.children) {
    if (child.name != "Part") continue;
    S3ListedPart part;
    VREPO_ASSIGN_OR_RETURN(part.number,
                           S3XmlNumber<int>(child.Child("PartNumber"), source, "PartNumber"));
    VREPO_ASSIGN_OR_RETURN(part.size, S3XmlNumber<uint64_t>(child.Child("Size"), source, "Size"));
    const XmlElement* etag = child.Child("ETag");
    if (etag == nullptr || etag->text.empty())
      return S3XmlFieldError(source, "a Part without an ETag");
    part.etag = UnquoteETag(etag->text);
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace vrepo
