#include "build_config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "edgert/internal/str.h"

namespace edgert {

namespace fs = std::filesystem;

namespace {

Status at(const std::string& origin, const YAML::Node& n, const std::string& msg) {
  const YAML::Mark m = n.Mark();
  if (m.line >= 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ":", m.line + 1, ":", m.column + 1, ": ", msg));
  return Status(StatusCode::kInvalidArgument, strCat(origin, ": ", msg));
}

Result<std::string> scalar(const std::string& origin, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) return at(origin, n, strCat("'", key, "' must be a string"));
  return n.as<std::string>();
}

// "unknown key 'k' (known: a, b, c)" at the key's line.
Status unknownKey(const std::string& origin, const YAML::Node& n, const std::string& key,
                  const std::set<std::string>& known) {
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  return at(origin, n, strCat("unknown key '", key, "' (known: ", list, ")"));
}

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base) / p).lexically_normal().string();
}

Status parseCalibration(const std::string& origin, const std::string& base_dir, const YAML::Node& v,
                        BuildConfig* cfg) {
  if (!v.IsMap())
    return at(origin, v,
              "'calibration' must be a mapping (images, algorithm, percentile, batches, cache, "
              "preprocess, min_cosine, min_top1, check_batches, symmetric)");
  static const std::set<std::string> kKeys = {
      "images",     "algorithm",  "percentile", "batches",       "cache",
      "preprocess", "min_cosine", "min_top1",   "check_batches", "symmetric"};
  BuildOptions& o = cfg->options;
  for (const auto& kv : v) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& x = kv.second;
    if (!kKeys.count(key)) return unknownKey(origin, kv.first, "calibration." + key, kKeys);
    if (key == "images") {
      EDGERT_ASSIGN_OR_RETURN(std::string s, scalar(origin, x, "calibration.images"));
      cfg->calib_images = resolve(base_dir, s);
    } else if (key == "cache") {
      EDGERT_ASSIGN_OR_RETURN(std::string s, scalar(origin, x, "calibration.cache"));
      o.calib_cache = resolve(base_dir, s);
    } else if (key == "algorithm") {
      EDGERT_ASSIGN_OR_RETURN(o.calib_algo, scalar(origin, x, "calibration.algorithm"));
      if (o.calib_algo != "entropy" && o.calib_algo != "minmax" && o.calib_algo != "percentile")
        return at(origin, x,
                  strCat("calibration.algorithm must be entropy, minmax or percentile, got '",
                         o.calib_algo, "'"));
    } else if (key == "percentile") {
      double d;
      if (!x.IsScalar() || !YAML::convert<double>::decode(x, d) || !(d > 0 && d <= 100))
        return at(origin, x, "calibration.percentile must be a number in (0, 100]");
      o.calib_percentile = d;
    } else if (key == "min_cosine" || key == "min_top1") {
      double d;
      if (!x.IsScalar() || !YAML::convert<double>::decode(x, d) || !(d >= 0 && d <= 1))
        return at(origin, x, "calibration." + key + " must be a number in [0, 1]");
      (key == "min_cosine" ? o.int8_min_cosine : o.int8_min_top1) = d;
    } else if (key == "symmetric") {
      bool b;
      if (!x.IsScalar() || !YAML::convert<bool>::decode(x, b))
        return at(origin, x, "calibration.symmetric must be true or false");
      o.int8_symmetric = b;
    } else if (key == "check_batches") {
      int n;
      if (!x.IsScalar() || !YAML::convert<int>::decode(x, n) || n < 1)
        return at(origin, x, "calibration.check_batches must be a positive integer");
      o.int8_check_batches = n;
    } else if (key == "batches") {
      int n;
      if (!x.IsScalar() || !YAML::convert<int>::decode(x, n) || n < 0)
        return at(origin, x, "calibration.batches must be a non-negative integer (0: all images)");
      o.calib_batches = n;
    } else {
      if (!x.IsMap())
        return at(origin, x,
                  "calibration.preprocess must be a mapping as in element configs (resize, "
                  "resize_short, interpolation, scale, mean, std, order, layout, pad_value)");
      cfg->calib_preprocess = x;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<BuildConfig> parseBuildConfig(const std::string& text, const std::string& origin,
                                     const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ":", e.mark.line + 1, ":", e.mark.column + 1,
                         ": YAML syntax error: ", e.msg));
  }
  if (!root.IsMap())
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": expected a mapping of build settings"));
  static const std::set<std::string> kKeys = {
      "model",       "output",       "precision",   "target",           "shapes",
      "batch_split", "input_format", "calibration", "layer_precisions", "timed_precision"};
  BuildConfig cfg;
  cfg.origin = origin;
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (!kKeys.count(key)) return unknownKey(origin, kv.first, key, kKeys);
      if (key == "model") {
        EDGERT_ASSIGN_OR_RETURN(std::string s, scalar(origin, v, key));
        cfg.model = resolve(base_dir, s);
      } else if (key == "output") {
        EDGERT_ASSIGN_OR_RETURN(std::string s, scalar(origin, v, key));
        cfg.output = resolve(base_dir, s);
      } else if (key == "precision") {
        EDGERT_ASSIGN_OR_RETURN(cfg.options.precision, scalar(origin, v, key));
        if (cfg.options.precision != "fp32" && cfg.options.precision != "fp16" &&
            cfg.options.precision != "int8")
          return at(
              origin, v,
              strCat("precision must be fp32, fp16 or int8, got '", cfg.options.precision, "'"));
      } else if (key == "target") {
        EDGERT_ASSIGN_OR_RETURN(cfg.options.target, scalar(origin, v, key));
      } else if (key == "input_format") {
        EDGERT_ASSIGN_OR_RETURN(cfg.options.input_format, scalar(origin, v, key));
        if (cfg.options.input_format != "fp32" && cfg.options.input_format != "fp16")
          return at(
              origin, v,
              strCat("input_format must be fp32 or fp16, got '", cfg.options.input_format, "'"));
      } else if (key == "batch_split") {
        int x;
        if (!v.IsScalar() || !YAML::convert<int>::decode(v, x) || x < 0)
          return at(origin, v,
                    strCat("'batch_split' must be a non-negative integer (images per part; 0: "
                           "never), got '",
                           v.IsScalar() ? v.Scalar() : std::string("?"), "'"));
        cfg.options.batch_split = x;
      } else if (key == "timed_precision") {
        bool b;
        if (!v.IsScalar() || !YAML::convert<bool>::decode(v, b))
          return at(origin, v, "'timed_precision' must be true or false");
        cfg.options.int8_timed_precision = b;
      } else if (key == "calibration") {
        EDGERT_RETURN_IF_ERROR(parseCalibration(origin, base_dir, v, &cfg));
      } else if (key == "layer_precisions") {
        if (!v.IsMap())
          return at(origin, v, "'layer_precisions' must map layer names to int8, fp16 or fp32");
        for (const auto& lp : v) {
          const std::string name = lp.first.as<std::string>();
          if (!lp.second.IsScalar() ||
              (lp.second.Scalar() != "int8" && lp.second.Scalar() != "fp16" &&
               lp.second.Scalar() != "fp32"))
            return at(origin, lp.second,
                      strCat("layer_precisions.", name, " must be int8, fp16 or fp32"));
          cfg.options.layer_precisions[name] = lp.second.Scalar();
        }
      } else if (key == "shapes") {
        if (!v.IsMap()) return at(origin, v, "'shapes' must map input names to lists of dims");
        for (const auto& s : v) {
          const std::string name = s.first.as<std::string>();
          if (!s.second.IsSequence())
            return at(origin, s.second,
                      strCat("shapes.", name, " must be a list like [1, 3, 224, 224]"));
          Dims dims;
          for (const auto& d : s.second) {
            int64_t x;
            if (!d.IsScalar() || !YAML::convert<int64_t>::decode(d, x) || x < 0)
              return at(origin, d,
                        strCat("shapes.", name, ": '", d.IsScalar() ? d.Scalar() : std::string("?"),
                               "' is not a non-negative integer"));
            dims.push_back(x);
          }
          cfg.options.shapes[name] = dims;
        }
      }
    }
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument, strCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (cfg.model.empty())
    return Status(StatusCode::kInvalidArgument, strCat(origin, ": 'model' is required"));
  return cfg;
}

Result<BuildConfig> loadBuildConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open build config"));
  std::stringstream ss;
  ss << in.rdbuf();
  const fs::path p(path);
  return parseBuildConfig(ss.str(), path, p.has_parent_path() ? p.parent_path().string() : ".");
}

}  // namespace edgert
