#include "vrepo/train/preprocess.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "vrepo/train/models.h"

namespace vrepo::train {
namespace {

using json = nlohmann::json;

constexpr int kMaxSide = 4096;

Status Bad(const std::string& where, const std::string& key, const std::string& problem) {
  return Status::Corruption(where + ": preprocessing." + key + " " + problem);
}

}  // namespace

bool operator==(const Preprocessing& a, const Preprocessing& b) {
  return a.resize == b.resize && a.crop == b.crop && a.mean == b.mean && a.std == b.std &&
         a.channels == b.channels && a.interpolation == b.interpolation;
}

json PreprocessingToJson(const Preprocessing& p) {
  return json{{"resize", p.resize}, {"crop", p.crop},         {"mean", p.mean},
              {"std", p.std},       {"channels", p.channels}, {"interpolation", p.interpolation}};
}

Result<Preprocessing> PreprocessingFromJson(const json& j, const std::string& where) {
  if (!j.is_object()) return Status::Corruption(where + ": preprocessing is not an object");
  Preprocessing p;
  for (const char* key : {"resize", "crop", "channels"}) {
    auto it = j.find(key);
    if (it == j.end()) return Bad(where, key, "is missing");
    if (!it->is_number_integer()) return Bad(where, key, "is not an integer");
    const int64_t v = it->get<int64_t>();
    if (v < 1 || v > kMaxSide) return Bad(where, key, "is out of range 1..4096");
  }
  p.resize = j["resize"].get<int>();
  p.crop = j["crop"].get<int>();
  p.channels = j["channels"].get<int>();
  if (p.channels != 1 && p.channels != 3) return Bad(where, "channels", "is not 1 or 3");
  for (const char* key : {"mean", "std"}) {
    auto it = j.find(key);
    if (it == j.end()) return Bad(where, key, "is missing");
    if (!it->is_array() || it->size() != static_cast<size_t>(p.channels)) {
      return Bad(where, key, "is not a list of " + std::to_string(p.channels) + " numbers");
    }
    std::vector<double> values;
    for (const json& v : *it) {
      if (!v.is_number() || !std::isfinite(v.get<double>())) {
        return Bad(where, key, "holds a value that is not a finite number");
      }
      values.push_back(v.get<double>());
    }
    (std::string(key) == "mean" ? p.mean : p.std) = std::move(values);
  }
  for (double s : p.std) {
    if (s <= 0) return Bad(where, "std", "holds a value that is not positive");
  }
  auto it = j.find("interpolation");
  if (it == j.end() || !it->is_string()) return Bad(where, "interpolation", "is not a string");
  p.interpolation = it->get<std::string>();
  if (p.interpolation != "bilinear") return Bad(where, "interpolation", "is not \"bilinear\"");
  return p;
}

Result<Preprocessing> DefaultPreprocessing(const std::string& arch) {
  const auto& names = ModelNames();
  if (std::find(names.begin(), names.end(), arch) == names.end()) {
    return Status::InvalidArgument("unknown model '" + arch + "'");
  }
  Preprocessing p;
  if (arch == "small-cnn") {
    p.resize = p.crop = 28;
    p.mean = {0.5};
    p.std = {0.5};
    p.channels = 1;
  }
  return p;
}

Result<Preprocessing> WithImageSize(Preprocessing p, int image_size) {
  if (image_size < 1 || image_size > kMaxSide) {
    return Status::InvalidArgument("--image-size " + std::to_string(image_size) +
                                   ": must be 1..4096");
  }
  const double scaled = std::round(static_cast<double>(image_size) * p.resize / p.crop);
  p.resize = static_cast<int>(std::min<double>(kMaxSide, std::max(1.0, scaled)));
  p.crop = image_size;
  return p;
}

}  // namespace vrepo::train
