#include "vrepo/dataset/label_table.h"

#include <doctest/doctest.h>

#include "vrepo/dataset/sample_digest.h"

namespace vrepo {
namespace {

LabelTable MustParse(std::string_view text, const std::string& source,
                     const TableOptions& options = {}) {
  auto t = ParseLabelTable(text, source, options);
  if (!t.ok()) FAIL(t.status().ToString());
  return std::move(t).value();
}

std::string ParseError(std::string_view text, const std::string& source,
                       const TableOptions& options = {}) {
  auto t = ParseLabelTable(text, source, options);
  REQUIRE_FALSE(t.ok());
  return t.status().message();
}

TEST_CASE("CSV: quoted fields, doubled quotes, embedded newlines, CRLF and extra columns") {
  LabelTable t = MustParse(
      "id,path,label,note\r\n"
      "1,a.png,coat,plain\r\n"
      "2,\"dir, with comma/b.png\",\"shirt \"\"v2\"\"\",\"two\nlines\"\r\n"
      "\r\n"
      "3,c d/ü.png,,x",
      "labels.csv");
  CHECK(t.format == TableFormat::kCsv);
  CHECK(t.header == "id,path,label,note");
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0].path == "a.png");
  CHECK(t.rows[0].label == "coat");
  CHECK(t.rows[0].line == 2);
  CHECK(t.rows[0].record == "1,a.png,coat,plain");
  CHECK(t.rows[1].path == "dir, with comma/b.png");
  CHECK(t.rows[1].label == "shirt \"v2\"");
  CHECK(t.rows[1].line == 3);
  CHECK(t.rows[2].path == "c d/ü.png");
  CHECK(t.rows[2].label.empty());  // parsing keeps it; `dataset check` reports it
  CHECK(t.rows[2].line == 6);
}

TEST_CASE("CSV: other column names by option, UTF-8 BOM skipped") {
  TableOptions o;
  o.path_column = "file";
  o.label_column = "class";
  LabelTable t = MustParse(
      "\xEF\xBB\xBF"
      "class,file\nbag,x.png\n",
      "t.csv", o);
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0].path == "x.png");
  CHECK(t.rows[0].label == "bag");
}

TEST_CASE("CSV: malformed tables name the file, the line and the problem") {
  CHECK(ParseError("path,label\na.png,coat\n\"b.png,shirt\nc.png,bag\n", "l.csv") ==
        "l.csv:3: unbalanced quote: a quoted field never closes");
  CHECK(ParseError("path,lbl\na.png,coat\n", "l.csv") ==
        "l.csv:1: missing column 'label' (columns: path, lbl)");
  CHECK(ParseError("path,label\na.png,coat\nb.png\n", "l.csv") ==
        "l.csv:3: 1 fields, but the header has 2");
  CHECK(ParseError("path,label\na.png,co\"at\n", "l.csv").find("l.csv:2: quote inside") == 0);
  CHECK(ParseError("path,label\n\"a.png\"x,coat\n", "l.csv").find("l.csv:2: text after") == 0);
  CHECK(ParseError("", "l.csv") == "l.csv: empty table (no header line)");
  CHECK(ParseError("path,label\na.png,caf\xE9\n", "l.csv") ==
        "l.csv:2: not valid UTF-8 (byte 0xE9); label tables must be UTF-8");
  CHECK(ParseError("\xFF\xFEp\0a\0", "l.csv") ==
        "l.csv: encoded as UTF-16; label tables must be UTF-8");
  CHECK(ParseError(std::string_view("path,label\na\0.png,x\n", 21), "l.csv") ==
        "l.csv:2: contains a NUL byte; label tables must be UTF-8 text");
  CHECK(ParseError("path,label\n", "l.txt").find("not a label table") != std::string::npos);
}

TEST_CASE("JSONL: string and integer labels, blank lines, records kept") {
  LabelTable t = MustParse(
      "{\"path\": \"a.png\", \"label\": \"coat\", \"by\": \"ann\"}\n"
      "\n"
      "{\"label\": 3, \"path\": \"b/ü.png\"}\r\n",
      "labels.jsonl");
  CHECK(t.format == TableFormat::kJsonl);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].label == "coat");
  CHECK(t.rows[0].record == "{\"path\": \"a.png\", \"label\": \"coat\", \"by\": \"ann\"}");
  CHECK(t.rows[1].path == "b/ü.png");
  CHECK(t.rows[1].label == "3");
  CHECK(t.rows[1].line == 3);
}

TEST_CASE("JSONL: malformed lines name the file, the line and the problem") {
  CHECK(ParseError("{\"path\":\"a\",\"label\":\"x\"}\n{\"path\": \"b\", \n", "l.jsonl")
            .find("l.jsonl:2: not JSON: ") == 0);
  CHECK(ParseError("[1,2]\n", "l.jsonl") == "l.jsonl:1: not a JSON object");
  CHECK(ParseError("{\"path\":\"a\"}\n", "l.jsonl") == "l.jsonl:1: no key 'label' (keys: path)");
  CHECK(ParseError("{\"file\":\"a\",\"class\":\"x\"}\n", "l.jsonl") ==
        "l.jsonl:1: no key 'path' (keys: class, file)");
  CHECK(ParseError("{\"path\":\"a\",\"label\":[1]}\n", "l.ndjson") ==
        "l.ndjson:1: key 'label' is not a string or an integer");
  CHECK(ParseError("{\"path\":\"a\",\"label\":\"\xC3\"}\n", "l.jsonl") ==
        "l.jsonl:1: not valid UTF-8 (byte 0xC3); label tables must be UTF-8");
}

TEST_CASE("Folder-per-class: the first folder under the table folder is the label") {
  std::vector<FileEntry> files;
  for (const char* p : {"README.md", "train/bag/1.png", "train/bag/sub/2.JPG", "train/coat/3.jpeg",
                        "train/coat/notes.txt", "train/loose.png", "val/coat/4.png"}) {
    files.push_back({p, ContentId::Of(p), 1, false});
  }
  CHECK(IsFolderInFiles(files, "train"));
  CHECK_FALSE(IsFolderInFiles(files, "tra"));
  LabelTable t = FolderTable(files, "train");
  REQUIRE(t.rows.size() == 3);
  CHECK(t.rows[0].path == "train/bag/1.png");
  CHECK(t.rows[0].label == "bag");
  CHECK(t.rows[1].path == "train/bag/sub/2.JPG");
  CHECK(t.rows[1].label == "bag");
  CHECK(t.rows[2].label == "coat");
  CHECK(FolderTable(files, "").rows.size() == 5);  // train/loose.png now has label "train"
}

TEST_CASE("Folder-per-class: a move that changes one folder name is a class move") {
  auto move = AsClassMove("photos/coat/x.jpg", "photos/shirt/x.jpg");
  REQUIRE(move);
  CHECK(move->table == "photos");
  CHECK(move->old_class == "coat");
  CHECK(move->new_class == "shirt");
  move = AsClassMove("coat/sub/x.PNG", "shirt/sub/x.PNG");
  REQUIRE(move);
  CHECK(move->table == ".");
  CHECK(move->new_class == "shirt");
  CHECK_FALSE(AsClassMove("photos/coat/x.jpg", "photos/coat/y.jpg"));      // file renamed
  CHECK_FALSE(AsClassMove("photos/coat/x.jpg", "photos/coat/x.jpg"));      // not moved
  CHECK_FALSE(AsClassMove("photos/coat/x.jpg", "photos/coat/new/x.jpg"));  // folder added
  CHECK_FALSE(AsClassMove("a/coat/x.jpg", "b/shirt/x.jpg"));               // two names changed
  CHECK_FALSE(AsClassMove("photos/coat/x.txt", "photos/shirt/x.txt"));     // not an image
  CHECK_FALSE(AsClassMove("x.jpg", "y/x.jpg"));
}

TEST_CASE("Serialize keeps untouched records and quotes new ones") {
  LabelTable t = MustParse("path,label,x\n\"a,b.png\",coat,1\n", "t.csv");
  t.rows.push_back({"new \"q\".png", "bag", 0, ""});
  CHECK(SerializeTable(t) == "path,label,x\n\"a,b.png\",coat,1\n\"new \"\"q\"\".png\",bag,\n");
  LabelTable back = MustParse(SerializeTable(t), "t.csv");
  CHECK(back.rows[1].path == "new \"q\".png");
  LabelTable j = MustParse("{\"path\":\"a\",\"label\":\"x\"}\n", "t.jsonl");
  j.rows.push_back({"b\n", "y", 0, ""});
  LabelTable jb = MustParse(SerializeTable(j), "t.jsonl");
  REQUIRE(jb.rows.size() == 2);
  CHECK(jb.rows[1].path == "b\n");
}

TEST_CASE("Sample digest: order-independent, sensitive to path, content and label") {
  ContentId a = ContentId::Of("a"), b = ContentId::Of("b");
  std::string d = SampleDigest({{"x.png", a, "coat"}, {"y.png", b, "bag"}});
  CHECK(d.size() == 64);
  CHECK(SampleDigest({{"y.png", b, "bag"}, {"x.png", a, "coat"}}) == d);
  CHECK(SampleDigest({{"x.png", a, "coat"}, {"y.png", b, "coat"}}) != d);
  CHECK(SampleDigest({{"x.png", b, "coat"}, {"y.png", b, "bag"}}) != d);
  CHECK(SampleDigest({{"x2.png", a, "coat"}, {"y.png", b, "bag"}}) != d);
  // Length prefixes keep ("ab","c") and ("a","bc") apart.
  CHECK(SampleDigest({{"ab", a, "c"}}) != SampleDigest({{"a", a, "bc"}}));
  CHECK(SampleDigest({}) == ContentId::Of("vrepo-sample-digest-v1\n").Hex());
}

}  // namespace
}  // namespace vrepo
