// Decoder dispatch plus the tasks that need no geometry: classification, segmentation
// and raw tensors.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

#include "decoders_internal.h"
#include "edgert/internal/str.h"

namespace edgert::vision {

namespace {

int64_t elements(const TensorView& t) {
  int64_t n = 1;
  for (int64_t d : t.dims) n *= d;
  return n;
}

Status decodeClassification(const TensorView& out, const DecoderOptions& o, FrameResult* r) {
  const int64_t n = elements(out);
  if (n <= 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat("classification: output '", out.name, "' is empty"));
  std::vector<float> p(out.data, out.data + n);
  bool is_distribution = std::all_of(p.begin(), p.end(), [](float v) { return v >= 0 && v <= 1; });
  if (is_distribution)
    is_distribution = std::abs(std::accumulate(p.begin(), p.end(), 0.0) - 1) < 1e-3;
  if (o.softmax == SoftmaxMode::kAlways || (o.softmax == SoftmaxMode::kAuto && !is_distribution)) {
    const float mx = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (float& v : p) sum += (v = std::exp(v - mx));
    for (float& v : p) v = static_cast<float>(v / sum);
  }
  std::vector<int> idx(p.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t k = std::min<size_t>(std::max(o.top_k, 1), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  for (size_t i = 0; i < k; ++i) {
    if (p[idx[i]] < o.threshold) break;
    r->classes.push_back({idx[i], labelFor(o, idx[i]), p[idx[i]]});
  }
  return Status::Ok();
}

Status decodeSegmentation(const TensorView& out, const FrameTransform& t, FrameResult* r) {
  // [classes, H, W] scores, or [H, W] / [1, H, W] class ids.
  std::vector<int64_t> d = out.dims;
  while (d.size() > 3 && d.front() == 1) d.erase(d.begin());
  if (d.size() == 2) d.insert(d.begin(), 1);
  if (d.size() != 3 || d[1] <= 0 || d[2] <= 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat("segmentation: output '", out.name, "' has dims ", dimsToString(out.dims),
                         "; expected [classes, H, W] or [H, W]"));
  const int64_t c = d[0], h = d[1], w = d[2], plane = h * w;
  SegmentationMask& m = r->mask;
  m.width = static_cast<int>(w);
  m.height = static_cast<int>(h);
  m.classes.assign(static_cast<size_t>(plane), 255);
  // The mask may be smaller than the network input (stride-8 heads): scale to net pixels.
  const float sx = static_cast<float>(t.net_width) / m.width;
  const float sy = static_cast<float>(t.net_height) / m.height;
  m.scale_x = t.scale_x * sx;
  m.scale_y = t.scale_y * sy;
  m.offset_x = t.offset_x / sx;
  m.offset_y = t.offset_y / sy;
  for (int64_t i = 0; i < plane; ++i) {
    if (c == 1) {
      const float v = out.data[i];
      m.classes[i] = (v >= 0 && v < 255) ? static_cast<uint8_t>(v) : 255;
      continue;
    }
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k)
      if (out.data[k * plane + i] > out.data[best * plane + i]) best = k;
    m.classes[i] = best < 255 ? static_cast<uint8_t>(best) : 255;
  }
  return Status::Ok();
}

}  // namespace

std::string labelFor(const DecoderOptions& o, int class_id) {
  if (class_id >= 0 && static_cast<size_t>(class_id) < o.labels.size() &&
      !o.labels[class_id].empty())
    return o.labels[class_id];
  return strCat("class ", class_id);
}

const char* taskTypeName(TaskType t) {
  switch (t) {
    case TaskType::kClassification:
      return "classification";
    case TaskType::kDetection:
      return "detection";
    case TaskType::kTextDetection:
      return "textdet";
    case TaskType::kSegmentation:
      return "segmentation";
    case TaskType::kRaw:
      return "raw";
  }
  return "?";
}

bool parseTaskType(const std::string& s, TaskType* out) {
  for (TaskType t : {TaskType::kClassification, TaskType::kDetection, TaskType::kTextDetection,
                     TaskType::kSegmentation, TaskType::kRaw}) {
    if (s == taskTypeName(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

bool parseDetectionFormat(const std::string& s, DetectionFormat* out) {
  if (s == "yolov8")
    *out = DetectionFormat::kYoloV8;
  else if (s == "yolov5")
    *out = DetectionFormat::kYoloV5;
  else if (s == "ssd")
    *out = DetectionFormat::kSsd;
  else
    return false;
  return true;
}

Status decodeOutputs(const std::vector<TensorView>& outputs, const DecoderOptions& options,
                     const FrameTransform& transform, FrameResult* result) {
  if (outputs.empty()) return Status(StatusCode::kInvalidArgument, "the engine has no outputs");
  switch (options.task) {
    case TaskType::kClassification:
      return decodeClassification(outputs[0], options, result);
    case TaskType::kDetection:
      return decodeDetections(outputs, options, transform, result);
    case TaskType::kTextDetection:
      return decodeTextRegions(outputs[0], options, transform, result);
    case TaskType::kSegmentation:
      return decodeSegmentation(outputs[0], transform, result);
    case TaskType::kRaw:
      return Status::Ok();
  }
  return Status(StatusCode::kInternal, "unknown task");
}

Result<std::vector<std::string>> loadLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open label file"));
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    labels.push_back(line);
    if (labels.size() > 1'000'000)
      return Status(StatusCode::kInvalidArgument, strCat(path, ": more than 1000000 labels"));
  }
  return labels;
}

}  // namespace edgert::vision
