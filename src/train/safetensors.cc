#include "vrepo/train/safetensors.h"

#include <torch/utils.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "vrepo/util/file.h"
#include "vrepo/util/text.h"

namespace vrepo::train {
namespace {

// The compiler's macro rather than std::endian: the fuzz build compiles this file as C++17
// (tests/fuzz/CMakeLists.txt).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

using json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64},   {"F32", torch::kFloat32}, {"F16", torch::kFloat16},
    {"BF16", torch::kBFloat16}, {"I64", torch::kInt64},   {"I32", torch::kInt32},
    {"I16", torch::kInt16},     {"I8", torch::kInt8},     {"U8", torch::kUInt8},
    {"BOOL", torch::kBool},
};

const DtypeInfo* FindDtype(std::string_view name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string ShapeString(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// A safetensors header nests three deep (header, entry, shape); this leaves room for extra
// fields other writers add.
constexpr int kMaxHeaderDepth = 16;

// nlohmann's parser keeps a stack entry per open bracket, callback or not, so 100 MiB of '['
// would cost gigabytes before anything could refuse it.
Status CheckHeaderDepth(std::string_view text, const std::string& source) {
  size_t at = JsonNestingPastLimit(text, kMaxHeaderDepth);
  if (at == std::string_view::npos) return Status::OK();
  return Status::Corruption(source + ": safetensors header nests deeper than " +
                            std::to_string(kMaxHeaderDepth) + " levels (at byte " +
                            std::to_string(8 + at) + ")");
}

// The safetensors name of `type`, else torch's.
std::string DtypeName(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  return c10::toString(type);
}

// Between floating types a checkpoint only changes precision (F16 weights into an F32 model);
// any other difference (I32 bytes where the model has floats) means the file is not what the
// model expects, and converting would load garbage silently.
bool CompatibleDtypes(torch::ScalarType file, torch::ScalarType model) {
  return file == model || (c10::isFloatingType(file) && c10::isFloatingType(model));
}

// Collects the names of the top-level keys as the parser meets them, because nlohmann's
// object keeps only the last of two equal keys and a duplicate must be an error.
Result<json> ParseHeaderJson(std::string_view text, const std::string& source) {
  std::set<std::string> seen;
  std::string duplicate;
  json::parser_callback_t callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string()) {
      auto key = parsed.get<std::string>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  VREPO_RETURN_IF_ERROR(CheckHeaderDepth(text, source));
  json header;
  try {
    header = json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    return Status::Corruption(source + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!duplicate.empty()) {
    return Status::Corruption(source + ": safetensors header names tensor '" + duplicate +
                              "' twice");
  }
  if (!header.is_object()) {
    return Status::Corruption(source + ": safetensors header is not a JSON object");
  }
  return header;
}

struct Entry {
  std::string name;
  const DtypeInfo* dtype;
  std::vector<int64_t> shape;
  uint64_t begin;
  uint64_t end;
};

Result<Entry> ParseEntry(const std::string& name, const json& value, uint64_t data_size,
                         const std::string& source) {
  auto bad = [&](const std::string& why) {
    return Status::Corruption(source + ": tensor '" + name + "': " + why);
  };
  if (!value.is_object()) return bad("entry is not a JSON object");
  auto dtype_it = value.find("dtype");
  auto shape_it = value.find("shape");
  auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string()) return bad("missing string 'dtype'");
  if (shape_it == value.end() || !shape_it->is_array()) return bad("missing array 'shape'");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
    return bad("'data_offsets' is not a pair of non-negative integers");
  }
  Entry e;
  e.name = name;
  const auto& dtype_name = dtype_it->get_ref<const std::string&>();
  e.dtype = FindDtype(dtype_name);
  if (e.dtype == nullptr) return bad("unknown dtype '" + dtype_name + "'");
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_unsigned()) return bad("shape holds something other than a size");
    uint64_t d = dim.get<uint64_t>();
    if (d > static_cast<uint64_t>(INT64_MAX)) {
      return bad("shape " + shape_it->dump() + " is larger than the file");
    }
    e.shape.push_back(static_cast<int64_t>(d));
  }
  // The byte count must not wrap around 2^64 onto the span the file gives. An empty tensor
  // may have any other sizes.
  uint64_t expected = 0;
  if (std::find(e.shape.begin(), e.shape.end(), 0) == e.shape.end()) {
    expected = c10::elementSize(e.dtype->type);
    for (int64_t d : e.shape) {
      if (__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected)) {
        return bad("shape " + shape_it->dump() + " is larger than the file");
      }
    }
  }
  e.begin = (*offsets_it)[0].get<uint64_t>();
  e.end = (*offsets_it)[1].get<uint64_t>();
  if (e.begin > e.end) {
    return bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
               "] run backwards");
  }
  if (e.end > data_size) {
    return bad("data_offsets end " + std::to_string(e.end) + " is beyond the " +
               std::to_string(data_size) + " data bytes");
  }
  if (e.end - e.begin != expected) {
    return bad("data_offsets span " + std::to_string(e.end - e.begin) + " bytes but " +
               std::string(e.dtype->name) + " " + shape_it->dump() + " needs " +
               std::to_string(expected));
  }
  return e;
}

}  // namespace

Result<SafetensorsFile> ParseSafetensors(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8) {
    return Status::Corruption(source + ": " + std::to_string(bytes.size()) +
                              " bytes, too short for the 8-byte safetensors header length");
  }
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  if (header_len > kMaxSafetensorsHeader) {
    return Status::Corruption(source + ": safetensors header length " + std::to_string(header_len) +
                              " is above the limit of " + std::to_string(kMaxSafetensorsHeader) +
                              " bytes");
  }
  if (header_len > bytes.size() - 8) {
    return Status::Corruption(source + ": safetensors header length " + std::to_string(header_len) +
                              " goes beyond the file size " + std::to_string(bytes.size()));
  }
  VREPO_ASSIGN_OR_RETURN(json header, ParseHeaderJson(bytes.substr(8, header_len), source));
  std::string_view data = bytes.substr(8 + header_len);

  SafetensorsFile file;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) {
        return Status::Corruption(source + ": safetensors __metadata__ is not a JSON object");
      }
      for (const auto& [key, v] : value.items()) {
        if (!v.is_string()) {
          return Status::Corruption(source + ": safetensors metadata '" + key +
                                    "' is not a string");
        }
        file.metadata[key] = v.get<std::string>();
      }
      continue;
    }
    VREPO_ASSIGN_OR_RETURN(Entry e, ParseEntry(name, value, data.size(), source));
    entries.push_back(std::move(e));
  }

  // Two tensors may not share bytes: a writer that did so has lost one of them.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->begin, a->end) < std::tie(b->begin, b->end);
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry* prev = by_offset[i - 1];
    const Entry* cur = by_offset[i];
    if (cur->begin < prev->end) {
      return Status::Corruption(source + ": tensors '" + prev->name + "' and '" + cur->name +
                                "' overlap in the data (offsets " + std::to_string(cur->begin) +
                                " < " + std::to_string(prev->end) + ")");
    }
  }

  try {
    for (const auto& e : entries) {
      torch::Tensor t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
      if (e.end > e.begin) std::memcpy(t.data_ptr(), data.data() + e.begin, e.end - e.begin);
      file.tensors.emplace(e.name, std::move(t));
    }
  } catch (const std::exception& ex) {
    return Status::IOError(source + ": cannot allocate tensors: " + ex.what());
  }
  return file;
}

Result<SafetensorsFile> ReadSafetensors(const std::string& path) {
  // Mapped rather than read, so a large checkpoint is held once (in its tensors), not twice.
  VREPO_ASSIGN_OR_RETURN(MappedFile file, MappedFile::Open(path));
  return ParseSafetensors(file.data(), path);
}

Result<std::string> SafetensorsDtypeName(torch::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return std::string(d.name);
  }
  return Status::InvalidArgument(std::string("safetensors has no dtype for torch ") +
                                 c10::toString(type));
}

Result<std::string> SerializeSafetensors(const TensorMap& tensors,
                                         const std::map<std::string, std::string>& metadata) {
  try {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<torch::Tensor> contiguous;
    uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
      if (name == "__metadata__") {
        return Status::InvalidArgument("safetensors: '__metadata__' cannot name a tensor");
      }
      if (!tensor.defined()) {
        return Status::InvalidArgument("safetensors: tensor '" + name + "' is undefined");
      }
      auto dtype = SafetensorsDtypeName(tensor.scalar_type());
      if (!dtype.ok()) return dtype.status().WithContext("tensor '" + name + "'");
      torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
      uint64_t size = t.numel() * t.element_size();
      header[name] = {
          {"dtype", *dtype}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + size}}};
      offset += size;
      contiguous.push_back(std::move(t));
    }
    std::string text = header.dump();
    // Padding keeps the data 8-byte aligned for readers that map the file.
    text.append((8 - text.size() % 8) % 8, ' ');
    std::string out;
    out.reserve(8 + text.size() + offset);
    uint64_t len = text.size();
    out.append(reinterpret_cast<const char*>(&len), 8);
    out += text;
    for (const auto& t : contiguous) {
      out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    }
    return out;
  } catch (const std::exception& ex) {
    return Status::InvalidArgument(std::string("safetensors: cannot serialize: ") + ex.what());
  }
}

Status WriteSafetensors(const std::string& path, const TensorMap& tensors,
                        const std::map<std::string, std::string>& metadata) {
  auto bytes = SerializeSafetensors(tensors, metadata);
  if (!bytes.ok()) return bytes.status().WithContext(path);
  return WriteFileAtomic(path, *bytes);
}

TensorMap StateDict(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.emplace(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    out.emplace(item.key(), item.value());
  }
  return out;
}

Status LoadStateDict(torch::nn::Module& module, const TensorMap& tensors, const std::string& source,
                     const LoadStateOptions& options) {
  auto skipped = [&](const std::string& name) {
    for (const auto& prefix : options.skip_prefixes) {
      if (name.compare(0, prefix.size(), prefix) == 0) return true;
    }
    return false;
  };
  TensorMap model = StateDict(module);
  std::vector<std::string> problems;
  std::vector<std::string> missing;
  std::vector<std::string> unexpected;
  for (const auto& [name, t] : tensors) {
    if (skipped(name)) continue;
    auto it = model.find(name);
    if (it == model.end()) {
      unexpected.push_back("'" + name + "'");
    } else if (it->second.sizes() != t.sizes()) {
      problems.push_back("shape mismatch for '" + name + "': file has " + ShapeString(t.sizes()) +
                         ", model has " + ShapeString(it->second.sizes()));
    } else if (!CompatibleDtypes(t.scalar_type(), it->second.scalar_type())) {
      problems.push_back("dtype mismatch for '" + name + "': file has " +
                         DtypeName(t.scalar_type()) + ", model has " +
                         DtypeName(it->second.scalar_type()));
    }
  }
  if (options.require_all) {
    for (const auto& [name, t] : model) {
      if (!skipped(name) && !tensors.count(name)) missing.push_back("'" + name + "'");
    }
  }
  // A long list helps nobody on one line: name a few and count the rest.
  auto summarize = [](const std::string& what, const std::vector<std::string>& names) {
    constexpr size_t kShown = 5;
    std::string s = what;
    for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : " ") + names[i];
    if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
    return s;
  };
  if (!missing.empty()) problems.push_back(summarize("missing from the file:", missing));
  if (!unexpected.empty()) problems.push_back(summarize("not in the model:", unexpected));
  if (!problems.empty()) {
    std::string msg = source + ": weights do not fit the model: ";
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    return Status::InvalidArgument(msg);
  }
  try {
    torch::NoGradGuard no_grad;
    for (const auto& [name, t] : tensors) {
      if (skipped(name)) continue;
      model.at(name).copy_(t);
    }
  } catch (const std::exception& ex) {
    return Status::InvalidArgument(source + ": cannot copy weights into the model: " + ex.what());
  }
  return Status::OK();
}

}  // namespace vrepo::train
