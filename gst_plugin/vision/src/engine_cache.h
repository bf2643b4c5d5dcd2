// Process-wide engine sharing: every element that names the same engine file (or model)
// on the same backend gets the one loaded copy.
#pragma once

#include <memory>
#include <string>

#include "edgert/edgert.h"
#include "edgert/vision/element_config.h"

namespace edgert::vision {

struct LoadedEngine {
  std::shared_ptr<const Engine> engine;
  std::string path;  // the engine file used
};

Result<LoadedEngine> acquireEngine(const ModelConfig& model, const LogCallback& log);

}  // namespace edgert::vision
