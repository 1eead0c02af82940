#include "vrepo/dataset/label_table.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace vrepo {
namespace {

std::string At(const std::string& source, uint64_t line) {
  return source + ":" + std::to_string(line) + ": ";
}

bool EndsWithNoCase(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.begin(), suffix.end(), s.end() - suffix.size(),
                    [](char a, char b) { return std::tolower(a) == std::tolower(b); });
}

// Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one.
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  unsigned char c = p[0];
  size_t n;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    min = 0x10000;
  } else
    return 0;
  if (static_cast<size_t>(end - p) < n) return 0;
  uint32_t cp = c & (0x7F >> n);
  for (size_t i = 1; i < n; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

// Strips a UTF-8 byte order mark; refuses UTF-16/32 and any byte sequence that is not UTF-8,
// naming the line, since a table in another encoding would silently yield wrong paths.
Status CheckEncoding(std::string_view* text, const std::string& source) {
  auto starts = [&](std::string_view magic) { return text->substr(0, magic.size()) == magic; };
  if (starts("\xEF\xBB\xBF")) text->remove_prefix(3);
  if (starts("\xFF\xFE") || starts("\xFE\xFF")) {
    return Status::InvalidArgument(source + ": encoded as UTF-16; label tables must be UTF-8");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(text->data());
  const auto* end = p + text->size();
  uint64_t line = 1;
  while (p < end) {
    if (*p < 0x80) {
      if (*p == '\n') ++line;
      if (*p == 0) {
        return Status::InvalidArgument(At(source, line) +
                                       "contains a NUL byte; label tables must be UTF-8 text");
      }
      ++p;
      continue;
    }
    size_t n = Utf8SequenceLength(p, end);
    if (n == 0) {
      char hex[8];
      snprintf(hex, sizeof(hex), "0x%02X", *p);
      return Status::InvalidArgument(At(source, line) + "not valid UTF-8 (byte " + hex +
                                     "); label tables must be UTF-8");
    }
    p += n;
  }
  return Status::OK();
}

struct CsvRecord {
  std::vector<std::string> fields;
  std::string_view text;  // without the line end
  uint64_t line = 0;
};

// Reads one RFC 4180 record starting at *pos. Returns false at end of input.
Result<bool> NextCsvRecord(std::string_view text, size_t* pos, uint64_t* line,
                           const std::string& source, CsvRecord* record) {
  // Blank lines (often a trailing one) carry no record.
  while (*pos < text.size() && (text[*pos] == '\n' || text[*pos] == '\r')) {
    if (text[*pos] == '\n') ++*line;
    ++*pos;
  }
  if (*pos >= text.size()) return false;
  record->fields.clear();
  record->line = *line;
  const size_t start = *pos;
  size_t i = start;
  std::string field;
  while (true) {
    field.clear();
    if (i < text.size() && text[i] == '"') {
      const uint64_t open_line = *line;
      ++i;
      while (true) {
        size_t q = text.find('"', i);
        if (q == std::string_view::npos) {
          return Status::InvalidArgument(At(source, open_line) +
                                         "unbalanced quote: a quoted field never closes");
        }
        field.append(text.substr(i, q - i));
        *line += std::count(text.begin() + i, text.begin() + q, '\n');
        i = q + 1;
        if (i < text.size() && text[i] == '"') {
          field.push_back('"');
          ++i;
          continue;
        }
        break;
      }
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
        return Status::InvalidArgument(At(source, *line) +
                                       "text after a closing quote (quotes inside a field are "
                                       "written \"\")");
      }
    } else {
      size_t j = i;
      while (j < text.size() && text[j] != ',' && text[j] != '\n' && text[j] != '\r') {
        if (text[j] == '"') {
          return Status::InvalidArgument(At(source, *line) +
                                         "quote inside an unquoted field (quote the field and "
                                         "write the quote as \"\")");
        }
        ++j;
      }
      field.assign(text.substr(i, j - i));
      i = j;
    }
    record->fields.push_back(std::move(field));
    if (i < text.size() && text[i] == ',') {
      ++i;
      continue;
    }
    break;
  }
  size_t end = i;
  if (i < text.size() && text[i] == '\r') ++i;
  if (i < text.size()) {
    if (text[i] != '\n') {
      return Status::InvalidArgument(At(source, *line) + "carriage return inside a record");
    }
    ++i;
    ++*line;
  }
  record->text = text.substr(start, end - start);
  *pos = i;
  return true;
}

std::string ColumnList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool NeedsQuotes(std::string_view field) {
  return field.find_first_of(",\"\r\n") != std::string_view::npos;
}

void AppendCsvField(std::string* out, std::string_view field) {
  if (!NeedsQuotes(field)) {
    out->append(field);
    return;
  }
  out->push_back('"');
  for (char c : field) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace

bool IsImageName(std::string_view name) {
  return EndsWithNoCase(name, ".png") || EndsWithNoCase(name, ".jpg") ||
         EndsWithNoCase(name, ".jpeg");
}

const char* TableFormatName(TableFormat format) {
  switch (format) {
    case TableFormat::kCsv:
      return "csv";
    case TableFormat::kJsonl:
      return "jsonl";
    case TableFormat::kFolder:
      return "folder";
  }
  return "?";
}

Result<TableFormat> TableFormatForPath(const std::string& path) {
  if (EndsWithNoCase(path, ".csv")) return TableFormat::kCsv;
  if (EndsWithNoCase(path, ".jsonl") || EndsWithNoCase(path, ".ndjson")) {
    return TableFormat::kJsonl;
  }
  return Status::InvalidArgument(path +
                                 ": not a label table (expected .csv, .jsonl or .ndjson, "
                                 "or a folder of class folders)");
}

Result<LabelTable> ParseLabelTable(std::string_view text, const std::string& source,
                                   const TableOptions& options) {
  VREPO_ASSIGN_OR_RETURN(TableFormat format, TableFormatForPath(source));
  if (format == TableFormat::kCsv) return ParseCsvTable(text, source, options);
  return ParseJsonlTable(text, source, options);
}

Result<LabelTable> ParseCsvTable(std::string_view text, const std::string& source,
                                 const TableOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckEncoding(&text, source));
  LabelTable table;
  table.source = source;
  table.format = TableFormat::kCsv;
  size_t pos = 0;
  uint64_t line = 1;
  CsvRecord record;
  VREPO_ASSIGN_OR_RETURN(bool has_header, NextCsvRecord(text, &pos, &line, source, &record));
  if (!has_header) return Status::InvalidArgument(source + ": empty table (no header line)");
  const std::vector<std::string> columns = record.fields;
  table.header = std::string(record.text);
  table.header_fields = columns;
  table.columns = options;
  auto column_index = [&](const std::string& name) -> Result<size_t> {
    auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) {
      return Status::InvalidArgument(At(source, record.line) + "missing column '" + name +
                                     "' (columns: " + ColumnList(columns) + ")");
    }
    return static_cast<size_t>(it - columns.begin());
  };
  VREPO_ASSIGN_OR_RETURN(size_t path_index, column_index(options.path_column));
  VREPO_ASSIGN_OR_RETURN(size_t label_index, column_index(options.label_column));
  while (true) {
    VREPO_ASSIGN_OR_RETURN(bool more, NextCsvRecord(text, &pos, &line, source, &record));
    if (!more) break;
    if (record.fields.size() != columns.size()) {
      return Status::InvalidArgument(
          At(source, record.line) + std::to_string(record.fields.size()) +
          " fields, but the header has " + std::to_string(columns.size()));
    }
    LabelRow row;
    row.path = std::move(record.fields[path_index]);
    row.label = std::move(record.fields[label_index]);
    row.line = record.line;
    row.record = std::string(record.text);
    table.rows.push_back(std::move(row));
  }
  return table;
}

Result<LabelTable> ParseJsonlTable(std::string_view text, const std::string& source,
                                   const TableOptions& options) {
  VREPO_RETURN_IF_ERROR(CheckEncoding(&text, source));
  LabelTable table;
  table.source = source;
  table.format = TableFormat::kJsonl;
  table.columns = options;
  uint64_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view record = text.substr(pos, end - pos);
    pos = end + 1;
    ++line;
    if (!record.empty() && record.back() == '\r') record.remove_suffix(1);
    if (record.find_first_not_of(" \t") == std::string_view::npos) continue;
    nlohmann::json value;
    try {
      value = nlohmann::json::parse(record);
    } catch (const nlohmann::json::exception& e) {
      std::string what = e.what();
      // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column N: ".
      if (auto colon = what.find("column"); colon != std::string::npos) what = what.substr(colon);
      return Status::InvalidArgument(At(source, line) + "not JSON: " + what);
    }
    if (!value.is_object()) {
      return Status::InvalidArgument(At(source, line) + "not a JSON object");
    }
    auto field = [&](const std::string& key, std::string* out) -> Status {
      auto it = value.find(key);
      if (it == value.end()) {
        std::vector<std::string> keys;
        for (const auto& item : value.items()) keys.push_back(item.key());
        return Status::InvalidArgument(At(source, line) + "no key '" + key +
                                       "' (keys: " + ColumnList(keys) + ")");
      }
      if (it->is_string()) {
        *out = it->get<std::string>();
      } else if (it->is_number_integer()) {
        *out = it->dump();
      } else {
        return Status::InvalidArgument(At(source, line) + "key '" + key +
                                       "' is not a string or an integer");
      }
      return Status::OK();
    };
    LabelRow row;
    VREPO_RETURN_IF_ERROR(field(options.path_column, &row.path));
    VREPO_RETURN_IF_ERROR(field(options.label_column, &row.label));
    row.line = line;
    row.record = std::string(record);
    table.rows.push_back(std::move(row));
  }
  return table;
}

bool IsFolderInFiles(const std::vector<FileEntry>& files, const std::string& folder) {
  if (folder.empty()) return !files.empty();
  const std::string prefix = folder + "/";
  auto it = std::lower_bound(files.begin(), files.end(), prefix,
                             [](const FileEntry& f, const std::string& p) { return f.path < p; });
  return it != files.end() && it->path.compare(0, prefix.size(), prefix) == 0;
}

LabelTable FolderTable(const std::vector<FileEntry>& files, const std::string& folder) {
  LabelTable table;
  table.source = folder.empty() ? "." : folder;
  table.format = TableFormat::kFolder;
  const std::string prefix = folder.empty() ? "" : folder + "/";
  auto it = std::lower_bound(files.begin(), files.end(), prefix,
                             [](const FileEntry& f, const std::string& p) { return f.path < p; });
  for (; it != files.end() && it->path.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string_view rest = std::string_view(it->path).substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || !IsImageName(rest)) continue;
    LabelRow row;
    row.path = it->path;
    row.label = std::string(rest.substr(0, slash));
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::optional<ClassMove> AsClassMove(std::string_view from, std::string_view to) {
  if (!IsImageName(from) || !IsImageName(to)) return std::nullopt;
  // The longest common prefix and suffix, each ending (or starting) at a '/'.
  size_t head = 0;
  for (size_t i = 0; i < from.size() && i < to.size() && from[i] == to[i]; ++i) {
    if (from[i] == '/') head = i + 1;
  }
  size_t tail = 0;
  for (size_t i = 1;
       i <= from.size() && i <= to.size() && from[from.size() - i] == to[to.size() - i]; ++i) {
    if (from[from.size() - i] == '/') tail = i;
  }
  if (tail == 0 || head + tail >= from.size() || head + tail >= to.size()) return std::nullopt;
  std::string_view old_class = from.substr(head, from.size() - head - tail);
  std::string_view new_class = to.substr(head, to.size() - head - tail);
  if (old_class.find('/') != std::string_view::npos ||
      new_class.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  std::string table = head == 0 ? "." : std::string(from.substr(0, head - 1));
  return ClassMove{std::move(table), std::string(old_class), std::string(new_class)};
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvField(&out, fields[i]);
  }
  return out;
}

std::string SerializeTable(const LabelTable& table) {
  std::string out;
  if (table.format == TableFormat::kJsonl) {
    for (const auto& row : table.rows) {
      if (!row.record.empty()) {
        out += row.record;
      } else {
        nlohmann::json record = nlohmann::json::object();
        record[table.columns.path_column] = row.path;
        record[table.columns.label_column] = row.label;
        out += record.dump();
      }
      out.push_back('\n');
    }
    return out;
  }
  std::vector<std::string> fields = table.header_fields;
  if (fields.empty()) fields = {table.columns.path_column, table.columns.label_column};
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendCsvField(&out, fields[i]);
  }
  out.push_back('\n');
  for (const auto& row : table.rows) {
    if (!row.record.empty()) {
      out += row.record;
    } else {
      // A row made in memory: its path and label in their columns, the others empty.
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i > 0) out.push_back(',');
        if (fields[i] == table.columns.path_column) {
          AppendCsvField(&out, row.path);
        } else if (fields[i] == table.columns.label_column) {
          AppendCsvField(&out, row.label);
        }
      }
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace vrepo
