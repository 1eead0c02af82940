// JsonWriter: builds one compact JSON document in memory, for the CLI's --json output.
// Strings are escaped per RFC 8259; valid UTF-8 passes through, invalid bytes become U+FFFD
// so the document always parses. One JsonWriter belongs to one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vrepo {

class JsonWriter {
 public:
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // Inside an object: the key of the next value.
  JsonWriter& Key(std::string_view key);

  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  JsonWriter& Uint(uint64_t value);
  // Non-finite values (which JSON cannot express) are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();

  // The document so far; complete once every Begin has its End.
  const std::string& str() const { return out_; }

  // `value` as a quoted JSON string literal.
  static std::string Quote(std::string_view value);

 private:
  void BeforeValue();

  std::string out_;
  std::vector<bool> has_items_;  // one per open object/array: whether a comma is needed
  bool after_key_ = false;
};

}  // namespace vrepo
