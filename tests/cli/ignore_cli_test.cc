// .vrepoignore against .gitignore: the same rules over the same tree must leave the same
// files untracked in vrepo as in git (git ls-files --others --exclude-per-directory).
#include <set>

#include "cli/cli_support.h"

namespace vrepo::testing {
namespace {

std::set<std::string> SplitNul(const std::string& text, size_t skip) {
  std::set<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\0', start);
    if (end == std::string::npos) end = text.size();
    if (end - start > skip) out.insert(text.substr(start + skip, end - start - skip));
    start = end + 1;
  }
  return out;
}

}  // namespace

TEST_CASE("cli: .vrepoignore leaves the same files untracked as .gitignore does in git") {
  TempDir t;
  const std::string root = t / "repo";
  MustRun(t.path(), {"init", root});
  WriteFile(root + "/.vrepoignore",
            "# a comment line\n"
            "#hash.txt\n"       // also a comment: '#hash.txt' stays
            "\\#escaped.txt\n"  // \# matches a leading '#'
            "trail.txt   \n"    // trailing spaces are dropped
            "space\\ \n"        // unless escaped
            "endslash\\\\ \n"   // an escaped backslash does not escape the space
            "*.log\n"
            "!keep.log\n"    // negation
            "\\!bang.txt\n"  // \! matches a leading '!'
            "/rooted.txt\n"  // anchored to this folder
            "build/\n"       // folders only
            "docs/*.md\n"    // a middle slash anchors too; '*' stops at '/'
            "img?.png\n"
            "[ab]-*.bin\n"
            "[!c]z.dat\n"
            "\\*star\n"
            "**/cache/\n"   // leading **/: at any depth
            "logs/**\n"     // trailing /**: everything inside
            "a/**/z.txt\n"  // inner /**/: zero or more folders
            "excluded/\n"
            "!excluded/keep.txt\n"  // cannot re-include inside an excluded folder
            "partial/*\n"
            "!partial/keep.txt\n"  // can when only the contents were excluded
            "deepname\n");         // no slash: any depth, files or folders
  for (const char* f : {"#hash.txt",
                        "#escaped.txt",
                        "trail.txt",
                        "space ",
                        "space",
                        "endslash\\",
                        "x.log",
                        "keep.log",
                        "sub/y.log",
                        "sub/keep.log",
                        "!bang.txt",
                        "bang.txt",
                        "rooted.txt",
                        "sub/rooted.txt",
                        "build/o.bin",
                        "sub/build/o.bin",
                        "notdir/build",
                        "docs/a.md",
                        "docs/sub/b.md",
                        "other/docs/c.md",
                        "img1.png",
                        "img10.png",
                        "a-1.bin",
                        "b-2.bin",
                        "c-3.bin",
                        "az.dat",
                        "cz.dat",
                        "*star",
                        "xstar",
                        "cache/c",
                        "deep/er/cache/c",
                        "deep/cachefile",
                        "logs/l1",
                        "logs/in/l2",
                        "a/z.txt",
                        "a/b/z.txt",
                        "a/b/c/z.txt",
                        "b/a/z.txt",
                        "excluded/keep.txt",
                        "excluded/other.txt",
                        "partial/keep.txt",
                        "partial/other.txt",
                        "deepname",
                        "x/deepname/f",
                        "x/deepnames",
                        "plain.txt",
                        "nested/important.log",
                        "nested/local.txt",
                        "nested/deeper/local.txt",
                        "nested/other.log",
                        "nested/scratch.tmp"}) {
    WriteFile(root + "/" + f, "x");
  }
  WriteFile(root + "/nested/.vrepoignore", "!important.log\n/local.txt\n*.tmp\n");

  const std::string git = "git --git-dir '" + (t / "git") + "' --work-tree '" + root + "' ";
  Shell("git init -q --bare '" + (t / "git") + "'");
  std::set<std::string> by_git =
      SplitNul(Shell(git + "ls-files -z --others --exclude-per-directory=.vrepoignore"), 0);
  std::erase_if(by_git, [](const std::string& p) { return p.rfind(".vrepo/", 0) == 0; });
  std::set<std::string> by_vrepo =
      SplitNul(MustRun(root, {"status", "--porcelain", "-z", "--untracked-files=all"}).out, 3);
  CHECK(by_vrepo == by_git);
  CHECK(by_vrepo.count("plain.txt") == 1);  // the comparison saw files at all
  CHECK(by_vrepo.count("x.log") == 0);
}

}  // namespace vrepo::testing
