// A dataset version: a label table at a commit joined with that commit's files, and what
// users ask of it (check, stats, split, sample-level diff). Reads only history and the
// object store, never the working tree. Functions are safe to call from one thread at a
// time per History; the ObjectStore is read concurrently inside.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vrepo/dataset/image.h"
#include "vrepo/dataset/label_table.h"
#include "vrepo/history/history.h"
#include "vrepo/store/object_store.h"
#include "vrepo/util/reporter.h"
#include "vrepo/util/status.h"

namespace vrepo {

struct Sample {
  std::string path;
  std::string label;
  ContentId id;
  uint64_t size = 0;
  uint64_t line = 0;  // the table line that named it (0 for folder tables)
};

enum class ProblemKind { kMissing, kDuplicatePath, kEmptyLabel, kBadImage, kLabelConflict };
const char* ProblemKindName(ProblemKind kind);  // "missing", "duplicate-path", ...

struct DatasetProblem {
  ProblemKind kind;
  uint64_t line = 0;
  std::string path;
  std::string detail;  // one line: why
};

struct DatasetVersion {
  std::string commit;  // 40 hex; empty for the staging index's or working tree's version
  std::string tree;    // 40 hex; empty likewise
  LabelTable table;
  std::vector<Sample> samples;  // rows whose path is a file of the commit, in table order
  // Found while joining: rows naming no file of the commit, and repeated paths (the later
  // row is the one dropped from `samples`).
  std::vector<DatasetProblem> problems;
};

// Resolves `rev`, reads the table `table_path` from that commit (a .csv/.jsonl file, or a
// folder in folder-per-class layout) and joins its rows with the commit's files.
// NotFound when the table is neither a file nor a folder of the commit.
Result<DatasetVersion> LoadDataset(History& history, const ObjectStore& store,
                                   const std::string& rev, const std::string& table_path,
                                   const TableOptions& options);

// Gives the text of a table file found among the files being joined.
using TableReader = std::function<Result<std::string>(const FileEntry& file)>;

// LoadDataset over `files` (sorted by path) rather than a commit's: `where` names them in
// messages ("the working tree"). The version's commit and tree stay empty.
Result<DatasetVersion> JoinDataset(const std::vector<FileEntry>& files,
                                   const std::string& table_path, const TableOptions& options,
                                   const std::string& where, const TableReader& read_table);

// LoadDataset for several revisions at once, each on its own thread with its own History
// opened on `history`'s repository. Results are in the order of `revs`.
Result<std::vector<DatasetVersion>> LoadDatasets(History& history, const ObjectStore& store,
                                                 const std::vector<std::string>& revs,
                                                 const std::string& table_path,
                                                 const TableOptions& options);

// Digest of the version's samples (sample_digest.h).
std::string SampleDigestOf(const DatasetVersion& version);

struct CheckReport {
  uint64_t rows = 0;
  uint64_t images_decoded = 0;           // distinct contents decoded
  std::vector<DatasetProblem> problems;  // sorted by line, then path
};

// Every problem of the version: its join problems, empty labels, images that do not decode
// (each distinct content decoded once, in parallel), and one content under two labels.
// `reporter` (may be null) hears of the decoding's progress.
Result<CheckReport> CheckDataset(const DatasetVersion& version, const ObjectStore& store,
                                 Reporter* reporter = nullptr);

struct DuplicateGroup {
  ContentId id;
  std::vector<std::string> paths;  // table order
};

// Samples of one image size.
struct ShapeCount {
  uint32_t width = 0, height = 0, channels = 0;
  uint64_t samples = 0;
};

// The smallest and largest width and height among readable images (all 0 when none).
struct SizeRange {
  uint32_t min_width = 0, max_width = 0, min_height = 0, max_height = 0;
};

struct DatasetStats {
  uint64_t samples = 0;
  uint64_t distinct_images = 0;
  uint64_t bytes = 0;                          // sum of sample sizes
  std::map<std::string, uint64_t> per_label;   // label -> samples
  std::map<std::string, uint64_t> per_format;  // "png" -> samples
  // Every distinct size of the readable images, most samples first (then by width, height,
  // channels): real datasets have thousands, so readers show the first few.
  std::vector<ShapeCount> shapes;
  SizeRange sizes;
  std::vector<DuplicateGroup> duplicates;  // contents under more than one path
  std::string sample_digest;
};

// Reads only image headers (each distinct content once, in parallel).
Result<DatasetStats> ComputeStats(const DatasetVersion& version, const ObjectStore& store);

struct SplitOptions {
  std::vector<double> ratios;      // positive, summing to 1 (within 1e-6)
  std::vector<std::string> names;  // one per ratio
  uint64_t seed = 0;
  bool stratify = false;
};

// InvalidArgument unless the ratios are positive and sum to 1 and there is a name for each.
Status CheckSplitOptions(const SplitOptions& options);

// Assigns each row of `table` a split index. Without stratify a row's split depends only on
// (seed, path), so adding rows never moves an existing one. With stratify, classes are
// balanced: rows found in `previous` (path -> split index, e.g. read back from the split
// tables written before) keep their split and new rows of each class go, in (seed, path)
// hash order, to the split furthest below its share of that class.
Result<std::vector<size_t>> AssignSplits(const LabelTable& table, const SplitOptions& options,
                                         const std::map<std::string, size_t>& previous = {});

enum class SampleChangeKind { kAdded, kRemoved, kRelabeled, kContentChanged, kRelabeledAndChanged };
const char* SampleChangeKindName(SampleChangeKind kind);

struct SampleChange {
  SampleChangeKind kind;
  std::string path;
  std::string old_label, new_label;  // empty where the side has none
  std::optional<ContentId> old_id, new_id;
  // A folder-table sample relabeled by moving it to another class folder: its path before
  // (`path` is the one after); "" otherwise.
  std::string old_path = {};
};

struct ClassCounts {
  uint64_t before = 0, after = 0;
  uint64_t added = 0, removed = 0, relabeled_in = 0, relabeled_out = 0, content_changed = 0;
};

struct DatasetDiff {
  std::vector<SampleChange> changes;  // sorted by path
  std::map<std::string, ClassCounts> per_label;
  uint64_t unchanged = 0;
};

// Sample-level differences keyed by path. In folder tables an image moved, bytes unchanged,
// from one class folder to another (TABLE/A/REST -> TABLE/B/REST) is the same sample
// relabeled, when no other removed or added sample has its bytes and REST.
DatasetDiff DiffDatasets(const DatasetVersion& from, const DatasetVersion& to);

}  // namespace vrepo
