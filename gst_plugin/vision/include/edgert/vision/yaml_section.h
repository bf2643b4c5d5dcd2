// Strict reading of one YAML mapping for edgert's config files: unknown keys, wrong types
// and out-of-range values are errors naming the file, line, column and dotted key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "edgert/internal/str.h"
#include "edgert/status.h"

namespace edgert::vision {

// Reads one mapping strictly: every key must be handled, every value the right type.
class Section {
 public:
  Section(const std::string& origin, const std::string& prefix, const YAML::Node& node)
      : origin_(origin), prefix_(prefix), node_(node) {}

  Status error(const YAML::Node& n, const std::string& msg) const {
    const YAML::Mark m = n.Mark();
    if (m.line >= 0)
      return Status(StatusCode::kInvalidArgument,
                    strCat(origin_, ":", m.line + 1, ":", m.column + 1, ": ", msg));
    return Status(StatusCode::kInvalidArgument, strCat(origin_, ": ", msg));
  }
  const YAML::Node& node() const { return node_; }
  std::string key(const std::string& k) const { return prefix_.empty() ? k : prefix_ + "." + k; }

  // Calls `handle` for each key; unknown keys are an error listing the known ones.
  Status forEach(const std::vector<std::string>& known,
                 const std::function<Status(const std::string&, const YAML::Node&)>& handle) const {
    if (!node_.IsMap()) return error(node_, strCat("'", prefix_, "' must be a mapping"));
    for (const auto& kv : node_) {
      if (!kv.first.IsScalar()) return error(kv.first, "keys must be strings");
      const std::string k = kv.first.Scalar();
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string list;
        for (const auto& s : known) list += (list.empty() ? "" : ", ") + s;
        return error(kv.first, strCat("unknown key '", key(k), "' (known: ", list, ")"));
      }
      EDGERT_RETURN_IF_ERROR(handle(k, kv.second));
    }
    return Status::Ok();
  }

  Status string(const std::string& k, const YAML::Node& v, std::string* out) const {
    if (!v.IsScalar()) return error(v, strCat("'", key(k), "' must be a string"));
    *out = v.Scalar();
    return Status::Ok();
  }
  Status number(const std::string& k, const YAML::Node& v, float* out, float lo, float hi) const {
    double d;
    if (!v.IsScalar() || !YAML::convert<double>::decode(v, d) || !std::isfinite(d))
      return error(v, strCat("'", key(k), "' must be a number"));
    if (d < lo || d > hi)
      return error(v, strCat("'", key(k), "' must be in [", lo, ", ", hi, "], got ", d));
    *out = static_cast<float>(d);
    return Status::Ok();
  }
  Status integer(const std::string& k, const YAML::Node& v, int64_t* out, int64_t lo,
                 int64_t hi) const {
    int64_t i;
    if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, i))
      return error(v, strCat("'", key(k), "' must be an integer"));
    if (i < lo || i > hi)
      return error(v, strCat("'", key(k), "' must be in [", lo, ", ", hi, "], got ", i));
    *out = i;
    return Status::Ok();
  }
  Status boolean(const std::string& k, const YAML::Node& v, bool* out) const {
    if (!v.IsScalar() || !YAML::convert<bool>::decode(v, *out))
      return error(v, strCat("'", key(k), "' must be true or false"));
    return Status::Ok();
  }
  Status oneOf(const std::string& k, const YAML::Node& v, const std::vector<std::string>& allowed,
               std::string* out) const {
    EDGERT_RETURN_IF_ERROR(string(k, v, out));
    if (std::find(allowed.begin(), allowed.end(), *out) != allowed.end()) return Status::Ok();
    std::string list;
    for (const auto& s : allowed) list += (list.empty() ? "" : ", ") + s;
    return error(v, strCat("'", key(k), "' must be one of ", list, ", got '", *out, "'"));
  }
  // One number for all three channels or a list of three.
  Status triple(const std::string& k, const YAML::Node& v, std::array<float, 3>* out,
                bool nonzero) const {
    const float lo = -1e6f, hi = 1e6f;
    if (v.IsScalar()) {
      float x;
      EDGERT_RETURN_IF_ERROR(number(k, v, &x, lo, hi));
      *out = {x, x, x};
    } else if (v.IsSequence() && v.size() == 3) {
      for (size_t i = 0; i < 3; ++i) EDGERT_RETURN_IF_ERROR(number(k, v[i], &(*out)[i], lo, hi));
    } else {
      return error(v, strCat("'", key(k), "' must be a number or a list of three"));
    }
    if (nonzero && ((*out)[0] == 0 || (*out)[1] == 0 || (*out)[2] == 0))
      return error(v, strCat("'", key(k), "' must not be 0"));
    return Status::Ok();
  }

 private:
  std::string origin_, prefix_;
  YAML::Node node_;
};

// A path from a config file, relative to the file's folder.
std::string resolveConfigPath(const std::string& base_dir, const std::string& path);

// YAML text -> node; a syntax error names origin:line:column.
Result<YAML::Node> loadYaml(const std::string& text, const std::string& origin);

// A config file's text and folder (for relative paths); `what` names it in errors.
struct ConfigText {
  std::string text, base_dir;
};
Result<ConfigText> readConfigFile(const std::string& path, const char* what);

}  // namespace edgert::vision
