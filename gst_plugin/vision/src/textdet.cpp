// DBNet text detection post-processing, as PaddleOCR does it: binarise the probability
// map, take each region's minimum-area rectangle, score it by the mean probability inside,
// and grow it by area * unclip_ratio / perimeter (the shrink DBNet was trained with).
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "decoders_internal.h"
#include "edgert/internal/str.h"

namespace edgert::vision {

namespace {
constexpr size_t kMaxRegions = 1000;

// Scored over the region's own outline (PaddleOCR's "slow" mode) rather than its
// rectangle: photographed pages bend text lines, and a bent line fills too little of its
// rectangle to pass the threshold.
float meanInside(const cv::Mat& prob, std::vector<cv::Point> poly) {
  cv::Rect box = cv::boundingRect(poly) & cv::Rect(0, 0, prob.cols, prob.rows);
  if (box.empty()) return 0;
  cv::Mat mask = cv::Mat::zeros(box.size(), CV_8UC1);
  for (auto& p : poly) p -= box.tl();
  cv::fillPoly(mask, std::vector<std::vector<cv::Point>>{poly}, cv::Scalar(1));
  return static_cast<float>(cv::mean(prob(box), mask)[0]);
}
}  // namespace

Status decodeTextRegions(const TensorView& out, const DecoderOptions& o, const FrameTransform& t,
                         FrameResult* r) {
  std::vector<int64_t> d = out.dims;
  while (d.size() > 2 && d.front() == 1) d.erase(d.begin());
  if (d.size() != 2 || d[0] <= 0 || d[1] <= 0 || d[0] > 1 << 15 || d[1] > 1 << 15)
    return Status(StatusCode::kInvalidArgument,
                  strCat("textdet: output '", out.name, "' has dims ", dimsToString(out.dims),
                         "; expected a probability map [1, H, W]"));
  const int h = static_cast<int>(d[0]), w = static_cast<int>(d[1]);
  const cv::Mat prob(h, w, CV_32FC1, const_cast<float*>(out.data));
  cv::Mat bin;
  cv::compare(prob, o.bin_threshold, bin, cv::CMP_GT);
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(bin, contours, cv::RETR_LIST, cv::CHAIN_APPROX_SIMPLE);
  std::vector<Detection> found;
  for (const auto& c : contours) {
    if (found.size() >= kMaxRegions) break;
    if (c.size() < 3) continue;
    cv::RotatedRect rect = cv::minAreaRect(c);
    if (std::min(rect.size.width, rect.size.height) < o.min_size) continue;
    cv::Point2f corners[4];
    const float score = meanInside(prob, c);
    if (score < o.threshold) continue;
    const float area = rect.size.area(), perimeter = 2 * (rect.size.width + rect.size.height);
    const float grow = area * o.unclip_ratio / perimeter;
    rect.size.width += 2 * grow;
    rect.size.height += 2 * grow;
    if (std::min(rect.size.width, rect.size.height) < o.min_size + 2) continue;
    rect.points(corners);
    Detection det;
    float x1 = 1e30f, y1 = 1e30f, x2 = -1e30f, y2 = -1e30f;
    for (const auto& p : corners) {
      const float fx = std::clamp(t.toFrameX(p.x), 0.f, static_cast<float>(t.frame_width));
      const float fy = std::clamp(t.toFrameY(p.y), 0.f, static_cast<float>(t.frame_height));
      det.polygon.push_back({fx, fy});
      x1 = std::min(x1, fx);
      y1 = std::min(y1, fy);
      x2 = std::max(x2, fx);
      y2 = std::max(y2, fy);
    }
    if (x2 - x1 < 1 || y2 - y1 < 1) continue;
    det.x = x1;
    det.y = y1;
    det.width = x2 - x1;
    det.height = y2 - y1;
    det.class_id = 0;
    det.label = o.labels.empty() ? "text" : labelFor(o, 0);
    det.confidence = score;
    found.push_back(std::move(det));
  }
  // Reading order: by text line (16-pixel bands), then left to right.
  const auto line = [](const Detection& x) { return static_cast<int>(x.y) / 16; };
  std::sort(found.begin(), found.end(), [&](const Detection& a, const Detection& b) {
    return line(a) != line(b) ? line(a) < line(b) : a.x < b.x;
  });
  for (auto& f : found) r->detections.push_back(std::move(f));
  return Status::Ok();
}

}  // namespace edgert::vision
