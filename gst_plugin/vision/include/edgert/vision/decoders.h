// Task decoders: network outputs -> detections, classes or masks. Each works on one batch
// item; coordinates come back in frame pixels through the preprocessing transform.
#pragma once

#include <string>
#include <vector>

#include "edgert/status.h"
#include "edgert/vision/preprocess.h"
#include "edgert/vision/results.h"

namespace edgert::vision {

// A borrowed float32 output of one batch item; dims exclude the batch dim.
struct TensorView {
  std::string name;
  std::vector<int64_t> dims;
  const float* data = nullptr;
};

enum class TaskType { kClassification, kDetection, kTextDetection, kSegmentation, kRaw };
enum class DetectionFormat {
  kYoloV8,  // [4 + classes, anchors] or transposed; cx, cy, w, h in network pixels
  kYoloV5,  // [anchors, 5 + classes]: cx, cy, w, h, objectness, class scores
  kSsd,     // two outputs: boxes [anchors, 4] (x1, y1, x2, y2, normalised) and scores
};
enum class SoftmaxMode { kAuto, kAlways, kNever };

struct DecoderOptions {
  TaskType task = TaskType::kRaw;
  DetectionFormat format = DetectionFormat::kYoloV8;
  float threshold = 0.5f;    // minimum confidence reported
  float nms_iou = 0.45f;     // detection: class-wise NMS overlap
  int max_detections = 300;  // per frame, after NMS
  int top_k = 5;             // classification
  SoftmaxMode softmax = SoftmaxMode::kAuto;
  std::string boxes_output;  // SSD: names of the outputs (default: first and second)
  std::string scores_output;
  bool ssd_background = false;  // SSD: class 0 is background and never reported
  // Text detection (DBNet, as PaddleOCR post-processes it).
  float bin_threshold = 0.3f;  // probability map binarisation
  float unclip_ratio = 1.5f;   // box growth: area * ratio / perimeter
  float min_size = 3.0f;       // short side (network pixels) below which a box is dropped
  std::vector<std::string> labels;
};

const char* taskTypeName(TaskType t);
bool parseTaskType(const std::string& s, TaskType* out);
bool parseDetectionFormat(const std::string& s, DetectionFormat* out);

// Decodes the outputs of one batch item. Errors name the output and the dim that does
// not fit the task.
Status decodeOutputs(const std::vector<TensorView>& outputs, const DecoderOptions& options,
                     const FrameTransform& transform, FrameResult* result);

// Class-wise non-maximum suppression (in place), keeping the best `max_keep`.
void nonMaxSuppression(std::vector<Detection>* dets, float iou_threshold, int max_keep);
float intersectionOverUnion(const Detection& a, const Detection& b);

// Reads a label file: one label per line (blank lines kept as empty labels).
Result<std::vector<std::string>> loadLabels(const std::string& path);

}  // namespace edgert::vision
