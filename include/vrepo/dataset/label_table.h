// Label tables: which image carries which label. A table is a CSV file (RFC 4180, with a
// header), a JSONL file (one JSON object a line), or a folder-per-class layout
// (FOLDER/class/file.png). Parsing is pure: bytes in, rows or an error naming file, line and
// problem out. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vrepo/history/history.h"
#include "vrepo/util/status.h"

namespace vrepo {

enum class TableFormat { kCsv, kJsonl, kFolder };
const char* TableFormatName(TableFormat format);

struct TableOptions {
  std::string path_column = "path";    // column (CSV) or key (JSONL) holding the image path
  std::string label_column = "label";  // column or key holding the label
};

struct LabelRow {
  std::string path;   // relative to the repository root, '/'-separated
  std::string label;  // may be empty: checks report it, parsing does not reject it
  uint64_t line = 0;  // 1-based line where the record starts (CSV header is line 1); 0 for folders
  // The record's own text without its line end, so rewriting a table (split, merge) keeps
  // the columns vrepo does not read.
  std::string record;
};

struct LabelTable {
  std::string source;  // the table's path, for messages
  TableFormat format = TableFormat::kCsv;
  std::string header;                      // CSV: the header line's text; otherwise empty
  std::vector<std::string> header_fields;  // CSV: the header's column names
  TableOptions columns;                    // the path and label column names it was read with
  std::vector<LabelRow> rows;              // in file order
};

// The format a table file's name implies: .csv, .jsonl or .ndjson. InvalidArgument otherwise.
Result<TableFormat> TableFormatForPath(const std::string& path);

// Parses a CSV or JSONL table (format from `source`'s extension). A UTF-8 byte order mark
// is skipped; any other encoding is refused. Errors read "SOURCE:LINE: problem".
Result<LabelTable> ParseLabelTable(std::string_view text, const std::string& source,
                                   const TableOptions& options);
Result<LabelTable> ParseCsvTable(std::string_view text, const std::string& source,
                                 const TableOptions& options);
Result<LabelTable> ParseJsonlTable(std::string_view text, const std::string& source,
                                   const TableOptions& options);

// True for the names of images a dataset holds: .png, .jpg, .jpeg, any case.
bool IsImageName(std::string_view name);

// The folder-per-class table of `folder` ("" = the root): every image file (.png, .jpg,
// .jpeg, any case) at FOLDER/CLASS/.../NAME gets label CLASS. `files` sorted by path.
LabelTable FolderTable(const std::vector<FileEntry>& files, const std::string& folder);
// True when some file lies under `folder`/.
bool IsFolderInFiles(const std::vector<FileEntry>& files, const std::string& folder);

// An image of a folder-per-class table moved to another class folder:
// TABLE/OLD/REST -> TABLE/NEW/REST.
struct ClassMove {
  std::string table;  // the table folder, "." for the root (as FolderTable names it)
  std::string old_class, new_class;
};
// `from` -> `to` read as a class move: both name an image and differ in exactly one folder
// name (never the file name), which is the class; the folders above it are the table.
// nullopt otherwise.
std::optional<ClassMove> AsClassMove(std::string_view from, std::string_view to);

// One CSV record (no line end) of `fields`, quoted as SerializeTable quotes them (RFC 4180:
// a field holding a comma, quote or line end is quoted, its quotes doubled).
std::string CsvLine(const std::vector<std::string>& fields);

// The table's text: the header (CSV) then one record per row, each ending in '\n'.
// Rows without a record (built in memory) are written from path and label.
std::string SerializeTable(const LabelTable& table);

}  // namespace vrepo
