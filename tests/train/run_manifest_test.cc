#include "vrepo/train/run_manifest.h"

#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <tuple>
#include <vector>

#include "must.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

RunManifest SampleManifest() {
  RunManifest m;
  m.name = "r1";
  m.status = RunStatus::kEarlyStopped;
  m.dataset_rev = "main";
  m.dataset_commit = std::string(40, 'a');
  m.dataset_tree = std::string(40, 'b');
  m.train = {"labels.csv", 0, 90, std::string(64, 'c')};
  m.val = {"labels.csv", 0.1, 10, std::string(64, 'd')};
  m.classes = {"bag", "coat"};
  m.model = "small-cnn";
  m.config.labels = "labels.csv";
  m.config.epochs = 2;
  m.seed = 3;
  m.versions.device_name = "cpu";
  EpochMetrics e;
  e.epoch = 1;
  e.train_loss = 0.5;
  e.val_loss = NAN;  // no validation loss: stored as null
  e.val_accuracy = 0.75;
  e.per_class_accuracy = {{"bag", 1.0}, {"coat", 0.5}};
  m.epochs = {e};
  m.best_epoch = 1;
  m.best_val_accuracy = 0.75;
  m.confusion = {{3, 0}, {1, 2}};
  m.weights_id = std::string(64, 'e');
  m.weights_size = 1234;
  return m;
}

TEST_CASE("RunManifest: ToJson and FromJson round-trip every field, NaN as null") {
  const RunManifest m = SampleManifest();
  const json j = ToJson(m);
  CHECK(j["status"] == "early-stopped");
  CHECK(j["epochs"][0]["val_loss"].is_number());  // NaN until dumped
  const json stored = json::parse(j.dump());
  CHECK(stored["epochs"][0]["val_loss"].is_null());
  RunManifest back = testing::Must(FromJson(stored, "run.json"));
  CHECK(back.status == RunStatus::kEarlyStopped);
  CHECK(back.train.sample_digest == m.train.sample_digest);
  CHECK(back.val.split == 0.1);
  CHECK(back.classes == m.classes);
  CHECK(back.config.epochs == 2);
  REQUIRE(back.epochs.size() == 1);
  CHECK(std::isnan(back.epochs[0].val_loss));
  CHECK(back.epochs[0].per_class_accuracy.at("coat") == 0.5);
  CHECK(back.confusion == m.confusion);
  CHECK(back.weights_size == 1234);
  CHECK(ToJson(back).dump() == j.dump());
}

TEST_CASE("RunManifest: an older record without some fields reads with defaults") {
  json old = {{"format", 1}, {"status", "interrupted"}, {"model", "resnet18"}};
  RunManifest m = testing::Must(FromJson(old, "run.json"));
  CHECK(m.status == RunStatus::kInterrupted);
  CHECK(m.model == "resnet18");
  CHECK(m.epochs.empty());
  CHECK(m.weights_path == "model.safetensors");
  CHECK(m.legacy_preprocessing);  // no "preprocessing": sized from the samples
  CHECK_FALSE(ToJson(m).contains("preprocessing"));
  CHECK(FromJson(json{{"format", 3}}, "run.json").status().message() ==
        "run.json has an unknown format (newer vrepo?)");
  CHECK(FromJson(json::array(), "run.json").status().code() == Status::Code::kCorruption);
}

TEST_CASE("RunManifest: the preprocessing round-trips and a bad one is refused by its key") {
  RunManifest m = SampleManifest();
  m.preprocessing.resize = 73;
  m.preprocessing.crop = 64;
  json j = json::parse(ToJson(m).dump());
  CHECK(j["format"] == 2);
  CHECK(j["preprocessing"]["crop"] == 64);
  RunManifest back = testing::Must(FromJson(j, "run.json"));
  CHECK_FALSE(back.legacy_preprocessing);
  CHECK(back.preprocessing == m.preprocessing);
  j["preprocessing"]["std"] = json::array({0.2, 0.0, 0.2});
  CHECK(FromJson(j, "run.json").status().message() ==
        "run.json: preprocessing.std holds a value that is not positive");
  j["preprocessing"]["channels"] = 2;
  CHECK(FromJson(j, "run.json").status().message() ==
        "run.json: preprocessing.channels is not 1 or 3");
}

TEST_CASE("RunManifest: a data-parallel run's world round-trips and a bad one is refused") {
  RunManifest m = SampleManifest();
  CHECK(ToJson(m)["distributed"].is_null());
  m.distributed = {2, "gloo", {"a", "b"}, {std::string(64, '1'), std::string(64, '2')}};
  json j = json::parse(ToJson(m).dump());
  RunManifest back = testing::Must(FromJson(j, "run.json"));
  CHECK(back.distributed.world_size == 2);
  CHECK(back.distributed.backend == "gloo");
  CHECK(back.distributed.hosts == m.distributed.hosts);
  CHECK(back.distributed.train_digests == m.distributed.train_digests);
  for (const auto& [key, value, why] : std::vector<std::tuple<std::string, json, std::string>>{
           {"/distributed/world_size", 0,
            "/distributed/world_size is not a number from 1 to "
            "65536"},
           {"/distributed/world_size", "2",
            "/distributed/world_size is not a number from 1 to "
            "65536"},
           {"/distributed/backend", "mpi", "/distributed/backend is not gloo or nccl"},
           {"/distributed/hosts", json::array({"a"}),
            "/distributed/hosts is not a list of strings, one per rank"},
           {"/distributed/train_sample_digests", json::array({"x", "y"}),
            "/distributed/train_sample_digests holds a digest that is not 64 hex digits"}}) {
    json bad = j;
    bad[json::json_pointer(key)] = value;
    auto read = FromJson(bad, "run.json");
    CHECK_MESSAGE(read.status().message().find(why) != std::string::npos, key);
  }
}

}  // namespace
}  // namespace vrepo::train
