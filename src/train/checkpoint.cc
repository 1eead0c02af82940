#include "vrepo/train/checkpoint.h"

#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>

#include <cctype>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "vrepo/store/content_id.h"
#include "vrepo/train/models.h"
#include "vrepo/train/preprocess.h"
#include "vrepo/util/file.h"

namespace vrepo::train {
namespace {

// --- A restricted unpickler -------------------------------------------------------------
//
// libtorch 1.13's own torch::jit::Unpickler cannot read a torchvision state_dict: it turns
// every collections.OrderedDict into None (so SETITEMS on the state dict fails) and has no
// SETITEM opcode. This one understands exactly what torch.save writes for a state_dict and
// nothing else: a global outside the list below is refused when the GLOBAL opcode names it,
// so nothing a file names is ever looked up, constructed or called. The zip container is
// read with libtorch's PyTorchStreamReader.

struct Value;
using Ref = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor
  };
  Kind kind = Kind::kNone;
  int64_t i = 0;              // kBool, kInt; kStorage: its index in Unpickler::storages
  double f = 0;               // kFloat
  std::string s;              // kString; kGlobal: "module.name"
  std::vector<Ref> items;     // kTuple, kList; kDict: key, value, key, value, ...
  torch::ScalarType dtype{};  // kGlobal of a storage type
  // kTensor: items[0] is the storage.
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

Ref Make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

// The globals a state_dict pickle may name.
constexpr const char* kOrderedDict = "collections.OrderedDict";
constexpr const char* kRebuildTensor = "torch._utils._rebuild_tensor_v2";
const std::map<std::string, torch::ScalarType>& StorageTypes() {
  static const auto* types = new std::map<std::string, torch::ScalarType>{
      {"torch.DoubleStorage", torch::kFloat64}, {"torch.FloatStorage", torch::kFloat32},
      {"torch.HalfStorage", torch::kFloat16},   {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},     {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},    {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},     {"torch.BoolStorage", torch::kBool},
  };
  return *types;
}

struct StorageRef {
  std::string key;
  torch::ScalarType dtype{};
  int64_t numel = 0;
};

class Unpickler {
 public:
  Unpickler(std::string_view bytes, size_t pos, const std::string& source)
      : in_(bytes), pos_(pos), source_(source) {}

  // Runs one pickle up to its STOP; its value, or the error.
  Result<Ref> Run();
  size_t position() const { return pos_; }
  std::vector<StorageRef>& storages() { return storages_; }

 private:
  Status Bad(const std::string& what) const {
    return Status::Corruption(source_ + ": pickle: " + what + " at byte " +
                              std::to_string(op_pos_));
  }
  Status Truncated() const { return Status::Corruption(source_ + ": truncated pickle"); }
  bool Take(size_t n, std::string_view* out) {
    if (in_.size() - pos_ < n) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool TakeInt(T* out) {
    std::string_view b;
    if (!Take(sizeof(T), &b)) return false;
    std::memcpy(out, b.data(), sizeof(T));  // little-endian, as x86 and arm64 are
    return true;
  }
  bool TakeLine(std::string* out) {
    size_t nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos || nl - pos_ > 256) return false;
    out->assign(in_.substr(pos_, nl - pos_));
    pos_ = nl + 1;
    return true;
  }
  Result<Ref> Pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) {
      return Bad("stack underflow");
    }
    Ref v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  // The values since the last MARK, which is removed.
  Result<std::vector<Ref>> PopMark() {
    if (marks_.empty()) return Bad("no MARK");
    size_t start = marks_.back();
    marks_.pop_back();
    std::vector<Ref> out(std::make_move_iterator(stack_.begin() + static_cast<long>(start)),
                         std::make_move_iterator(stack_.end()));
    stack_.resize(start);
    return out;
  }
  Status Global(const std::string& module, const std::string& name);
  Status Reduce();
  Status PersistentId();

  std::string_view in_;
  size_t pos_;
  size_t op_pos_ = 0;
  const std::string& source_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, Ref> memo_;
  std::vector<StorageRef> storages_;
  std::map<std::string, size_t> storage_index_;
};

Status Unpickler::Global(const std::string& module, const std::string& name) {
  const std::string full = module + "." + name;
  Ref g = Make(Value::Kind::kGlobal);
  g->s = full;
  auto storage = StorageTypes().find(full);
  if (storage != StorageTypes().end()) {
    g->dtype = storage->second;
  } else if (full != kOrderedDict && full != kRebuildTensor) {
    return Status::InvalidArgument(
        source_ + ": refusing pickle global '" + full +
        "': a state_dict holds only tensors, dicts, lists, numbers and strings");
  }
  stack_.push_back(std::move(g));
  return Status::OK();
}

Status Unpickler::Reduce() {
  VREPO_ASSIGN_OR_RETURN(Ref args, Pop());
  VREPO_ASSIGN_OR_RETURN(Ref fn, Pop());
  if (fn->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple) {
    return Bad("REDUCE of something not callable");
  }
  const std::vector<Ref>& a = args->items;
  if (fn->s == kOrderedDict) {
    if (!a.empty()) return Bad("OrderedDict with arguments");
    stack_.push_back(Make(Value::Kind::kDict));
    return Status::OK();
  }
  if (fn->s != kRebuildTensor) return Bad("cannot call '" + fn->s + "'");
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
  // [, metadata])
  if (a.size() < 6 || a.size() > 7 || a[0]->kind != Value::Kind::kStorage ||
      a[1]->kind != Value::Kind::kInt || a[2]->kind != Value::Kind::kTuple ||
      a[3]->kind != Value::Kind::kTuple || a[2]->items.size() != a[3]->items.size() ||
      a[2]->items.size() > 16) {
    return Bad("malformed tensor");
  }
  Ref t = Make(Value::Kind::kTensor);
  t->items = {a[0]};
  t->offset = a[1]->i;
  for (size_t d = 0; d < a[2]->items.size(); ++d) {
    const Ref& size = a[2]->items[d];
    const Ref& stride = a[3]->items[d];
    if (size->kind != Value::Kind::kInt || stride->kind != Value::Kind::kInt || size->i < 0 ||
        stride->i < 0) {
      return Bad("malformed tensor shape");
    }
    t->sizes.push_back(size->i);
    t->strides.push_back(stride->i);
  }
  stack_.push_back(std::move(t));
  return Status::OK();
}

// ('storage', torch.XStorage, key, location, numel[, view_metadata])
Status Unpickler::PersistentId() {
  VREPO_ASSIGN_OR_RETURN(Ref pid, Pop());
  const std::vector<Ref>& a = pid->items;
  if (pid->kind != Value::Kind::kTuple || a.size() < 5 || a[0]->kind != Value::Kind::kString ||
      a[0]->s != "storage" || a[1]->kind != Value::Kind::kGlobal || a[1]->s == kOrderedDict ||
      a[1]->s == kRebuildTensor || a[2]->kind != Value::Kind::kString ||
      a[3]->kind != Value::Kind::kString || a[4]->kind != Value::Kind::kInt || a[4]->i < 0) {
    return Bad("malformed storage reference");
  }
  if (a.size() == 6 && a[5]->kind != Value::Kind::kNone) {
    return Bad("storage views are not supported");
  }
  StorageRef ref{a[2]->s, a[1]->dtype, a[4]->i};
  auto [it, inserted] = storage_index_.emplace(ref.key, storages_.size());
  if (inserted) {
    storages_.push_back(ref);
  } else if (storages_[it->second].dtype != ref.dtype || storages_[it->second].numel != ref.numel) {
    return Bad("storage '" + ref.key + "' referenced with different types");
  }
  Ref v = Make(Value::Kind::kStorage);
  v->i = static_cast<int64_t>(it->second);
  stack_.push_back(std::move(v));
  return Status::OK();
}

Result<Ref> Unpickler::Run() {
  while (true) {
    op_pos_ = pos_;
    std::string_view op;
    if (!Take(1, &op)) return Truncated();
    const auto code = static_cast<uint8_t>(op[0]);
    switch (code) {
      case 0x80: {  // PROTO
        uint8_t proto = 0;
        if (!TakeInt(&proto)) return Truncated();
        if (proto < 2 || proto > 5) return Bad("unsupported protocol " + std::to_string(proto));
        break;
      }
      case 0x95: {  // FRAME
        uint64_t len = 0;
        if (!TakeInt(&len)) return Truncated();
        break;
      }
      case '.': {  // STOP
        if (stack_.size() != 1 || !marks_.empty()) return Bad("unbalanced pickle");
        return stack_.back();
      }
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case 'N':
        stack_.push_back(Make(Value::Kind::kNone));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        Ref v = Make(Value::Kind::kBool);
        v->i = code == 0x88;
        stack_.push_back(std::move(v));
        break;
      }
      case 'K':
      case 'M':
      case 'J': {  // BININT1, BININT2, BININT
        Ref v = Make(Value::Kind::kInt);
        bool ok = false;
        if (code == 'K') {
          uint8_t x = 0;
          ok = TakeInt(&x);
          v->i = x;
        } else if (code == 'M') {
          uint16_t x = 0;
          ok = TakeInt(&x);
          v->i = x;
        } else {
          int32_t x = 0;
          ok = TakeInt(&x);
          v->i = x;
        }
        if (!ok) return Truncated();
        stack_.push_back(std::move(v));
        break;
      }
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        uint8_t n = 0;
        std::string_view b;
        if (!TakeInt(&n) || !Take(n, &b)) return Truncated();
        if (n > 8) return Bad("integer wider than 64 bits");
        uint64_t x = 0;
        for (size_t k = 0; k < n; ++k) x |= uint64_t{static_cast<uint8_t>(b[k])} << (8 * k);
        if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) x |= ~uint64_t{0} << (8 * n);
        Ref v = Make(Value::Kind::kInt);
        v->i = static_cast<int64_t>(x);
        stack_.push_back(std::move(v));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        std::string_view b;
        if (!Take(8, &b)) return Truncated();
        uint64_t x = 0;
        for (char c : b) x = (x << 8) | static_cast<uint8_t>(c);
        Ref v = Make(Value::Kind::kFloat);
        std::memcpy(&v->f, &x, 8);
        stack_.push_back(std::move(v));
        break;
      }
      case 'X':
      case 0x8c:
      case 0x8d: {  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        uint64_t n = 0;
        bool ok;
        if (code == 'X') {
          uint32_t x = 0;
          ok = TakeInt(&x);
          n = x;
        } else if (code == 0x8c) {
          uint8_t x = 0;
          ok = TakeInt(&x);
          n = x;
        } else {
          ok = TakeInt(&n);
        }
        std::string_view b;
        if (!ok || n > in_.size() || !Take(static_cast<size_t>(n), &b)) return Truncated();
        Ref v = Make(Value::Kind::kString);
        v->s.assign(b);
        stack_.push_back(std::move(v));
        break;
      }
      case ')':
        stack_.push_back(Make(Value::Kind::kTuple));
        break;
      case ']':
        stack_.push_back(Make(Value::Kind::kList));
        break;
      case '}':
        stack_.push_back(Make(Value::Kind::kDict));
        break;
      case 't':
      case 'l':
      case 'd': {  // TUPLE, LIST, DICT from the values since MARK
        VREPO_ASSIGN_OR_RETURN(std::vector<Ref> items, PopMark());
        Ref v = Make(code == 't'   ? Value::Kind::kTuple
                     : code == 'l' ? Value::Kind::kList
                                   : Value::Kind::kDict);
        if (code == 'd' && items.size() % 2 != 0) return Bad("odd number of dict items");
        v->items = std::move(items);
        stack_.push_back(std::move(v));
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = code - 0x84;
        Ref v = Make(Value::Kind::kTuple);
        v->items.resize(n);
        for (size_t k = n; k-- > 0;) {
          VREPO_ASSIGN_OR_RETURN(v->items[k], Pop());
        }
        stack_.push_back(std::move(v));
        break;
      }
      case 'a':
      case 'e':
      case 's':
      case 'u': {  // APPEND, APPENDS, SETITEM, SETITEMS
        std::vector<Ref> items;
        if (code == 'e' || code == 'u') {
          VREPO_ASSIGN_OR_RETURN(items, PopMark());
        } else {
          items.resize(code == 'a' ? 1 : 2);
          for (size_t k = items.size(); k-- > 0;) {
            VREPO_ASSIGN_OR_RETURN(items[k], Pop());
          }
        }
        const bool list = code == 'a' || code == 'e';
        if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()) ||
            stack_.back()->kind != (list ? Value::Kind::kList : Value::Kind::kDict)) {
          return Bad(list ? "APPEND to a non-list" : "SETITEM on a non-dict");
        }
        if (!list && items.size() % 2 != 0) return Bad("odd number of dict items");
        auto& target = stack_.back()->items;
        target.insert(target.end(), items.begin(), items.end());
        break;
      }
      case 'q':
      case 'r':
      case 0x94: {  // BINPUT, LONG_BINPUT, MEMOIZE
        uint32_t id = static_cast<uint32_t>(memo_.size());
        if (code == 'q') {
          uint8_t x = 0;
          if (!TakeInt(&x)) return Truncated();
          id = x;
        } else if (code == 'r' && !TakeInt(&id)) {
          return Truncated();
        }
        if (stack_.empty()) return Bad("memo of an empty stack");
        memo_[id] = stack_.back();
        break;
      }
      case 'h':
      case 'j': {  // BINGET, LONG_BINGET
        uint32_t id = 0;
        if (code == 'h') {
          uint8_t x = 0;
          if (!TakeInt(&x)) return Truncated();
          id = x;
        } else if (!TakeInt(&id)) {
          return Truncated();
        }
        auto it = memo_.find(id);
        if (it == memo_.end()) return Bad("unknown memo " + std::to_string(id));
        stack_.push_back(it->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module, name;
        if (!TakeLine(&module) || !TakeLine(&name)) return Truncated();
        VREPO_RETURN_IF_ERROR(Global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        VREPO_ASSIGN_OR_RETURN(Ref name, Pop());
        VREPO_ASSIGN_OR_RETURN(Ref module, Pop());
        if (module->kind != Value::Kind::kString || name->kind != Value::Kind::kString) {
          return Bad("STACK_GLOBAL of non-strings");
        }
        VREPO_RETURN_IF_ERROR(Global(module->s, name->s));
        break;
      }
      case 'R':
        VREPO_RETURN_IF_ERROR(Reduce());
        break;
      case 'Q':
        VREPO_RETURN_IF_ERROR(PersistentId());
        break;
      case 'b': {  // BUILD: only an OrderedDict's state (a state_dict's _metadata), dropped
        VREPO_ASSIGN_OR_RETURN(Ref state, Pop());
        if (stack_.empty() || stack_.back()->kind != Value::Kind::kDict) {
          return Bad("BUILD of something other than a dict");
        }
        break;
      }
      default: {
        static const char* hex = "0123456789abcdef";
        return Bad(std::string("unsupported opcode 0x") + hex[code >> 4] + hex[code & 15]);
      }
    }
  }
}

// Turns the unpickled top-level dict into named tensors, cutting each out of its storage
// (`data[i]` holds storage i's bytes, already checked to be numel * element size).
Result<TensorMap> Materialize(const Ref& root, const std::vector<StorageRef>& storages,
                              const std::vector<std::string>& data, const std::string& source) {
  if (root->kind != Value::Kind::kDict) {
    return Status::Corruption(source + ": not a state_dict (the pickle holds no dict)");
  }
  TensorMap out;
  for (size_t k = 0; k + 1 < root->items.size(); k += 2) {
    const Ref& key = root->items[k];
    const Ref& value = root->items[k + 1];
    if (key->kind != Value::Kind::kString) {
      return Status::Corruption(source + ": not a state_dict (a key is not a string)");
    }
    if (value->kind != Value::Kind::kTensor) {
      return Status::Corruption(source + ": not a state_dict ('" + key->s + "' is not a tensor)");
    }
    const StorageRef& st = storages[static_cast<size_t>(value->items[0]->i)];
    // The highest element the view reaches must lie inside its storage.
    int64_t last = value->offset;
    bool empty = false;
    for (size_t d = 0; d < value->sizes.size(); ++d) {
      if (value->sizes[d] == 0) empty = true;
      int64_t reach = 0;
      if (__builtin_mul_overflow(value->sizes[d] > 0 ? value->sizes[d] - 1 : 0, value->strides[d],
                                 &reach) ||
          __builtin_add_overflow(last, reach, &last)) {
        return Status::Corruption(source + ": tensor '" + key->s + "' has an impossible shape");
      }
    }
    if (!empty && (value->offset < 0 || last >= st.numel)) {
      return Status::Corruption(source + ": tensor '" + key->s + "' reaches past its storage '" +
                                st.key + "'");
    }
    torch::Tensor storage =
        torch::from_blob(const_cast<char*>(data[static_cast<size_t>(value->items[0]->i)].data()),
                         {st.numel}, torch::TensorOptions().dtype(st.dtype));
    torch::Tensor t = empty ? torch::empty(value->sizes, torch::TensorOptions().dtype(st.dtype))
                            : storage.as_strided(value->sizes, value->strides, value->offset)
                                  .clone(torch::MemoryFormat::Contiguous);
    if (!out.emplace(key->s, std::move(t)).second) {
      return Status::Corruption(source + ": tensor '" + key->s + "' appears twice");
    }
  }
  return out;
}

// Bytes of `numel` elements of `dtype`, or nullopt when that overflows or exceeds `limit`.
std::optional<size_t> StorageBytes(const StorageRef& st, size_t limit) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<size_t>(st.numel), c10::elementSize(st.dtype), &bytes) ||
      bytes > limit) {
    return std::nullopt;
  }
  return bytes;
}

class StringReadAdapter : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit StringReadAdapter(std::string_view bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    if (pos >= bytes_.size()) return 0;
    n = std::min<size_t>(n, bytes_.size() - pos);
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  std::string_view bytes_;
};

Result<TensorMap> ParseTorchZip(std::string_view bytes, const std::string& source) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  std::string pickle;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(
        std::make_shared<StringReadAdapter>(bytes));
    if (!reader->hasRecord("data.pkl")) {
      return Status::Corruption(source + ": a zip file without data.pkl, not a torch checkpoint");
    }
    if (reader->hasRecord("byteorder")) {
      auto [ptr, size] = reader->getRecord("byteorder");
      if (std::string_view(static_cast<const char*>(ptr.get()), size) != "little") {
        return Status::Corruption(source + ": a big-endian checkpoint");
      }
    }
    auto [ptr, size] = reader->getRecord("data.pkl");
    pickle.assign(static_cast<const char*>(ptr.get()), size);
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::Corruption(source + ": not a readable torch zip checkpoint (" +
                              what.substr(0, what.find('\n')) + ")");
  }
  Unpickler unpickler(pickle, 0, source);
  VREPO_ASSIGN_OR_RETURN(Ref root, unpickler.Run());
  std::vector<std::string> data;
  for (const StorageRef& st : unpickler.storages()) {
    auto expected = StorageBytes(st, bytes.size());
    const std::string name = "data/" + st.key;
    if (!expected) {
      return Status::Corruption(source + ": storage '" + st.key + "' claims " +
                                std::to_string(st.numel) + " elements, more than the file holds");
    }
    try {
      if (st.key.find('/') != std::string::npos || !reader->hasRecord(name)) {
        return Status::Corruption(source + ": storage '" + st.key + "' is missing");
      }
      auto [ptr, size] = reader->getRecord(name);
      if (size != *expected) {
        return Status::Corruption(source + ": storage '" + st.key + "' is " + std::to_string(size) +
                                  " bytes, expected " + std::to_string(*expected));
      }
      data.emplace_back(static_cast<const char*>(ptr.get()), size);
    } catch (const std::exception& e) {
      std::string what = e.what();
      return Status::Corruption(source + ": storage '" + st.key + "' is unreadable (" +
                                what.substr(0, what.find('\n')) + ")");
    }
  }
  return Materialize(root, unpickler.storages(), data, source);
}

// torch.save's legacy magic number, 0x1950a86a20f9469cfc6c, as pickle protocol 2 writes it.
constexpr std::string_view kLegacyMagic{
    "\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e", 15};

// Legacy: pickles of the magic number, the protocol version (1001) and sys_info, then the
// object, then the list of storage keys; then each storage in that order as an int64 element
// count followed by its bytes.
Result<TensorMap> ParseTorchLegacy(std::string_view bytes, const std::string& source) {
  size_t pos = kLegacyMagic.size();
  {
    Unpickler version(bytes, pos, source);
    VREPO_ASSIGN_OR_RETURN(Ref v, version.Run());
    if (v->kind != Value::Kind::kInt || v->i != 1001) {
      return Status::Corruption(source + ": unsupported legacy checkpoint version");
    }
    pos = version.position();
  }
  {
    Unpickler sys_info(bytes, pos, source);
    VREPO_ASSIGN_OR_RETURN(Ref info, sys_info.Run());
    if (info->kind != Value::Kind::kDict) return Status::Corruption(source + ": bad sys_info");
    for (size_t k = 0; k + 1 < info->items.size(); k += 2) {
      if (info->items[k]->s == "little_endian" && info->items[k + 1]->kind == Value::Kind::kBool &&
          info->items[k + 1]->i == 0) {
        return Status::Corruption(source + ": a big-endian checkpoint");
      }
    }
    pos = sys_info.position();
  }
  Unpickler object(bytes, pos, source);
  VREPO_ASSIGN_OR_RETURN(Ref root, object.Run());
  pos = object.position();
  Unpickler key_list(bytes, pos, source);
  VREPO_ASSIGN_OR_RETURN(Ref keys, key_list.Run());
  pos = key_list.position();
  if (keys->kind != Value::Kind::kList) return Status::Corruption(source + ": bad storage list");
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < object.storages().size(); ++i) index[object.storages()[i].key] = i;
  std::vector<std::string> data(object.storages().size());
  std::vector<bool> seen(object.storages().size(), false);
  for (const Ref& key : keys->items) {
    auto it = key->kind == Value::Kind::kString ? index.find(key->s) : index.end();
    if (it == index.end() || seen[it->second]) {
      return Status::Corruption(source + ": bad storage list");
    }
    seen[it->second] = true;
    const StorageRef& st = object.storages()[it->second];
    int64_t numel = 0;
    if (bytes.size() - pos < 8) return Status::Corruption(source + ": truncated storages");
    std::memcpy(&numel, bytes.data() + pos, 8);
    pos += 8;
    auto expected = StorageBytes(st, bytes.size() - pos);
    if (numel != st.numel || !expected) {
      return Status::Corruption(source + ": storage '" + st.key + "' is truncated or malformed");
    }
    data[it->second].assign(bytes.substr(pos, *expected));
    pos += *expected;
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return Status::Corruption(source + ": storage '" + object.storages()[i].key + "' is missing");
    }
  }
  return Materialize(root, object.storages(), data, source);
}

// --- timm names --------------------------------------------------------------------------

// The one table of timm names that differ from torchvision's, per architecture family
// (prefix of the architecture name). "{N}" matches a block number. A rule ending in '.'
// maps a module prefix; others map a whole name.
struct NameRule {
  const char* family;
  const char* timm;
  const char* torchvision;
};
constexpr NameRule kTimmNames[] = {
    {"vit_", "patch_embed.proj.", "conv_proj."},
    {"vit_", "cls_token", "class_token"},
    {"vit_", "pos_embed", "encoder.pos_embedding"},
    {"vit_", "blocks.{N}.norm1.", "encoder.layers.encoder_layer_{N}.ln_1."},
    {"vit_", "blocks.{N}.attn.qkv.weight",
     "encoder.layers.encoder_layer_{N}.self_attention.in_proj_weight"},
    {"vit_", "blocks.{N}.attn.qkv.bias",
     "encoder.layers.encoder_layer_{N}.self_attention.in_proj_bias"},
    {"vit_", "blocks.{N}.attn.proj.", "encoder.layers.encoder_layer_{N}.self_attention.out_proj."},
    {"vit_", "blocks.{N}.norm2.", "encoder.layers.encoder_layer_{N}.ln_2."},
    {"vit_", "blocks.{N}.mlp.fc1.", "encoder.layers.encoder_layer_{N}.mlp.0."},
    {"vit_", "blocks.{N}.mlp.fc2.", "encoder.layers.encoder_layer_{N}.mlp.3."},
    {"vit_", "norm.", "encoder.ln."},
    {"vit_", "head.", "heads.head."},
    // timm's ResNets name every tensor as torchvision does.
};

// Matches `pattern` against the start of `name`; on success returns the length matched and
// the block number "{N}" stood for.
std::optional<size_t> MatchRule(std::string_view pattern, std::string_view name,
                                std::string* number) {
  size_t p = 0, n = 0;
  while (p < pattern.size()) {
    if (pattern.substr(p, 3) == "{N}") {
      size_t start = n;
      while (n < name.size() && std::isdigit(static_cast<unsigned char>(name[n]))) ++n;
      if (n == start) return std::nullopt;
      *number = std::string(name.substr(start, n - start));
      p += 3;
    } else {
      if (n >= name.size() || name[n] != pattern[p]) return std::nullopt;
      ++n;
      ++p;
    }
  }
  if (pattern.back() != '.' && n != name.size()) return std::nullopt;
  return n;
}

std::string ShapeText(c10::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string HeadPrefix(ImageClassifierImpl& model) { return model.head_name() + "."; }

}  // namespace

const char* CheckpointFormatName(CheckpointFormat format) {
  switch (format) {
    case CheckpointFormat::kTorchZip:
      return "torch-zip";
    case CheckpointFormat::kTorchLegacy:
      return "torch-legacy";
    case CheckpointFormat::kSafetensors:
      return "safetensors";
  }
  return "unknown";
}

Result<Checkpoint> ParseCheckpoint(std::string_view bytes, const std::string& source) {
  Checkpoint out;
  out.sha256 = ContentId::Of(bytes).Hex();
  try {
    if (bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4)) {
      out.format = CheckpointFormat::kTorchZip;
      VREPO_ASSIGN_OR_RETURN(out.tensors, ParseTorchZip(bytes, source));
    } else if (bytes.substr(0, kLegacyMagic.size()) == kLegacyMagic) {
      out.format = CheckpointFormat::kTorchLegacy;
      VREPO_ASSIGN_OR_RETURN(out.tensors, ParseTorchLegacy(bytes, source));
    } else if (bytes.size() >= 9 && bytes[8] == '{') {
      out.format = CheckpointFormat::kSafetensors;
      VREPO_ASSIGN_OR_RETURN(SafetensorsFile file, ParseSafetensors(bytes, source));
      out.tensors = std::move(file.tensors);
    } else if (!bytes.empty() && static_cast<uint8_t>(bytes[0]) == 0x80) {
      // A bare pickle: still read under the same rules, so a foreign global is named.
      Unpickler unpickler(bytes, 0, source);
      VREPO_RETURN_IF_ERROR(unpickler.Run().status());
      return Status::Corruption(source +
                                ": a pickle without torch.save's header, not a torch checkpoint");
    } else {
      return Status::Corruption(source +
                                ": not a checkpoint (neither a torch.save file nor safetensors)");
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    return Status::Corruption(source + ": " + what.substr(0, what.find('\n')));
  }
  if (out.tensors.empty()) return Status::Corruption(source + ": holds no tensors");
  return out;
}

Result<Checkpoint> ReadCheckpoint(const std::string& path) {
  VREPO_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  return ParseCheckpoint(bytes, path);
}

std::string TimmToTorchvisionName(const std::string& arch, const std::string& timm_name) {
  for (const NameRule& rule : kTimmNames) {
    if (!arch.starts_with(rule.family)) continue;
    std::string number;
    auto matched = MatchRule(rule.timm, timm_name, &number);
    if (!matched) continue;
    std::string to = rule.torchvision;
    if (size_t at = to.find("{N}"); at != std::string::npos) to.replace(at, 3, number);
    return to + timm_name.substr(*matched);
  }
  return "";
}

Result<TensorMap> CanonicalNames(const std::string& arch, TensorMap tensors) {
  VREPO_ASSIGN_OR_RETURN(Preprocessing pre, DefaultPreprocessing(arch));
  VREPO_ASSIGN_OR_RETURN(Model model, MakeModel(arch, 2, pre.channels));
  const TensorMap known = StateDict(*model);
  TensorMap out;
  for (auto& [name, t] : tensors) {
    std::string to = name;
    if (!known.count(name)) {
      std::string mapped = TimmToTorchvisionName(arch, name);
      if (!mapped.empty()) to = mapped;
    }
    if (!out.emplace(to, std::move(t)).second) {
      return Status::Corruption("tensor '" + to + "' appears twice after mapping timm names");
    }
  }
  return out;
}

Result<ArchitectureFit> CheckArchitecture(const std::string& arch, int64_t in_channels,
                                          TensorMap* tensors, const std::string& source) {
  VREPO_ASSIGN_OR_RETURN(Model probe, MakeModel(arch, 2, in_channels));
  ArchitectureFit fit;
  fit.head_prefix = HeadPrefix(*probe);
  // The head's rows are the class count. Without a usable head, the comparison below (with
  // ImageNet's 1000 classes) names what is missing or different.
  auto head = tensors->find(fit.head_prefix + "weight");
  const bool has_head =
      head != tensors->end() && head->second.dim() == 2 && head->second.size(0) > 0;
  fit.num_classes = has_head ? head->second.size(0) : 1000;
  VREPO_ASSIGN_OR_RETURN(Model model, MakeModel(arch, fit.num_classes, in_channels));
  const TensorMap expected = StateDict(*model);
  // Shape differences first: they name both shapes, the most telling line.
  std::vector<std::string> shapes, problems;
  for (const auto& [name, want] : expected) {
    auto it = tensors->find(name);
    if (it == tensors->end()) {
      if (name.ends_with(".num_batches_tracked")) continue;  // added below
      problems.push_back("'" + name + "' " + ShapeText(want.sizes()) + " is missing from the file");
    } else if (it->second.sizes() != want.sizes()) {
      shapes.push_back("'" + name + "' is " + ShapeText(it->second.sizes()) + " in the file, " +
                       ShapeText(want.sizes()) + " in " + arch);
    } else if (it->second.is_floating_point() != want.is_floating_point()) {
      problems.push_back("'" + name + "' has dtype " +
                         std::string(c10::toString(it->second.scalar_type())) + ", " + arch +
                         " needs a " + (want.is_floating_point() ? "floating" : "integer") +
                         " tensor");
    }
  }
  for (const auto& [name, t] : *tensors) {
    if (!expected.count(name)) {
      problems.push_back("'" + name + "' " + ShapeText(t.sizes()) + " is not a tensor of " + arch);
    }
  }
  problems.insert(problems.begin(), shapes.begin(), shapes.end());
  if (!problems.empty()) {
    std::string more = problems.size() > 1
                           ? " (and " + std::to_string(problems.size() - 1) + " more differences)"
                           : "";
    return Status::InvalidArgument(source + ": not a " + arch + " checkpoint: " + problems[0] +
                                   more);
  }
  for (const auto& [name, want] : expected) {
    if (!tensors->count(name)) (*tensors)[name] = torch::zeros_like(want);
  }
  fit.parameters = CountParameters(*model);
  return fit;
}

}  // namespace vrepo::train
