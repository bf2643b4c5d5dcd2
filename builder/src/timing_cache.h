// The tactic timing cache: which implementation won for a layer signature on a GPU, so a
// rebuild (of this or another model with the same layers) skips the timing. A text file:
//
//   # edgert timing cache v1
//   <device>\t<layer signature>\t<tactic>\t<median ms>
//
// e.g. "sm_90 NVIDIA H200\tConv x=1x96x40x40 w=192x96x1x1 ... \tcublaslt-1x1\t0.0123".
#pragma once

#include <map>
#include <string>

#include "edgert/internal/op.h"
#include "edgert/status.h"

namespace edgert {

struct TimingEntry {
  std::string tactic;
  double ms = 0;
};

struct TimingCache {
  std::map<std::string, TimingEntry> entries;  // "<device>\t<signature>" -> winner
  bool dirty = false;
};

// A missing file is an empty cache; a malformed one is an error naming the file and line.
Result<TimingCache> loadTimingCache(const std::string& path);
// The same from text; `origin` names it in errors.
Result<TimingCache> parseTimingCache(const std::string& text, const std::string& origin);
// Written to a temporary name and renamed.
Status saveTimingCache(const std::string& path, const TimingCache& cache);
// What decides a layer's timing: op, shapes, dtypes and the attributes that change the work.
std::string layerSignature(const NodeContext& c);

}  // namespace edgert
