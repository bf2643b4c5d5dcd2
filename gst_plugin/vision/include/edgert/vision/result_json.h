// One JSON object per frame: what edgertinfer posts in its element messages and what
// edgert-app writes as JSON lines. Schema in configs/README.md.
#pragma once

#include <cstdint>
#include <string>

#include "edgert/vision/results.h"

namespace edgert::vision {

struct FrameInfo {
  std::string source;   // stream name (edgert-app) or element name
  uint64_t frame = 0;   // frame number in the stream
  int64_t pts_ns = -1;  // presentation time, -1 if unknown
  int width = 0, height = 0;
  uint32_t producer_id = 0;
};

// Compact (one line); masks are summarised (size and per-class pixel counts), tensors by
// name and dims only.
std::string resultToJson(const FrameResult& result, const FrameInfo& info);

}  // namespace edgert::vision
