// The tokens file of `vrepo serve` (TokenGrants) and the repository names it serves.
#include "vrepo/remote/token_grants.h"

#include <doctest/doctest.h>

#include <vector>

#include "http_wire.h"  // src/remote: CheckRepositoryName, which client and server share
#include "must.h"
#include "testing.h"
#include "vrepo/remote/server.h"

namespace vrepo::testing {
namespace {

std::string ParseError(const std::string& text) {
  auto grants = TokenGrants::Parse(text, "tokens.txt");
  REQUIRE_FALSE(grants.ok());
  CHECK(grants.status().code() == Status::Code::kInvalidArgument);
  return grants.status().message();
}

TEST_CASE("tokens: grants by token and glob, the strongest one wins") {
  TokenGrants grants =
      Must(TokenGrants::Parse("# team tokens\n"
                              "\n"
                              "alice rw team/*      # the owner\n"
                              "bob   r  team/cats\n"
                              "bob   rw scratch/*\r\n"
                              "\tcarol r *\n"
                              "anonymous r public/*\n",
                              "tokens.txt"));
  CHECK(grants.size() == 5);
  CHECK(grants.AccessFor("alice", "team/cats") == Access::kReadWrite);
  CHECK(grants.AccessFor("alice", "team/a/b") == Access::kReadWrite);  // '*' crosses '/'
  CHECK(grants.AccessFor("alice", "other") == Access::kNone);
  CHECK(grants.AccessFor("bob", "team/cats") == Access::kRead);
  CHECK(grants.AccessFor("bob", "team/dogs") == Access::kNone);
  CHECK(grants.AccessFor("bob", "scratch/x") == Access::kReadWrite);
  CHECK(grants.AccessFor("carol", "anything/at/all") == Access::kRead);
  CHECK(grants.AccessFor("", "public/demo") == Access::kRead);
  CHECK(grants.AccessFor("", "team/cats") == Access::kNone);
  // A token also has what anyone has.
  CHECK(grants.AccessFor("alice", "public/demo") == Access::kRead);
  // Tokens match whole: no prefix, no other case.
  CHECK(grants.AccessFor("alic", "team/cats") == Access::kNone);
  CHECK(grants.AccessFor("Alice", "team/cats") == Access::kNone);
  CHECK(grants.AccessFor("alice ", "team/cats") == Access::kNone);
  CHECK(grants.Knows("bob"));
  CHECK_FALSE(grants.Knows("mallory"));
}

TEST_CASE("tokens: a server without a tokens file lets everyone read and nobody write") {
  TokenGrants grants = TokenGrants::ReadOnlyForAll();
  CHECK(grants.AccessFor("", "a/b") == Access::kRead);
  CHECK(grants.AccessFor("whatever", "a") == Access::kRead);
}

TEST_CASE("tokens: malformed lines are refused naming file, line and problem") {
  CHECK(ParseError("alice rw *\nbob r\n") ==
        "tokens.txt:2: expected `TOKEN r|rw REPO-GLOB`, got 2 fields");
  CHECK(ParseError("alice\n") == "tokens.txt:1: expected `TOKEN r|rw REPO-GLOB`, got 1 field");
  CHECK(ParseError("alice rw team/* extra\n") ==
        "tokens.txt:1: expected `TOKEN r|rw REPO-GLOB`, got 4 fields");
  CHECK(ParseError("\n\nalice write *\n") == "tokens.txt:3: unknown right 'write' (use r or rw)");
  CHECK(ParseError("anonymous rw *\n") ==
        "tokens.txt:1: anonymous grants are read-only (writes always need a token)");
  CHECK(ParseError("alice r team/../x\\y\n").find("tokens.txt:1: repository glob") == 0);
}

TEST_CASE("tokens: a binary or truncated file is refused, an empty one grants nothing") {
  std::string binary = "alice rw *\n" + std::string("\x01\x02\xff rw *\n");
  CHECK(ParseError(binary) == "tokens.txt:2: control character in line (a binary file?)");
  std::string nul = std::string("alice r a") + '\0' + "b\n";
  CHECK(ParseError(nul) == "tokens.txt:1: control character in line (a binary file?)");
  // A last line cut short is still parsed as what it says.
  CHECK(ParseError("alice rw *\nbob r") ==
        "tokens.txt:2: expected `TOKEN r|rw REPO-GLOB`, got 2 fields");
  TokenGrants empty = Must(TokenGrants::Parse("# nobody yet\n", "tokens.txt"));
  CHECK(empty.size() == 0);
  CHECK(empty.AccessFor("", "x") == Access::kNone);

  TempDir dir;
  auto missing = TokenGrants::Load(dir / "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find(dir / "nope") != std::string::npos);
  WriteFile(dir / "tokens", "alice rx *\n");
  auto loaded = TokenGrants::Load(dir / "tokens");
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.status().message() == dir / "tokens" + ":1: unknown right 'rx' (use r or rw)");
}

TEST_CASE("tokens: repository names the server maps to ROOT/NAME") {
  for (std::string ok : {"a", "team/cats", "a.b-c_d/E9", "x/y/z", "..a", "a.."}) {
    INFO(ok);
    CHECK(CheckRepositoryName(ok).ok());
  }
  for (std::string bad :
       std::vector<std::string>{"", "/abs", "..", ".", "a/..", "../a", "a/./b", "a//b", "a/",
                                "a%2Fb", "a b", "a\\b", std::string("a\0b", 3), "caf\xc3\xa9"}) {
    INFO(bad);
    Status st = CheckRepositoryName(bad);
    CHECK(st.code() == Status::Code::kInvalidArgument);
    CHECK(st.message().find("bad repository name") == 0);
  }
}

}  // namespace
}  // namespace vrepo::testing
