#include "vrepo/dataset/split.h"

#include <doctest/doctest.h>

#include <set>

#include "dataset_fixture.h"

namespace vrepo::testing {
namespace {

SplitRequest TrainVal(const std::string& table) {
  SplitRequest r;
  r.table = table;
  r.options.ratios = {0.8, 0.2};
  r.options.names = {"train", "val"};
  r.options.seed = 7;
  return r;
}

TEST_CASE("SplitTable writes one table per split beside the table, every row in exactly one") {
  DatasetRepo d(200);
  std::vector<SplitPart> parts = Must(SplitTable(*d.repo, TrainVal("labels.csv")));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].path == d.Path("labels.train.csv"));
  CHECK(parts[1].path == d.Path("labels.val.csv"));
  std::set<std::string> seen;
  for (const SplitPart& p : parts) {
    LabelTable back = Must(
        ParseLabelTable(d.Read(p.path.substr(d.dir.path().size() + 1)), p.path, TableOptions{}));
    CHECK(back.rows.size() == p.table.rows.size());
    for (const auto& row : back.rows) CHECK(seen.insert(row.path).second);
  }
  CHECK(seen.size() == 200);
  CHECK(parts[1].table.rows.size() > 20);
  CHECK(parts[1].table.rows.size() < 60);
  // The same seed gives the same split; the table at a revision can be split too.
  d.CommitAll("data");
  SplitRequest at_head = TrainVal("labels.csv");
  at_head.rev = "HEAD";
  at_head.out_dir = d.Path("out");
  std::vector<SplitPart> again = Must(SplitTable(*d.repo, at_head));
  CHECK(again[1].table.rows.size() == parts[1].table.rows.size());
  CHECK(again[1].path == d.Path("out/labels.val.csv"));
}

TEST_CASE("SplitTable refuses bad ratios and a missing table, writing nothing") {
  DatasetRepo d(20);
  SplitRequest bad = TrainVal("labels.csv");
  bad.options.ratios = {0.5, 0.2};
  Status st = SplitTable(*d.repo, bad).status();
  CHECK(st.code() == Status::Code::kInvalidArgument);
  CHECK(st.message().find("sum to") != std::string::npos);
  CHECK_FALSE(Exists(d.Path("labels.train.csv")));
  CHECK_FALSE(SplitTable(*d.repo, TrainVal("nope.csv")).ok());
}

}  // namespace
}  // namespace vrepo::testing
