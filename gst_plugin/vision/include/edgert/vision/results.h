// What a task decoder makes of a network's outputs, in frame coordinates.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace edgert::vision {

// A secondary model's result on one object (edgertinfer process-mode=secondary).
struct SecondaryResult {
  uint32_t producer_id = 0;
  int class_id = 0;
  std::string label;
  float confidence = 0;
};

// A detected object (or text region) in frame pixels. Text detectors also give the four
// corners of the rotated box.
struct Detection {
  float x = 0, y = 0, width = 0, height = 0;
  int class_id = 0;
  std::string label;
  float confidence = 0;
  std::vector<std::array<float, 2>> polygon;  // empty unless the task gives one
  int64_t track_id = -1;                      // set by edgerttrack once the track is confirmed
  std::vector<SecondaryResult> secondary;     // classifiers run on this object
};

struct ClassScore {
  int class_id = 0;
  std::string label;
  float confidence = 0;
};

// A class map at network resolution, mapped onto the frame by `FrameTransform`.
struct SegmentationMask {
  int width = 0, height = 0;
  std::vector<uint8_t> classes;  // row-major, one class id per pixel (255 = none)
  // frame pixel = (mask pixel + offset) * scale, per axis (letterbox and crop undone).
  float scale_x = 1, scale_y = 1, offset_x = 0, offset_y = 0;
};

// An output tensor copied out as float32.
struct NamedTensor {
  std::string name;
  std::vector<int64_t> dims;
  std::vector<float> data;
};

struct FrameResult {
  std::vector<Detection> detections;
  std::vector<ClassScore> classes;  // classification: best first
  SegmentationMask mask;
  std::vector<NamedTensor> tensors;  // raw outputs, when asked for
};

}  // namespace edgert::vision
