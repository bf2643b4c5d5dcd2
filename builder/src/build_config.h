// The build YAML (configs/build/*.yaml): the same settings as `edgert build` flags.
//
//   model: ../models/resnet18.onnx   # relative paths are relative to the YAML file
//   output: resnet18.engine
//   precision: fp32
//   target: cpu
//   shapes:
//     input: [1, 3, 224, 224]
//
// Unknown keys and wrong types are errors naming the key, file and line.
#pragma once

#include <optional>
#include <string>

#include "edgert/builder.h"

namespace edgert {

struct BuildConfig {
  std::string model;   // resolved path
  std::string output;  // resolved path (may be empty)
  BuildOptions options;
};

Result<BuildConfig> loadBuildConfig(const std::string& path);
// Same, from YAML text; `origin` names it and `base_dir` resolves relative paths.
Result<BuildConfig> parseBuildConfig(const std::string& text, const std::string& origin,
                                     const std::string& base_dir);

}  // namespace edgert
