// vrepo train [REV] --labels TABLE ...: trains on the commit's samples (the repository is
// open read-only meanwhile, so other commands are never blocked), then takes the writer lock
// only to write the run record under refs/runs/.
#include <nlohmann/json.hpp>

#include "launcher.h"
#include "table_source.h"
#include "train_cli.h"
#include "vrepo/train/config.h"
#include "vrepo/train/model_store.h"
#include "vrepo/train/models.h"

namespace vrepo::cli {
namespace {

// --freeze's help: the stage names of each model, models with the same stages on one line.
std::string FreezeHelp() {
  std::string help =
      "none, backbone or until:STAGE, freezing every stage up to STAGE (default none)";
  std::vector<std::pair<std::string, std::string>> lines;  // models, stages
  for (const auto& model : vrepo::train::ModelNames()) {
    auto stages = vrepo::train::FreezeStages(model);
    if (!stages.ok()) continue;
    std::string described = vrepo::train::DescribeStages(*stages);
    if (!lines.empty() && lines.back().second == described) {
      lines.back().first += ", " + model;
    } else {
      lines.emplace_back(model, described);
    }
  }
  for (const auto& [models, stages] : lines) help += "\n  " + models + ": " + stages;
  return help;
}

using train::TrainConfig;

// Command-line values land in `flags`; each option given copies its field over the config
// file's, so flags override the file and the file overrides the defaults.
struct TrainArgs {
  TrainConfig flags;
  std::string rev;
  std::string config_file;
  bool json = false;
  int nproc = 0;
  std::string backend = "auto";
  int timeout = 60;
  CLI::Option* labels_opt = nullptr;
  CLI::Option* val_opt = nullptr;
  CLI::Option* model_opt = nullptr;
  std::vector<std::function<void(TrainConfig&)>> apply;
};

template <class T>
CLI::Option* Flag(CLI::App* sub, const std::shared_ptr<TrainArgs>& a, const std::string& name,
                  T TrainConfig::*field, const std::string& description) {
  CLI::Option* opt = sub->add_option(name, a->flags.*field, description);
  TrainArgs* args = a.get();
  a->apply.push_back([opt, field, args](TrainConfig& c) {
    if (opt->count() > 0) c.*field = args->flags.*field;
  });
  return opt;
}

int RunTrain(const Globals& g, TrainArgs& a) {
  TrainConfig config;
  if (!a.config_file.empty()) {
    auto from_file = train::ReadConfigFile(a.config_file);
    if (!from_file.ok()) return Fail("train", from_file.status());
    config = std::move(from_file).value();
  }
  // Table paths from the config file are paths in the commit; those typed on the command line
  // are relative to the current folder, as in every other command.
  std::string labels_flag, val_flag;
  for (const auto& apply : a.apply) apply(config);
  if (!a.rev.empty()) config.rev = a.rev;
  if (a.labels_opt->count() > 0) labels_flag = config.labels;
  if (a.val_opt->count() > 0) val_flag = config.val_labels;
  if (config.labels.empty()) {
    return FailWith("train", "no label table: give --labels TABLE or \"labels\" in --config",
                    kExitUsage);
  }
  // A base file on disk is recorded by absolute path, so that reproduce finds it from anywhere.
  if (!config.base.empty() && config.base.rfind("run:", 0) != 0 &&
      config.base.rfind("model:", 0) != 0 && config.base[0] != '/') {
    config.base = g.cwd + "/" + config.base;
  }
  Status valid = train::ValidateConfig(config);
  if (!valid.ok()) return Fail("train", valid);
  if (a.backend == "auto") a.backend = train::DefaultBackend(config.device);
  Status backend = train::CheckBackend(a.backend);
  if (!backend.ok()) return Fail("train", backend);

  // A data-parallel job: started here as --nproc local ranks, or this process is one rank of
  // a job that a launcher or torchrun started.
  auto rank = RankFromEnvironment(a.backend, a.timeout);
  if (!rank.ok()) return Fail("train", rank.status());
  if (!*rank && a.nproc > 1) return LaunchLocalRanks("train", a.nproc, a.timeout);
  if (*rank && a.nproc > 0 && a.nproc != (*rank)->world_size) {
    return FailWith("train",
                    "--nproc " + std::to_string(a.nproc) + ", but this process is rank " +
                        std::to_string((*rank)->rank) + " of a job of " +
                        std::to_string((*rank)->world_size) +
                        " (RANK and WORLD_SIZE are set, as torchrun sets them): leave --nproc out",
                    kExitUsage);
  }
  std::unique_ptr<train::RankGroup> group;
  if (*rank) {
    int code = kExitFatal;
    group = JoinJob("train", **rank, &code);
    if (!group) return code;
  }
  const bool speaks = !group || group->rank() == 0;

  std::string run_commit;
  train::TrainResult result;
  {
    auto repo = OpenRepository(g, /*write=*/false);
    if (!repo.ok()) return Fail("train", repo.status());
    TerminalReporter reporter(a.json);
    // Training reads the commit's tables; a user editing them in the working tree is told so.
    std::vector<std::string> typed;  // the tables given on the command line, in that order
    for (const std::string* t : {&labels_flag, &val_flag}) {
      if (!t->empty()) typed.push_back(*t);
    }
    auto paths = CommittedTablePaths(**repo, g, config.rev, typed, &reporter);
    if (!paths.ok()) return Fail("train", paths.status());
    size_t next = 0;
    if (!labels_flag.empty()) config.labels = (*paths)[next++];
    if (!val_flag.empty()) config.val_labels = (*paths)[next++];
    // A run or model base names its architecture: --model follows it, or must agree.
    if (config.base.rfind("run:", 0) == 0 || config.base.rfind("model:", 0) == 0) {
      auto arch = train::BaseArchitecture(**repo, config.base);
      if (!arch.ok()) return Fail("train", arch.status());
      const bool model_given = a.model_opt->count() > 0 || config.model != TrainConfig{}.model;
      if (model_given && config.model != *arch) {
        return FailWith("train",
                        "--base " + config.base + " is a " + *arch + " model, not " + config.model +
                            " (leave --model out)",
                        kExitFatal);
      }
      config.model = *arch;
    }
    // Train checks this too; here the message can name the way out.
    if (!config.name.empty()) {
      Status name = train::CheckNewRunName((*repo)->history(), config.name);
      if (!name.ok()) {
        return FailWith("train",
                        name.message() + " (choose another --name, or remove that run: " +
                            "vrepo runs rm " + config.name + ")",
                        kExitFatal);
      }
    }
    train::TrainHooks hooks;
    hooks.interrupted = InstallInterruptHandler(group != nullptr);
    hooks.reporter = speaks ? &reporter : nullptr;
    hooks.group = group.get();
    auto trained = train::Train(**repo, config, hooks);
    if (!trained.ok()) {
      return Fail("train",
                  InRank(group.get(), WithTableHint(trained.status(),
                                                    {config.path_column, config.label_column})));
    }
    result = std::move(trained).value();
  }
  // Every rank holds the same result; rank 0 alone records it.
  if (!speaks) {
    return result.status == train::RunStatus::kInterrupted || result.epochs.empty()
               ? kExitInterrupted
               : kExitOk;
  }
  if (result.epochs.empty()) {
    return FailWith("train", "interrupted before the first epoch ended; no run recorded",
                    kExitInterrupted);
  }

  auto repo = OpenRepository(g, /*write=*/true);
  if (!repo.ok()) return Fail("train: recording the run", repo.status());
  auto commit = train::WriteRunRecord(**repo, train::ManifestOf(result), result.weights,
                                      result.val_predictions);
  if (!commit.ok()) return Fail("train: recording the run", commit.status());
  auto run = train::ReadRun(**repo, *commit);
  if (!run.ok()) return Fail("train: reading back the run", run.status());
  std::string name = run->DisplayName();
  if (a.json) {
    Print(RunJson(*run).dump(2) + "\n");
  } else {
    if (result.best_epoch > 0) {
      Print("best epoch " + std::to_string(result.best_epoch) + ": val acc " +
            Fixed(100 * result.epochs[result.best_epoch - 1].val_accuracy, 2) + "% (" +
            train::RunStatusName(result.status) + ")\n");
    }
    Print("run " + name + " recorded: " + *commit + " (refs/runs/" + name + ")\n");
  }
  return result.status == train::RunStatus::kInterrupted ? kExitInterrupted : kExitOk;
}

}  // namespace

Command RegisterTrain(CLI::App& app, Globals& g) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand(
      "train",
      "Train an image classifier on a commit's samples and record the run\n"
      "Reads the samples of REV (default HEAD) straight from the store, not from the working "
      "tree, trains the model, and records the run as a commit under refs/runs/NAME: run.json "
      "(dataset commit and tree, sample digests, base model, full config and seed, versions, "
      "metrics per epoch, weights id), metrics.jsonl, model.safetensors and plots/*.png. "
      "Options override the --config file's values. The repository is read-only while "
      "training; the writer lock is taken only to write the record. Ctrl-C stops after the "
      "current batch and records the run as interrupted, with the epochs it completed (exit "
      "130); a run stopped before its first epoch ended is not recorded.");
  sub->add_option("REV", a->rev, "The dataset commit (default HEAD)");
  a->labels_opt = Flag(sub, a, "--labels", &TrainConfig::labels,
                       "Label table of the training samples (.csv, .jsonl or class folders)")
                      ->type_name("TABLE");
  a->val_opt =
      Flag(sub, a, "--val", &TrainConfig::val_labels, "Label table of the validation samples")
          ->type_name("TABLE");
  Flag(sub, a, "--val-split", &TrainConfig::val_split,
       "Share of --labels held out for validation when --val is not given (default 0.1)");
  Flag(sub, a, "--path-column", &TrainConfig::path_column, "Column of image paths (path)");
  Flag(sub, a, "--label-column", &TrainConfig::label_column, "Column of labels (label)");
  a->model_opt =
      Flag(sub, a, "--model", &TrainConfig::model,
           "small-cnn, resnet18, resnet34, resnet50, mobilenet_v3_large, efficientnet_b0, "
           "convnext_tiny or vit_b_16 (default small-cnn; with "
           "--base run:ID or model:NAME, that base's)");
  Flag(sub, a, "--base", &TrainConfig::base,
       "Start from weights: a safetensors file, run:ID for a recorded run, or model:NAME for "
       "an imported model (vrepo model import)")
      ->type_name("PATH|run:ID|model:NAME");
  Flag(sub, a, "--freeze", &TrainConfig::freeze, FreezeHelp())->type_name("SPEC");
  Flag(sub, a, "--lora", &TrainConfig::lora_rank,
       "LoRA of rank N: adapters on the base's layers, the base frozen, the head trained in "
       "full; the run stores only adapter and head (needs --base)")
      ->type_name("RANK");
  Flag(sub, a, "--lora-alpha", &TrainConfig::lora_alpha,
       "LoRA scale numerator: updates are scaled by ALPHA/RANK (default: RANK, scale 1)")
      ->type_name("ALPHA");
  Flag(sub, a, "--lora-targets", &TrainConfig::lora_targets,
       "Layers to adapt: module paths (layer4), names or globs (*.conv2), comma-separated "
       "(default: every convolution of a CNN; attention and MLP of a ViT)")
      ->delimiter(',')
      ->type_name("LIST");
  Flag(sub, a, "--epochs", &TrainConfig::epochs, "Epochs (default 10)");
  Flag(sub, a, "--batch-size", &TrainConfig::batch_size, "Batch size (default 64)");
  Flag(sub, a, "--lr", &TrainConfig::lr, "Learning rate (default 0.001)");
  Flag(sub, a, "--head-lr", &TrainConfig::head_lr, "Learning rate of the head (default --lr)");
  Flag(sub, a, "--backbone-lr", &TrainConfig::backbone_lr,
       "Learning rate of the non-head parameters (default --lr)");
  Flag(sub, a, "--schedule", &TrainConfig::schedule,
       "Learning-rate schedule, per step: constant, cosine (to 0 at the end) or step (x0.1 "
       "every --step-epochs) (default constant)");
  Flag(sub, a, "--warmup-epochs", &TrainConfig::warmup_epochs,
       "Linear warmup from 0 over the first N epochs, per step (default 0)");
  Flag(sub, a, "--step-epochs", &TrainConfig::step_epochs,
       "Epochs between x0.1 steps of --schedule step (default: epochs/3 rounded up)");
  Flag(sub, a, "--label-smoothing", &TrainConfig::label_smoothing,
       "Label smoothing of the training loss, 0..1 (default 0)");
  Flag(sub, a, "--grad-clip", &TrainConfig::grad_clip,
       "Clip the gradients' global L2 norm to X (default 0: off)");
  Flag(sub, a, "--retain", &TrainConfig::retain,
       "Also evaluate this table after every epoch, to watch forgetting (repeatable; REV "
       "defaults to the run's dataset commit; path in the commit)")
      ->allow_extra_args(false)
      ->type_name("TABLE[@REV]");
  Flag(sub, a, "--optimizer", &TrainConfig::optimizer, "adamw or sgd (default adamw)");
  Flag(sub, a, "--weight-decay", &TrainConfig::weight_decay, "Weight decay (default 0)");
  Flag(sub, a, "--momentum", &TrainConfig::momentum, "SGD momentum (default 0.9)");
  Flag(sub, a, "--augment", &TrainConfig::augment, "Augmentations: flip, crop (comma-separated)")
      ->delimiter(',')
      ->type_name("LIST");
  Flag(sub, a, "--image-size", &TrainConfig::image_size,
       "Crop side N; the shorter side is resized to round(N*256/224) first (default: the "
       "base's or the model's preprocessing: 224, small-cnn 28)");
  Flag(sub, a, "--seed", &TrainConfig::seed, "Seed of weights, order and augmentation (0)");
  Flag(sub, a, "--device", &TrainConfig::device, "auto, cpu or cuda (default auto)");
  Flag(sub, a, "--precision", &TrainConfig::precision,
       "fp32, or bf16 (autocast; on the CPU fast with AVX-512 bf16 or AMX); default auto: "
       "bf16 on CUDA, fp32 on the CPU");
  CLI::Option* det = sub->add_flag("--deterministic", a->flags.deterministic,
                                   "Deterministic algorithms, one compute thread: a reproduction "
                                   "gives bit-identical weights");
  a->apply.push_back([det](TrainConfig& c) {
    if (det->count() > 0) c.deterministic = true;
  });
  Flag(sub, a, "--early-stop", &TrainConfig::early_stop,
       "Stop after N epochs without a better validation accuracy (default off)");
  Flag(sub, a, "--name", &TrainConfig::name, "Run name, the ref refs/runs/NAME (default: id)");
  Flag(sub, a, "--workers", &TrainConfig::workers, "Loader threads (default: one per core)");
  Flag(sub, a, "--prefetch", &TrainConfig::prefetch, "Batches decoded ahead (default 4)");
  Flag(sub, a, "--max-image-pixels", &TrainConfig::max_image_pixels,
       "Refuse images whose header claims more pixels (default 89478485, as PIL)");
  CLI::Option* sync_bn =
      sub->add_flag("--sync-bn", a->flags.sync_bn,
                    "Several processes: batch norm with the statistics of the whole global batch "
                    "(all ranks) instead of each rank's share");
  a->apply.push_back([sync_bn](TrainConfig& c) {
    if (sync_bn->count() > 0) c.sync_bn = true;
  });
  sub->add_option("--nproc", a->nproc,
                  "Train data-parallel in N local processes (ranks), each on its share of every "
                  "batch (--batch-size is the global batch); under torchrun leave it out")
      ->type_name("N")
      ->check(CLI::Range(1, 1024));
  sub->add_option("--backend", a->backend,
                  "Several processes: gloo or nccl (CUDA, where libtorch has it); default "
                  "auto: nccl when training on CUDA with a libtorch that has it, else gloo")
      ->type_name("NAME");
  sub->add_option("--timeout", a->timeout,
                  "Several processes: seconds a rank waits for the others before the job fails, "
                  "naming the ranks behind (default 60)")
      ->type_name("SEC")
      ->check(CLI::Range(1, 86400));
  sub->add_option("--config", a->config_file,
                  "A JSON file of these settings (keys as in "
                  "run.json's config)")
      ->type_name("FILE");
  sub->add_flag("--json", a->json,
                "Print the recorded run as JSON (the object `runs show --json` gives)");
  return {sub, [&g, a] { return RunTrain(g, *a); }};
}

}  // namespace vrepo::cli
