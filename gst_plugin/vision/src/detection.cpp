// Object detection heads (YOLOv8, YOLOv5, SSD) and class-wise NMS.
#include <algorithm>
#include <cmath>

#include "decoders_internal.h"
#include "edgert/internal/str.h"

namespace edgert::vision {

namespace {

// NMS is quadratic; keep only the best candidates of a frame full of low scores.
constexpr size_t kMaxCandidates = 8192;

Status badDims(const TensorView& t, const std::string& expected) {
  return Status(StatusCode::kInvalidArgument,
                strCat("detection: output '", t.name, "' has dims ", dimsToString(t.dims),
                       "; expected ", expected));
}

// Squeezes leading 1s down to rank 2.
std::vector<int64_t> matrixDims(const TensorView& t) {
  std::vector<int64_t> d = t.dims;
  while (d.size() > 2 && d.front() == 1) d.erase(d.begin());
  return d;
}

void addBox(float x1, float y1, float x2, float y2, int cls, float conf, const DecoderOptions& o,
            const FrameTransform& t, std::vector<Detection>* out) {
  const float fw = static_cast<float>(t.frame_width), fh = static_cast<float>(t.frame_height);
  x1 = std::clamp(t.toFrameX(x1), 0.f, fw);
  x2 = std::clamp(t.toFrameX(x2), 0.f, fw);
  y1 = std::clamp(t.toFrameY(y1), 0.f, fh);
  y2 = std::clamp(t.toFrameY(y2), 0.f, fh);
  if (x2 - x1 < 1 || y2 - y1 < 1) return;
  Detection d;
  d.x = x1;
  d.y = y1;
  d.width = x2 - x1;
  d.height = y2 - y1;
  d.class_id = cls;
  d.confidence = conf;
  d.label = labelFor(o, cls);
  out->push_back(std::move(d));
}

}  // namespace

float intersectionOverUnion(const Detection& a, const Detection& b) {
  const float ix = std::max(0.f, std::min(a.x + a.width, b.x + b.width) - std::max(a.x, b.x));
  const float iy = std::max(0.f, std::min(a.y + a.height, b.y + b.height) - std::max(a.y, b.y));
  const float inter = ix * iy;
  const float uni = a.width * a.height + b.width * b.height - inter;
  return uni > 0 ? inter / uni : 0.f;
}

void nonMaxSuppression(std::vector<Detection>* dets, float iou_threshold, int max_keep) {
  std::stable_sort(dets->begin(), dets->end(), [](const Detection& a, const Detection& b) {
    return a.confidence > b.confidence;
  });
  if (dets->size() > kMaxCandidates) dets->resize(kMaxCandidates);
  std::vector<Detection> kept;
  for (auto& d : *dets) {
    if (static_cast<int>(kept.size()) >= max_keep) break;
    bool suppressed = false;
    for (const auto& k : kept) {
      if (k.class_id == d.class_id && intersectionOverUnion(k, d) > iou_threshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push_back(std::move(d));
  }
  *dets = std::move(kept);
}

Status decodeDetections(const std::vector<TensorView>& outputs, const DecoderOptions& o,
                        const FrameTransform& t, FrameResult* r) {
  std::vector<Detection> cand;
  if (o.format == DetectionFormat::kSsd) {
    const TensorView* boxes = &outputs[0];
    const TensorView* scores = outputs.size() > 1 ? &outputs[1] : nullptr;
    for (const auto& out : outputs) {
      if (!o.boxes_output.empty() && out.name == o.boxes_output) boxes = &out;
      if (!o.scores_output.empty() && out.name == o.scores_output) scores = &out;
    }
    if (!scores) return badDims(*boxes, "two outputs (boxes, scores) for format ssd");
    const auto bd = matrixDims(*boxes), sd = matrixDims(*scores);
    if (bd.size() != 2 || bd[1] != 4) return badDims(*boxes, "[anchors, 4] boxes");
    if (sd.size() != 2 || sd[0] != bd[0]) return badDims(*scores, "[anchors, classes] scores");
    const float nw = static_cast<float>(t.net_width), nh = static_cast<float>(t.net_height);
    for (int64_t a = 0; a < bd[0]; ++a) {
      const float* s = scores->data + a * sd[1];
      for (int64_t c = o.ssd_background ? 1 : 0; c < sd[1]; ++c) {
        if (s[c] < o.threshold) continue;
        const float* b = boxes->data + a * 4;
        addBox(b[0] * nw, b[1] * nh, b[2] * nw, b[3] * nh, static_cast<int>(c), s[c], o, t, &cand);
      }
    }
  } else {
    const TensorView& out = outputs[0];
    const auto d = matrixDims(out);
    if (d.size() != 2) return badDims(out, "a matrix of anchors x (box, scores)");
    const int64_t extra = o.format == DetectionFormat::kYoloV5 ? 5 : 4;
    // YOLOv8 exports [4 + classes, anchors]; some tools transpose it. The label count
    // decides; without labels the shorter side holds the box and class values.
    const int64_t want = o.labels.empty() ? -1 : extra + static_cast<int64_t>(o.labels.size());
    bool channels_first;
    if (o.format == DetectionFormat::kYoloV5)
      channels_first = false;
    else if (want > 0 && d[0] == want)
      channels_first = true;
    else if (want > 0 && d[1] == want)
      channels_first = false;
    else
      channels_first = d[0] < d[1];
    const int64_t values = channels_first ? d[0] : d[1], anchors = channels_first ? d[1] : d[0];
    if (values <= extra) return badDims(out, strCat("more than ", extra, " values per anchor"));
    const auto at = [&](int64_t a, int64_t v) {
      return channels_first ? out.data[v * anchors + a] : out.data[a * values + v];
    };
    for (int64_t a = 0; a < anchors; ++a) {
      int64_t best = extra;
      for (int64_t v = extra + 1; v < values; ++v)
        if (at(a, v) > at(a, best)) best = v;
      float conf = at(a, best);
      if (o.format == DetectionFormat::kYoloV5) conf *= at(a, 4);
      if (!(conf >= o.threshold)) continue;
      const float cx = at(a, 0), cy = at(a, 1), w = at(a, 2), h = at(a, 3);
      addBox(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, static_cast<int>(best - extra), conf,
             o, t, &cand);
    }
  }
  nonMaxSuppression(&cand, o.nms_iou, o.max_detections);
  for (auto& c : cand) r->detections.push_back(std::move(c));
  return Status::Ok();
}

}  // namespace edgert::vision
