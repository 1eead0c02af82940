// Shared check for the label-table fuzz targets: parsing arbitrary text either fails with a
// message that names the source, or yields rows that survive SerializeTable and a second parse
// unchanged (path, label, in order). Any violation aborts, which libFuzzer reports as a crash.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vrepo/dataset/label_table.h"

namespace vrepo::fuzz {

using ParseFn = Result<LabelTable> (*)(std::string_view, const std::string&, const TableOptions&);

inline int CheckTableParser(ParseFn parse, const std::string& source, const uint8_t* data,
                            size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const TableOptions options;
  auto table = parse(text, source, options);
  if (!table.ok()) {
    if (table.status().message().rfind(source + ":", 0) != 0) std::abort();
    return 0;
  }
  uint64_t last_line = 0;
  for (const LabelRow& row : table->rows) {
    if (row.line <= last_line) std::abort();  // rows in file order, each on its own line
    last_line = row.line;
  }
  const std::string again_text = SerializeTable(*table);
  auto again = parse(again_text, source, options);
  if (!again.ok() || again->rows.size() != table->rows.size()) std::abort();
  for (size_t i = 0; i < table->rows.size(); ++i) {
    if (again->rows[i].path != table->rows[i].path) std::abort();
    if (again->rows[i].label != table->rows[i].label) std::abort();
  }
  return 0;
}

}  // namespace vrepo::fuzz
