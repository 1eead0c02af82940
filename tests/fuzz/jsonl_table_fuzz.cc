// Fuzz target: ParseJsonlTable on arbitrary text, then a serialize/parse round trip.
#include "table_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vrepo::fuzz::CheckTableParser(&vrepo::ParseJsonlTable, "t.jsonl", data, size);
}
