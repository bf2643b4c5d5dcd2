// Reading classifier outputs for people and scripts: `edgert run --labels --top-k` prints each
// sample's best classes with their probabilities (jetson-inference's imagenet, trtexec has
// none). Shared by the runtime-only `edgert` and the builder's CLI.
#pragma once

#include <string>
#include <vector>

#include "edgert/status.h"
#include "edgert/types.h"

namespace edgert::cli {

// Class names, one per line (index = line number from 0, as imagenet_classes.txt and
// coco.names are written). Errors name the file.
Result<std::vector<std::string>> readClassNames(const std::string& path);

// Whether an output of these dims holds one score vector per sample: [N, C] or [N, C, 1, 1]
// with C > 1.
bool isClassScores(const Dims& dims);

struct ClassScore {
  int index = 0;
  double probability = 0;
};

// The k best classes of one sample's scores. Scores that already form a distribution
// (non-negative, summing to 1 within 1e-3: a model ending in Softmax) are taken as they are;
// anything else is read as logits and goes through softmax first. `*softmaxed` says which.
std::vector<ClassScore> topClasses(const float* scores, int classes, int k, bool* softmaxed);

}  // namespace edgert::cli
