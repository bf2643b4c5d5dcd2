// The YAML that configures one edgertinfer element (and each model of an edgert-app):
// which model, how frames become its input, and how its outputs become results.
// Documented key by key in configs/README.md. Every error names the file, line, column
// and key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgert/status.h"
#include "edgert/types.h"
#include "edgert/vision/decoders.h"
#include "edgert/vision/preprocess.h"

namespace edgert::vision {

struct ModelConfig {
  std::string engine;  // a built engine, or
  std::string onnx;    // a model built on first use and cached next to it
  std::string precision = "fp32";
  std::string target = "host";
  std::map<std::string, Dims> shapes;
  std::string backend = "auto";  // cpu | cuda | auto
  std::string input;             // input binding (default: the engine's only input)
};

// Secondary mode: the model runs on regions of interest another element found, not on
// whole frames (a cascade: detector, then a classifier per object).
struct SecondaryConfig {
  bool enabled = false;
  uint32_t infer_on_id = 0;         // regions of the element with this unique_id (0: any)
  std::vector<std::string> labels;  // only regions with these labels (empty: all)
  int object_interval = 1;          // re-infer a tracked object at most every N frames
};

struct ElementConfig {
  std::string origin;  // the file it came from ("" when built from properties only)
  ModelConfig model;
  PreprocessSpec preprocess;
  DecoderOptions decoder;
  std::string labels_path;
  bool attach_tensors = false;  // attach raw outputs as edgert tensor meta too
  int interval = 1;             // infer every Nth frame
  int batch_size = 1;
  uint32_t unique_id = 1;
  SecondaryConfig secondary;
};

// Parses YAML text; relative paths resolve against `base_dir`.
Result<ElementConfig> parseElementConfig(const std::string& text, const std::string& origin,
                                         const std::string& base_dir);
Result<ElementConfig> loadElementConfig(const std::string& path);
// The `preprocess:` mapping (also the build YAML's calibration.preprocess).
class Section;
Status parsePreprocess(const Section& s, PreprocessSpec* p);
// Secondary mode needs a classification task (its result is attached to each region).
Status checkSecondary(const ElementConfig& config);

}  // namespace edgert::vision
