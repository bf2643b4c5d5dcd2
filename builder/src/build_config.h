// The build YAML (configs/build/*.yaml): the same settings as `edgert build` flags.
//
//   model: ../models/resnet18.onnx   # relative paths are relative to the YAML file
//   output: resnet18.engine
//   precision: fp32
//   target: cpu
//   shapes:
//     input: [1, 3, 224, 224]
//
//   precision: int8              # INT8 (see docs/int8.md)
//   calibration:
//     images: ../calib/          # folder of images (or cache: from an earlier build)
//     algorithm: entropy         # entropy | minmax | percentile
//     percentile: 99.99
//     batches: 32
//     cache: model.calib
//     preprocess: {resize: short-side, resize_short: 256, mean: 127, std: 128}
//     min_cosine: 0.99           # keep the layers INT8 hurts most in float until reached
//     min_top1: 1.0              # ... and until every check sample keeps its top-1 class
//     check_batches: 8
//   layer_precisions: {"/features/0/Conv": fp16}
//   timed_precision: true        # INT8 layers faster in FP16 on this GPU stay FP16 (default)
//
// Unknown keys and wrong types are errors naming the key, file and line.
#pragma once

#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "edgert/builder.h"

namespace edgert {

struct BuildConfig {
  std::string model;   // resolved path
  std::string output;  // resolved path (may be empty)
  BuildOptions options;
  std::string calib_images;     // resolved folder; the CLI makes the image source
  YAML::Node calib_preprocess;  // the `preprocess:` mapping as element configs write it
  std::string origin;           // the YAML file, for errors about calib_preprocess
};

Result<BuildConfig> loadBuildConfig(const std::string& path);
// Same, from YAML text; `origin` names it and `base_dir` resolves relative paths.
Result<BuildConfig> parseBuildConfig(const std::string& text, const std::string& origin,
                                     const std::string& base_dir);

}  // namespace edgert
