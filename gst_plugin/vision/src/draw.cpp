#include "edgert/vision/draw.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace edgert::vision {

namespace {

// One plane of the frame and how a colour and a coordinate map onto it.
struct Layer {
  enum Kind { kRGB, kBGR, kY, kU, kV, kUV } kind;
  cv::Mat mat;
  int div;  // chroma subsampling of this plane (1 or 2)
};

cv::Scalar onLayer(const Layer& l, cv::Scalar rgb) {
  const double r = rgb[0], g = rgb[1], b = rgb[2];
  const double y = 16 + 0.257 * r + 0.504 * g + 0.098 * b;
  const double u = 128 - 0.148 * r - 0.291 * g + 0.439 * b;
  const double v = 128 + 0.439 * r - 0.368 * g - 0.071 * b;
  switch (l.kind) {
    case Layer::kRGB:
      return cv::Scalar(r, g, b, 255);
    case Layer::kBGR:
      return cv::Scalar(b, g, r, 255);
    case Layer::kY:
      return cv::Scalar(y);
    case Layer::kU:
      return cv::Scalar(u);
    case Layer::kV:
      return cv::Scalar(v);
    case Layer::kUV:
      return cv::Scalar(u, v);
  }
  return {};
}

class Canvas {
 public:
  explicit Canvas(const ImageView& f) : width_(f.width), height_(f.height) {
    const auto plane = [&](int i, int rows, int cols, int type) {
      return cv::Mat(rows, cols, type, const_cast<uint8_t*>(f.planes[i]),
                     static_cast<size_t>(f.strides[i]));
    };
    const int w = f.width, h = f.height, cw = (w + 1) / 2, ch = (h + 1) / 2;
    switch (f.format) {
      case PixelFormat::kRGB:
        layers_.push_back({Layer::kRGB, plane(0, h, w, CV_8UC3), 1});
        break;
      case PixelFormat::kBGR:
        layers_.push_back({Layer::kBGR, plane(0, h, w, CV_8UC3), 1});
        break;
      case PixelFormat::kRGBA:
      case PixelFormat::kRGBx:
        layers_.push_back({Layer::kRGB, plane(0, h, w, CV_8UC4), 1});
        break;
      case PixelFormat::kBGRA:
      case PixelFormat::kBGRx:
        layers_.push_back({Layer::kBGR, plane(0, h, w, CV_8UC4), 1});
        break;
      case PixelFormat::kGRAY8:
        layers_.push_back({Layer::kY, plane(0, h, w, CV_8UC1), 1});
        break;
      case PixelFormat::kNV12:
        layers_.push_back({Layer::kY, plane(0, h, w, CV_8UC1), 1});
        layers_.push_back({Layer::kUV, plane(1, ch, cw, CV_8UC2), 2});
        break;
      case PixelFormat::kI420:
        layers_.push_back({Layer::kY, plane(0, h, w, CV_8UC1), 1});
        layers_.push_back({Layer::kU, plane(1, ch, cw, CV_8UC1), 2});
        layers_.push_back({Layer::kV, plane(2, ch, cw, CV_8UC1), 2});
        break;
    }
  }
  int width() const { return width_; }
  int height() const { return height_; }

  void rect(cv::Rect r, cv::Scalar rgb, int thickness) {
    for (auto& l : layers_)
      cv::rectangle(l.mat, cv::Rect(r.x / l.div, r.y / l.div, r.width / l.div, r.height / l.div),
                    onLayer(l, rgb), thickness < 0 ? cv::FILLED : std::max(1, thickness / l.div));
  }
  void poly(const std::vector<cv::Point>& pts, cv::Scalar rgb, int thickness) {
    for (auto& l : layers_) {
      std::vector<cv::Point> p;
      for (const auto& q : pts) p.emplace_back(q.x / l.div, q.y / l.div);
      cv::polylines(l.mat, p, true, onLayer(l, rgb), std::max(1, thickness / l.div), cv::LINE_AA);
    }
  }
  // Text on a filled label box whose top-left corner is `at`.
  void label(const std::string& text, cv::Point at, cv::Scalar bg) {
    int base = 0;
    const double scale = std::clamp(height_ / 900.0, 0.4, 1.2);
    const cv::Size sz = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, scale, 1, &base);
    at.y = std::clamp(at.y - sz.height - 6, 0, std::max(0, height_ - sz.height - 6));
    rect(cv::Rect(at.x, at.y, sz.width + 4, sz.height + 6), bg, -1);
    for (auto& l : layers_) {
      // Chroma planes get the box colour only; the text itself lives in luma / RGB.
      if (l.div != 1) continue;
      cv::putText(l.mat, text, cv::Point(at.x + 2, at.y + sz.height + 2), cv::FONT_HERSHEY_SIMPLEX,
                  scale, onLayer(l, cv::Scalar(255, 255, 255)), 1, cv::LINE_AA);
    }
  }
  // Blends each pixel's class colour at 40%; `class_at(x, y)` (frame coordinates) gives a
  // mask class 0..254 or -1 for none.
  template <class F>
  void blend(const F& class_at) {
    for (auto& l : layers_) {
      // The colours of the mask's classes on this plane, once per plane, not per pixel.
      std::array<cv::Scalar, 255> colour;
      for (int c = 0; c < 255; ++c) colour[c] = onLayer(l, classColor(c));
      const int ch = l.mat.channels();
      for (int y = 0; y < l.mat.rows; ++y) {
        uint8_t* row = l.mat.ptr<uint8_t>(y);
        for (int x = 0; x < l.mat.cols; ++x) {
          const int cls = class_at(x * l.div + l.div / 2, y * l.div + l.div / 2);
          if (cls < 0) continue;
          const cv::Scalar& c = colour[cls];
          for (int k = 0; k < std::min(ch, 3); ++k)
            row[x * ch + k] = static_cast<uint8_t>(0.6 * row[x * ch + k] + 0.4 * c[k]);
        }
      }
    }
  }

 private:
  int width_, height_;
  std::vector<Layer> layers_;
};

std::string withConfidence(const std::string& label, float conf) {
  char buf[32];
  std::snprintf(buf, sizeof buf, " %.2f", conf);
  return label + buf;
}

}  // namespace

cv::Scalar classColor(int class_id) {
  // Golden-ratio hue steps: neighbouring ids get distant colours.
  const double h = std::fmod(0.13 + class_id * 0.618033988749895, 1.0) * 180;
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(h, 200, 255)), rgb;
  cv::cvtColor(hsv, rgb, cv::COLOR_HSV2RGB);
  const auto p = rgb.at<cv::Vec3b>(0, 0);
  return cv::Scalar(p[0], p[1], p[2]);
}

void drawResult(const ImageView& frame, const FrameResult& r) {
  if (frame.width <= 0 || frame.height <= 0 || !frame.planes[0]) return;
  Canvas canvas(frame);
  const SegmentationMask& m = r.mask;
  if (m.width > 0 && m.height > 0 &&
      m.classes.size() == static_cast<size_t>(m.width) * static_cast<size_t>(m.height)) {
    canvas.blend([&](int x, int y) {
      const int my = static_cast<int>(std::floor((y + 0.5f) / m.scale_y - m.offset_y));
      const int mx = static_cast<int>(std::floor((x + 0.5f) / m.scale_x - m.offset_x));
      if (mx < 0 || my < 0 || mx >= m.width || my >= m.height) return -1;
      const uint8_t c = m.classes[static_cast<size_t>(my) * m.width + mx];
      return c == 255 ? -1 : static_cast<int>(c);
    });
  }
  const int thick = std::max(2, frame.height / 360);
  for (const auto& d : r.detections) {
    const cv::Scalar c = classColor(d.class_id);
    const cv::Point tl(static_cast<int>(d.x), static_cast<int>(d.y));
    if (d.polygon.size() >= 3) {
      std::vector<cv::Point> pts;
      for (const auto& p : d.polygon)
        pts.emplace_back(static_cast<int>(p[0]), static_cast<int>(p[1]));
      canvas.poly(pts, c, thick);
    } else {
      canvas.rect(cv::Rect(tl.x, tl.y, static_cast<int>(d.width), static_cast<int>(d.height)), c,
                  thick);
    }
    // Text regions are many and small: the outline says enough, unless a secondary model
    // classified them.
    std::string text = withConfidence(
        d.track_id >= 0 ? d.label + " #" + std::to_string(d.track_id) : d.label, d.confidence);
    for (const auto& sr : d.secondary) text += " | " + withConfidence(sr.label, sr.confidence);
    if (d.polygon.empty() || !d.secondary.empty()) canvas.label(text, tl, c);
  }
  int y = 0;
  for (const auto& c : r.classes) {
    y += std::max(20, canvas.height() / 28);
    canvas.label(withConfidence(c.label, c.confidence), cv::Point(4, y), classColor(c.class_id));
  }
}

}  // namespace edgert::vision
