#include "vrepo/repo/config_file.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "must.h"
#include "testing.h"

namespace vrepo::testing {

TEST_CASE("config values written are read back, also after reopening") {
  TempDir dir;
  std::string path = dir / "config";
  {
    ConfigFile cfg = Must(ConfigFile::Open(path));
    Must(cfg.SetString("remote.origin.url", "https://example.com/data"));
    Must(cfg.SetBool("core.bare", true));
    Must(cfg.SetInt("core.formatVersion", 7));
  }
  ConfigFile cfg = Must(ConfigFile::Open(path));
  CHECK(Must(cfg.GetString("remote.origin.url")) == "https://example.com/data");
  CHECK(Must(cfg.GetBool("core.bare")) == true);
  CHECK(Must(cfg.GetInt("core.formatVersion")) == 7);
  CHECK_FALSE(Must(cfg.GetString("remote.origin.token")).has_value());
  CHECK(ReadFileOrDie(path).find("formatVersion = 7") != std::string::npos);
}

TEST_CASE("config entries are listed by pattern and deleted by key") {
  TempDir dir;
  ConfigFile cfg = Must(ConfigFile::Open(dir / "config"));
  Must(cfg.SetString("remote.a.url", "x"));
  Must(cfg.SetString("remote.a.token", "t"));
  Must(cfg.SetString("remote.b.url", "y"));
  std::vector<std::string> urls;
  Must(cfg.ForEach("^remote\\..*\\.url$",
                   [&](const std::string& name, const std::string&) { urls.push_back(name); }));
  CHECK(urls == std::vector<std::string>{"remote.a.url", "remote.b.url"});
  size_t all = 0;
  Must(cfg.ForEach("", [&](const std::string&, const std::string&) { ++all; }));
  CHECK(all == 3);
  Must(cfg.Delete("remote.a.token"));
  CHECK_FALSE(Must(cfg.GetString("remote.a.token")).has_value());
  CHECK(cfg.Delete("remote.a.token").code() == Status::Code::kNotFound);
}

TEST_CASE("a config value of the wrong type is an error naming the key and file") {
  TempDir dir;
  ConfigFile cfg = Must(ConfigFile::Open(dir / "config"));
  Must(cfg.SetString("core.formatVersion", "many"));
  auto version = cfg.GetInt("core.formatVersion");
  REQUIRE_FALSE(version.ok());
  CHECK(version.status().message().find("core.formatVersion in " + dir / "config") !=
        std::string::npos);
}

}  // namespace vrepo::testing
