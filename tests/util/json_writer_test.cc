#include "vrepo/util/json_writer.h"

#include <doctest/doctest.h>

#include <limits>

namespace vrepo {

TEST_CASE("JsonWriter nests objects and arrays with commas in the right places") {
  JsonWriter json;
  json.BeginObject();
  json.Key("a").Int(-1);
  json.Key("b").BeginArray().Uint(1).Uint(2).BeginObject().EndObject().BeginArray().EndArray();
  json.EndArray();
  json.Key("c").Bool(true);
  json.Key("d").Bool(false);
  json.Key("e").Null();
  json.Key("f").String("x");
  json.EndObject();
  CHECK(json.str() == R"({"a":-1,"b":[1,2,{},[]],"c":true,"d":false,"e":null,"f":"x"})");
}

TEST_CASE("JsonWriter escapes quotes, backslashes and every control character") {
  CHECK(JsonWriter::Quote("say \"hi\"\\") == R"("say \"hi\"\\")");
  CHECK(JsonWriter::Quote("a\nb\tc\rd\be\ff") == R"("a\nb\tc\rd\be\ff")");
  CHECK(JsonWriter::Quote(std::string("\x01\x1f\0", 3)) == R"("\u0001\u001f\u0000")");
  CHECK(JsonWriter::Quote("/ and \x7f pass") == "\"/ and \x7f pass\"");
}

TEST_CASE("JsonWriter passes UTF-8 through and replaces invalid bytes") {
  CHECK(JsonWriter::Quote("ünïcødé ✓ 𝄞") == "\"ünïcødé ✓ 𝄞\"");
  // A lone continuation byte, a truncated sequence, an overlong '/', and a surrogate.
  CHECK(JsonWriter::Quote("a\x80z") == R"("a\ufffdz")");
  CHECK(JsonWriter::Quote("\xe2\x9c") == R"("\ufffd\ufffd")");
  CHECK(JsonWriter::Quote("\xc0\xaf") == R"("\ufffd\ufffd")");
  CHECK(JsonWriter::Quote("\xed\xa0\x80") == R"("\ufffd\ufffd\ufffd")");
}

TEST_CASE("JsonWriter writes numbers exactly and non-finite doubles as null") {
  JsonWriter json;
  json.BeginArray()
      .Uint(std::numeric_limits<uint64_t>::max())
      .Int(std::numeric_limits<int64_t>::min())
      .Double(0.1)
      .Double(2.5)
      .Double(std::numeric_limits<double>::infinity())
      .Double(std::numeric_limits<double>::quiet_NaN())
      .EndArray();
  CHECK(json.str() == "[18446744073709551615,-9223372036854775808,0.1,2.5,null,null]");
}

TEST_CASE("JsonWriter escapes keys too") {
  JsonWriter json;
  json.BeginObject().Key("a\"b").String("v").EndObject();
  CHECK(json.str() == R"({"a\"b":"v"})");
}

}  // namespace vrepo
