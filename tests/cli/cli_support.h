// Helpers for the end-to-end tests of the vrepo binary: running commands that must succeed,
// snapshots of a working tree, and a small JSON reader for --json output.
#pragma once

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "testing.h"
#include "vrepo/util/text.h"

namespace vrepo::testing {

// Runs vrepo and fails the test (with its stderr) unless it exits 0.
inline CommandResult MustRun(const std::string& cwd, const std::vector<std::string>& args) {
  CommandResult r = RunVrepo(cwd, args);
  std::string cmd;
  for (const auto& a : args) cmd += a + " ";
  INFO("vrepo " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

// The commit id that `rev` names in the repository at `repo`.
inline std::string RevParse(const std::string& repo, const std::string& rev) {
  std::string out = MustRun(repo, {"rev-parse", rev}).out;
  REQUIRE(out.size() == 41);
  return out.substr(0, 40);
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  for (std::string_view line : SplitLines(text)) out.emplace_back(line);
  return out;
}

struct FileState {
  std::string data;
  bool executable = false;
  bool operator==(const FileState& o) const { return data == o.data && executable == o.executable; }
};
using Snapshot = std::map<std::string, FileState>;

// Every regular file under `root` except .vrepo, by '/'-separated relative path.
inline Snapshot TakeSnapshot(const std::string& root) {
  Snapshot snap;
  namespace fs = std::filesystem;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->path().filename() == ".vrepo") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), root).generic_string();
    struct stat st;
    ::stat(it->path().c_str(), &st);
    snap[rel] = FileState{ReadFileOrDie(it->path().string()), (st.st_mode & S_IXUSR) != 0};
  }
  return snap;
}

// Names the first difference between two snapshots, or "" when they are equal.
inline std::string SnapshotDiff(const Snapshot& want, const Snapshot& got) {
  for (const auto& [path, state] : want) {
    auto it = got.find(path);
    if (it == got.end()) return "missing: " + path;
    if (it->second.data != state.data) return "content differs: " + path;
    if (it->second.executable != state.executable) return "exec bit differs: " + path;
  }
  for (const auto& [path, state] : got) {
    if (!want.count(path)) return "unexpected: " + path;
  }
  return "";
}

inline void WriteSnapshot(const std::string& root, const Snapshot& snap) {
  for (const auto& [path, state] : snap) WriteFile(root + "/" + path, state.data, state.executable);
}

// A JSON value, parsed strictly enough to prove the output is one valid document.
struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool b = false;
  double number = 0;
  std::string str;
  std::vector<Json> items;
  std::map<std::string, Json> fields;

  bool is_null() const { return type == Type::kNull; }
  const Json& operator[](const std::string& key) const {
    auto it = fields.find(key);
    if (type != Type::kObject || it == fields.end()) throw std::runtime_error("no key " + key);
    return it->second;
  }
  const Json& operator[](size_t i) const { return items.at(i); }
  bool has(const std::string& key) const { return fields.count(key) > 0; }

  // Parses exactly one document (surrounding whitespace allowed); throws on anything else.
  static Json Parse(const std::string& text) {
    size_t pos = 0;
    Json v = ParseValue(text, pos);
    SkipSpace(text, pos);
    if (pos != text.size()) throw std::runtime_error("trailing data at " + std::to_string(pos));
    return v;
  }

 private:
  static void SkipSpace(const std::string& s, size_t& p) {
    while (p < s.size() && (s[p] == ' ' || s[p] == '\n' || s[p] == '\t' || s[p] == '\r')) ++p;
  }
  static void Expect(const std::string& s, size_t& p, const std::string& word) {
    if (s.compare(p, word.size(), word) != 0)
      throw std::runtime_error("bad JSON at " + std::to_string(p));
    p += word.size();
  }
  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  static std::string ParseString(const std::string& s, size_t& p) {
    Expect(s, p, "\"");
    std::string out;
    while (true) {
      if (p >= s.size()) throw std::runtime_error("unterminated string");
      unsigned char c = static_cast<unsigned char>(s[p++]);
      if (c == '"') return out;
      if (c < 0x20) throw std::runtime_error("raw control character in string");
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      char e = s.at(p++);
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = static_cast<uint32_t>(std::stoul(s.substr(p, 4), nullptr, 16));
          p += 4;
          AppendUtf8(out, cp);
          break;
        }
        default:
          throw std::runtime_error("bad escape");
      }
    }
  }
  static Json ParseValue(const std::string& s, size_t& p) {
    SkipSpace(s, p);
    if (p >= s.size()) throw std::runtime_error("unexpected end of JSON");
    Json v;
    char c = s[p];
    if (c == '{') {
      v.type = Type::kObject;
      ++p;
      SkipSpace(s, p);
      if (s.at(p) == '}') return ++p, v;
      while (true) {
        SkipSpace(s, p);
        std::string key = ParseString(s, p);
        SkipSpace(s, p);
        Expect(s, p, ":");
        v.fields[key] = ParseValue(s, p);
        SkipSpace(s, p);
        if (s.at(p) == ',') {
          ++p;
          continue;
        }
        Expect(s, p, "}");
        return v;
      }
    }
    if (c == '[') {
      v.type = Type::kArray;
      ++p;
      SkipSpace(s, p);
      if (s.at(p) == ']') return ++p, v;
      while (true) {
        v.items.push_back(ParseValue(s, p));
        SkipSpace(s, p);
        if (s.at(p) == ',') {
          ++p;
          continue;
        }
        Expect(s, p, "]");
        return v;
      }
    }
    if (c == '"') {
      v.type = Type::kString;
      v.str = ParseString(s, p);
      return v;
    }
    if (c == 't') {
      Expect(s, p, "true");
      v.type = Type::kBool;
      v.b = true;
      return v;
    }
    if (c == 'f') {
      Expect(s, p, "false");
      v.type = Type::kBool;
      return v;
    }
    if (c == 'n') {
      Expect(s, p, "null");
      return v;
    }
    size_t used = 0;
    v.number = std::stod(s.substr(p, 40), &used);
    if (used == 0) throw std::runtime_error("bad JSON value");
    v.type = Type::kNumber;
    p += used;
    return v;
  }
};

}  // namespace vrepo::testing
