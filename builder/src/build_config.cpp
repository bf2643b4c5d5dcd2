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

std::string resolve(const std::string& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base) / p).lexically_normal().string();
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
  static const std::set<std::string> kKeys = {"model",  "output",      "precision",   "target",
                                              "shapes", "batch_split", "input_format"};
  BuildConfig cfg;
  try {
    for (const auto& kv : root) {
      const std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (!kKeys.count(key)) {
        std::string known;
        for (const auto& k : kKeys) known += (known.empty() ? "" : ", ") + k;
        return at(origin, kv.first, strCat("unknown key '", key, "' (known: ", known, ")"));
      }
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
