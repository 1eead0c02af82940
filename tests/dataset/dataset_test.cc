#include "vrepo/dataset/dataset.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "dataset_fixture.h"
#include "png_support.h"

namespace vrepo {
namespace {

using testing::DatasetRepo;
using testing::Must;

std::vector<std::string> Kinds(const std::vector<DatasetProblem>& problems) {
  std::vector<std::string> out;
  for (const auto& p : problems) {
    out.push_back(std::to_string(p.line) + " " + p.path + " " + ProblemKindName(p.kind));
  }
  return out;
}

TEST_CASE("A clean Fashion-MNIST table checks clean, and stats count its labels") {
  DatasetRepo r(60);
  std::string commit = r.CommitAll("import");
  DatasetVersion v =
      Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "labels.csv", {}));
  CHECK(v.commit == commit);
  CHECK(v.samples.size() == 60);
  CheckReport report = Must(CheckDataset(v, r.repo->store()));
  CHECK(report.rows == 60);
  CHECK(report.images_decoded == 60);
  CHECK(Kinds(report.problems).empty());

  DatasetStats stats = Must(ComputeStats(v, r.repo->store()));
  CHECK(stats.samples == 60);
  CHECK(stats.per_format == std::map<std::string, uint64_t>{{"png", 60}});
  REQUIRE(stats.shapes.size() == 1);
  CHECK(stats.shapes[0].width == 28);
  CHECK(stats.shapes[0].height == 28);
  CHECK(stats.shapes[0].channels == 1);
  CHECK(stats.shapes[0].samples == 60);
  CHECK(stats.sizes.min_width == 28);
  CHECK(stats.sizes.max_height == 28);
  uint64_t total = 0;
  for (const auto& [label, n] : stats.per_label) total += n;
  CHECK(total == 60);
  CHECK(stats.per_label.count("tshirt") == 1);
  CHECK(stats.sample_digest == SampleDigestOf(v));
}

TEST_CASE("check lists every kind of problem with its line and path") {
  DatasetRepo r(8);
  // Row 2 (line 3) duplicated, one missing file, one empty label, a truncated PNG, and the
  // same image content under two labels.
  std::string png = r.Read("images/train/00000.png");
  r.Write("images/train/cut.png", png.substr(0, png.size() / 2));
  r.Write("images/train/copy.png", r.Read("images/train/00001.png"));
  std::string table = r.Read("labels.csv");
  table += "images/train/00001.png,bag\n";    // line 10: duplicate path
  table += "images/train/gone.png,coat\n";    // line 11: missing
  table += "images/train/cut.png,coat\n";     // line 12: bad image
  table += "images/train/copy.png,sandal\n";  // line 13: conflict with 00001 (tshirt)
  r.Write("labels.csv", table);
  r.Write("empty.csv", "path,label\nimages/train/00002.png,\n");
  r.CommitAll("messy");

  DatasetVersion v =
      Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "labels.csv", {}));
  CheckReport report = Must(CheckDataset(v, r.repo->store()));
  CHECK(Kinds(report.problems) ==
        std::vector<std::string>{
            "3 images/train/00001.png label-conflict", "10 images/train/00001.png duplicate-path",
            "11 images/train/gone.png missing", "12 images/train/cut.png bad-image",
            "13 images/train/copy.png label-conflict"});
  CHECK(report.problems[1].detail == "path already listed on line 3");
  CHECK(report.problems[3].detail.find("images/train/cut.png") != std::string::npos);
  CHECK(report.problems[4].detail.find("'tshirt'") != std::string::npos);

  DatasetVersion e = Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "empty.csv", {}));
  CHECK(Kinds(Must(CheckDataset(e, r.repo->store())).problems) ==
        std::vector<std::string>{"2 images/train/00002.png empty-label"});
}

TEST_CASE("Tables load from the commit, not from the working tree, folder tables work") {
  DatasetRepo r(10);
  r.Write("by_class/coat/a.png", r.Read("images/train/00000.png"));
  r.Write("by_class/bag/b.png", r.Read("images/train/00001.png"));
  r.CommitAll("one");
  r.Write("labels.csv", "path,label\n");  // uncommitted edit: must not matter
  DatasetVersion v =
      Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "labels.csv", {}));
  CHECK(v.samples.size() == 10);
  DatasetVersion f = Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "by_class/", {}));
  CHECK(f.table.format == TableFormat::kFolder);
  REQUIRE(f.samples.size() == 2);
  CHECK(f.samples[0].label == "bag");
  CHECK(f.samples[1].label == "coat");
  auto missing = LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "nope.csv", {});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().message().find("label table 'nope.csv' is not a file or folder") == 0);
  CHECK_FALSE(
      LoadDataset(r.repo->history(), r.repo->store(), "no-such-rev", "labels.csv", {}).ok());
}

TEST_CASE("diff reports added, removed, relabeled and changed samples with class counts") {
  DatasetRepo r(20);
  std::string first = r.CommitAll("v1");
  std::string table = r.Read("labels.csv");
  // Relabel 00003 (dress -> coat), drop 00004, add a new row, change 00005's pixels.
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = table.find(from);
    REQUIRE(at != std::string::npos);
    table.replace(at, from.size(), to);
  };
  replace("images/train/00003.png,dress\n", "images/train/00003.png,coat\n");
  replace("images/train/00004.png,tshirt\n", "");
  r.Write("images/train/new.png", r.Read("images/train/00000.png"));
  table += "images/train/new.png,sandal\n";
  r.Write("images/train/00005.png", r.Read("images/train/00006.png"));
  r.Write("labels.csv", table);
  std::string second = r.CommitAll("v2");

  auto load = [&](const std::string& rev) {
    return Must(LoadDataset(r.repo->history(), r.repo->store(), rev, "labels.csv", {}));
  };
  DatasetDiff d = DiffDatasets(load(first), load(second));
  REQUIRE(d.changes.size() == 4);
  CHECK(d.changes[0].path == "images/train/00003.png");
  CHECK(d.changes[0].kind == SampleChangeKind::kRelabeled);
  CHECK(d.changes[0].old_label == "dress");
  CHECK(d.changes[0].new_label == "coat");
  CHECK(d.changes[1].kind == SampleChangeKind::kRemoved);
  CHECK(d.changes[2].kind == SampleChangeKind::kContentChanged);
  CHECK(d.changes[3].kind == SampleChangeKind::kAdded);
  CHECK(d.changes[3].new_label == "sandal");
  CHECK(d.unchanged == 17);
  CHECK(d.per_label["dress"].relabeled_out == 1);
  CHECK(d.per_label["coat"].relabeled_in == 1);
  CHECK(d.per_label["tshirt"].removed == 1);
  CHECK(d.per_label["sandal"].added == 1);
  CHECK(d.per_label["tshirt"].after + 1 == d.per_label["tshirt"].before);
  CHECK(SampleDigestOf(load(first)) != SampleDigestOf(load(second)));
  CHECK(DiffDatasets(load(first), load(first)).changes.empty());
}

TEST_CASE("diff of a folder table: an image moved to another class folder is relabeled") {
  DatasetRepo r(4);
  r.Write("photos/coat/x.png", r.Read("images/train/00000.png"));
  r.Write("photos/coat/y.png", r.Read("images/train/00001.png"));
  r.Write("photos/bag/z.png", r.Read("images/train/00002.png"));
  std::string first = r.CommitAll("v1");
  Must(Move(*r.repo, "photos/coat/x.png", "photos/shirt/x.png"));
  // Another image moved and changed is a removal and an addition: nothing ties them.
  Must(Move(*r.repo, "photos/bag/z.png", "photos/shirt/z.png"));
  r.Write("photos/shirt/z.png", r.Read("images/train/00003.png"));
  std::string second = r.CommitAll("v2");
  auto load = [&](const std::string& rev) {
    return Must(LoadDataset(r.repo->history(), r.repo->store(), rev, "photos", {}));
  };
  DatasetDiff d = DiffDatasets(load(first), load(second));
  REQUIRE(d.changes.size() == 3);
  CHECK(d.changes[0].kind == SampleChangeKind::kRemoved);
  CHECK(d.changes[0].path == "photos/bag/z.png");
  CHECK(d.changes[1].kind == SampleChangeKind::kRelabeled);
  CHECK(d.changes[1].path == "photos/shirt/x.png");
  CHECK(d.changes[1].old_path == "photos/coat/x.png");
  CHECK(d.changes[1].old_label == "coat");
  CHECK(d.changes[1].new_label == "shirt");
  CHECK(d.changes[2].kind == SampleChangeKind::kAdded);
  CHECK(d.changes[2].path == "photos/shirt/z.png");
  CHECK(d.per_label["coat"].relabeled_out == 1);
  CHECK(d.per_label["coat"].removed == 0);
  CHECK(d.per_label["shirt"].relabeled_in == 1);
  CHECK(d.per_label["shirt"].added == 1);
  CHECK(d.unchanged == 1);
}

TEST_CASE("stats: image sizes most common first, with the width and height ranges") {
  DatasetRepo r(3);
  std::string table = "path,label\n";
  auto add = [&](const std::string& name, uint32_t w, uint32_t h) {
    std::vector<uint8_t> pixels(size_t{w} * h, static_cast<uint8_t>(name.size() * 7 + w));
    r.Write(name, testing::EncodePng({w, h}, pixels.data(), pixels.size()));
    table += name + ",x\n";
  };
  add("a.png", 5, 9);
  add("b.png", 40, 3);
  add("c.png", 7, 7);
  add("d.png", 7, 7);
  add("e.png", 7, 8);
  r.Write("sizes.csv", table);
  r.CommitAll("sizes");
  DatasetVersion v = Must(LoadDataset(r.repo->history(), r.repo->store(), "HEAD", "sizes.csv", {}));
  DatasetStats stats = Must(ComputeStats(v, r.repo->store()));
  REQUIRE(stats.shapes.size() == 4);
  CHECK(stats.shapes[0].width == 7);
  CHECK(stats.shapes[0].height == 7);
  CHECK(stats.shapes[0].samples == 2);
  CHECK(stats.shapes[1].width == 5);  // ties in (width, height) order
  CHECK(stats.shapes[2].width == 7);
  CHECK(stats.shapes[2].height == 8);
  CHECK(stats.shapes[3].width == 40);
  CHECK(stats.sizes.min_width == 5);
  CHECK(stats.sizes.max_width == 40);
  CHECK(stats.sizes.min_height == 3);
  CHECK(stats.sizes.max_height == 9);
}

LabelTable SyntheticTable(size_t n, size_t classes) {
  LabelTable t;
  for (size_t i = 0; i < n; ++i) {
    t.rows.push_back(
        {"img/" + std::to_string(i) + ".png", "c" + std::to_string(i % classes), i + 2, ""});
  }
  return t;
}

TEST_CASE("split: deterministic, near the ratios, and adding rows never moves old ones") {
  SplitOptions o;
  o.ratios = {0.8, 0.1, 0.1};
  o.names = {"train", "val", "test"};
  o.seed = 7;
  LabelTable t = SyntheticTable(5000, 5);
  std::vector<size_t> a = Must(AssignSplits(t, o));
  CHECK(Must(AssignSplits(t, o)) == a);
  size_t counts[3] = {};
  for (size_t s : a) ++counts[s];
  CHECK(counts[0] > 3800);
  CHECK(counts[0] < 4200);
  CHECK(counts[1] > 400);
  CHECK(counts[2] > 400);

  LabelTable bigger = SyntheticTable(6000, 5);
  std::vector<size_t> b = Must(AssignSplits(bigger, o));
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  o.seed = 8;
  CHECK(Must(AssignSplits(t, o)) != a);

  o.ratios = {0.5, 0.4};
  CHECK_FALSE(AssignSplits(t, o).ok());
  o.ratios = {1.2, -0.2};
  o.names = {"a", "b"};
  CHECK_FALSE(AssignSplits(t, o).ok());
}

TEST_CASE("split --stratify: every class in the ratios, earlier assignments kept") {
  SplitOptions o;
  o.ratios = {0.9, 0.1};
  o.names = {"train", "val"};
  o.seed = 1;
  o.stratify = true;
  LabelTable t = SyntheticTable(1000, 4);
  std::vector<size_t> a = Must(AssignSplits(t, o));
  std::map<std::string, std::array<int, 2>> per_class;
  for (size_t i = 0; i < a.size(); ++i) ++per_class[t.rows[i].label][a[i]];
  for (const auto& [label, c] : per_class) {
    CHECK(c[0] == 225);
    CHECK(c[1] == 25);
  }
  std::map<std::string, size_t> previous;
  for (size_t i = 0; i < a.size(); ++i) previous[t.rows[i].path] = a[i];
  LabelTable bigger = SyntheticTable(1200, 4);
  std::vector<size_t> b = Must(AssignSplits(bigger, o, previous));
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  per_class.clear();
  for (size_t i = 0; i < b.size(); ++i) ++per_class[bigger.rows[i].label][b[i]];
  for (const auto& [label, c] : per_class) CHECK(c[1] == 30);
}

}  // namespace
}  // namespace vrepo
