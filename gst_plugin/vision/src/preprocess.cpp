#include "edgert/vision/preprocess.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <vector>

#include "edgert/internal/str.h"

namespace edgert::vision {

namespace {

Status bad(const std::string& msg) {
  return Status(StatusCode::kInvalidArgument, msg);
}

bool parseFloat(const std::string& s, float* out) {
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool parseInt(const std::string& s, int* out) {
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || v < 0 || v > 1 << 16) return false;
  *out = static_cast<int>(v);
  return true;
}

// "127" or "0.485:0.456:0.406".
bool parseTriple(const std::string& s, std::array<float, 3>* out) {
  std::vector<std::string> parts;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ':');) parts.push_back(p);
  if (parts.size() == 1) parts = {parts[0], parts[0], parts[0]};
  if (parts.size() != 3) return false;
  for (int i = 0; i < 3; ++i)
    if (!parseFloat(parts[i], &(*out)[i])) return false;
  return true;
}

// Where the resized frame sits in the network input.
struct Geometry {
  int resized_w, resized_h;  // the whole frame after resizing
  int offset_x, offset_y;    // network pixel (u, v) reads resized pixel (u + ox, v + oy)
};

Geometry geometry(const PreprocessSpec& spec, int w, int h, int net_w, int net_h) {
  Geometry g{net_w, net_h, 0, 0};
  if (spec.resize == ResizeMode::kLetterbox) {
    const double s = std::min(double(net_w) / w, double(net_h) / h);
    g.resized_w = std::clamp(static_cast<int>(std::lround(w * s)), 1, net_w);
    g.resized_h = std::clamp(static_cast<int>(std::lround(h * s)), 1, net_h);
    g.offset_x = -(net_w - g.resized_w) / 2;
    g.offset_y = -(net_h - g.resized_h) / 2;
  } else if (spec.resize == ResizeMode::kShortSide) {
    const int target = spec.resize_short > 0 ? spec.resize_short : std::min(net_w, net_h);
    const double s = double(target) / std::min(w, h);
    // Rounded half to even, as Python's round() in the reference pipelines: 773x512 gives
    // 386x256 there, where lround's 387 moves the labels of ../shared/assets' eagle and horses.
    g.resized_w = std::max(1, static_cast<int>(std::nearbyint(w * s)));
    g.resized_h = std::max(1, static_cast<int>(std::nearbyint(h * s)));
    // Floor, as PIL-based reference pipelines crop ((w - 224) // 2).
    g.offset_x = (g.resized_w - net_w) / 2;
    g.offset_y = (g.resized_h - net_h) / 2;
  }
  return g;
}

FrameTransform transformOf(const Geometry& g, const ImageView& image, int net_width,
                           int net_height) {
  FrameTransform t;
  t.scale_x = static_cast<float>(image.width) / g.resized_w;
  t.scale_y = static_cast<float>(image.height) / g.resized_h;
  t.offset_x = static_cast<float>(g.offset_x);
  t.offset_y = static_cast<float>(g.offset_y);
  t.frame_width = image.width;
  t.frame_height = image.height;
  t.net_width = net_width;
  t.net_height = net_height;
  return t;
}

// PIL's separable resampling with the triangle (bilinear) filter widened by the shrink
// factor, rounding to 8 bits after each pass as PIL does (horizontal first).
struct Taps {
  std::vector<int> first;
  std::vector<std::vector<float>> weights;
};

Taps pilTaps(int in, int out) {
  Taps t;
  const double scale = double(in) / out, filterscale = std::max(scale, 1.0);
  const double support = filterscale, ss = 1.0 / filterscale;
  for (int o = 0; o < out; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(center + support + 0.5), in);
    std::vector<float> w;
    double sum = 0;
    for (int x = lo; x < hi; ++x) {
      const double d = std::abs((x - center + 0.5) * ss);
      const double v = d < 1 ? 1 - d : 0;
      w.push_back(static_cast<float>(v));
      sum += v;
    }
    for (float& v : w) v = static_cast<float>(sum > 0 ? v / sum : 0);
    t.first.push_back(lo);
    t.weights.push_back(std::move(w));
  }
  return t;
}

uint8_t clampByte(float v) {
  return static_cast<uint8_t>(std::clamp(v + 0.5f, 0.f, 255.f));
}

cv::Mat pilResize(const cv::Mat& src, int w, int h) {
  const int ch = src.channels();
  cv::Mat horiz(src.rows, w, src.type());
  const Taps tx = pilTaps(src.cols, w);
  for (int y = 0; y < src.rows; ++y) {
    const uint8_t* in = src.ptr<uint8_t>(y);
    uint8_t* out = horiz.ptr<uint8_t>(y);
    for (int x = 0; x < w; ++x) {
      const auto& wt = tx.weights[x];
      for (int c = 0; c < ch; ++c) {
        float acc = 0;
        for (size_t k = 0; k < wt.size(); ++k) acc += wt[k] * in[(tx.first[x] + k) * ch + c];
        out[x * ch + c] = clampByte(acc);
      }
    }
  }
  cv::Mat dst(h, w, src.type());
  const Taps ty = pilTaps(src.rows, h);
  for (int y = 0; y < h; ++y) {
    uint8_t* out = dst.ptr<uint8_t>(y);
    const auto& wt = ty.weights[y];
    for (int i = 0; i < w * ch; ++i) {
      float acc = 0;
      for (size_t k = 0; k < wt.size(); ++k)
        acc += wt[k] * horiz.ptr<uint8_t>(ty.first[y] + static_cast<int>(k))[i];
      out[i] = clampByte(acc);
    }
  }
  return dst;
}

cv::Mat resized(const cv::Mat& src, int w, int h, Interpolation interp) {
  if (src.cols == w && src.rows == h) return src;
  if (interp == Interpolation::kPilBilinear) return pilResize(src, w, h);
  cv::Mat dst;
  const bool shrink = int64_t{w} * h < int64_t{src.cols} * src.rows;
  cv::resize(src, dst, cv::Size(w, h), 0, 0,
             interp == Interpolation::kArea && shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return dst;
}

// YUV -> RGB by the matrix and range the caps declare (BT.601 / BT.709).
struct YuvMatrix {
  float y_off, y_mul, c_mul, rv, gu, gv, bu;
  explicit YuvMatrix(const ImageView& im) {
    const float kr = im.bt709 ? 0.2126f : 0.299f, kb = im.bt709 ? 0.0722f : 0.114f;
    const float kg = 1 - kr - kb;
    y_off = im.full_range ? 0 : 16;
    y_mul = im.full_range ? 1 : 255.0f / 219;
    c_mul = im.full_range ? 1 : 255.0f / 224;
    rv = 2 * (1 - kr);
    bu = 2 * (1 - kb);
    gu = 2 * kb * (1 - kb) / kg;
    gv = 2 * kr * (1 - kr) / kg;
  }
  void toRgb(uint8_t y, uint8_t u, uint8_t v, uint8_t* rgb) const {
    const float yy = (y - y_off) * y_mul, uu = (u - 128) * c_mul, vv = (v - 128) * c_mul;
    const auto px = [](float x) { return static_cast<uint8_t>(std::clamp(x + 0.5f, 0.f, 255.f)); };
    rgb[0] = px(yy + rv * vv);
    rgb[1] = px(yy - gu * uu - gv * vv);
    rgb[2] = px(yy + bu * uu);
  }
};

// The frame resized to rw x rh as packed RGB.
Result<cv::Mat> resizedRgb(const ImageView& im, int rw, int rh, Interpolation interp) {
  const int w = im.width, h = im.height;
  const auto plane = [&](int i, int rows, int cols, int type) {
    return cv::Mat(rows, cols, type, const_cast<uint8_t*>(im.planes[i]),
                   static_cast<size_t>(im.strides[i]));
  };
  cv::Mat rgb(rh, rw, CV_8UC3);
  switch (im.format) {
    case PixelFormat::kRGB:
      return resized(plane(0, h, w, CV_8UC3), rw, rh, interp).clone();
    case PixelFormat::kBGR:
      cv::cvtColor(resized(plane(0, h, w, CV_8UC3), rw, rh, interp), rgb, cv::COLOR_BGR2RGB);
      return rgb;
    case PixelFormat::kRGBA:
    case PixelFormat::kRGBx:
      cv::cvtColor(resized(plane(0, h, w, CV_8UC4), rw, rh, interp), rgb, cv::COLOR_RGBA2RGB);
      return rgb;
    case PixelFormat::kBGRA:
    case PixelFormat::kBGRx:
      cv::cvtColor(resized(plane(0, h, w, CV_8UC4), rw, rh, interp), rgb, cv::COLOR_BGRA2RGB);
      return rgb;
    case PixelFormat::kGRAY8:
      cv::cvtColor(resized(plane(0, h, w, CV_8UC1), rw, rh, interp), rgb, cv::COLOR_GRAY2RGB);
      return rgb;
    case PixelFormat::kNV12:
    case PixelFormat::kI420: {
      // Resizing each plane to the network size first converts only the pixels the
      // network sees, and works for odd frame sizes where OpenCV's converters do not.
      const int cw = (w + 1) / 2, ch = (h + 1) / 2;
      const cv::Mat y = resized(plane(0, h, w, CV_8UC1), rw, rh, interp);
      cv::Mat u, v;
      if (im.format == PixelFormat::kNV12) {
        const cv::Mat uv = resized(plane(1, ch, cw, CV_8UC2), rw, rh, interp);
        cv::Mat parts[2];
        cv::split(uv, parts);
        u = parts[0];
        v = parts[1];
      } else {
        u = resized(plane(1, ch, cw, CV_8UC1), rw, rh, interp);
        v = resized(plane(2, ch, cw, CV_8UC1), rw, rh, interp);
      }
      const YuvMatrix m(im);
      for (int r = 0; r < rh; ++r) {
        const uint8_t *py = y.ptr<uint8_t>(r), *pu = u.ptr<uint8_t>(r), *pv = v.ptr<uint8_t>(r);
        uint8_t* out = rgb.ptr<uint8_t>(r);
        for (int c = 0; c < rw; ++c) m.toRgb(py[c], pu[c], pv[c], out + 3 * c);
      }
      return rgb;
    }
  }
  return bad("unknown pixel format");
}

}  // namespace

Result<PreprocessSpec> parsePreprocessSpec(const std::string& text, int* crop) {
  PreprocessSpec spec;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return bad(strCat("--preprocess: '", item, "' is not key=value"));
    const std::string key = item.substr(0, eq), val = item.substr(eq + 1);
    bool ok = true;
    if (key == "resize") {
      if (val == "stretch") {
        spec.resize = ResizeMode::kStretch;
      } else if (val == "letterbox") {
        spec.resize = ResizeMode::kLetterbox;
      } else if (val == "short-side") {  // short side = the crop size
        spec.resize = ResizeMode::kShortSide;
        spec.resize_short = 0;
      } else {
        spec.resize = ResizeMode::kShortSide;
        ok = parseInt(val, &spec.resize_short) && spec.resize_short > 0;
      }
    } else if (key == "crop") {
      int c = 0;
      ok = parseInt(val, &c) && c > 0;
      if (ok && crop) *crop = c;
    } else if (key == "scale") {
      ok = parseFloat(val, &spec.scale);
    } else if (key == "mean") {
      ok = parseTriple(val, &spec.mean);
    } else if (key == "std") {
      ok = parseTriple(val, &spec.std) && spec.std[0] != 0 && spec.std[1] != 0 && spec.std[2] != 0;
    } else if (key == "order") {
      ok = val == "rgb" || val == "bgr";
      spec.bgr = val == "bgr";
    } else if (key == "layout") {
      ok = val == "nchw" || val == "nhwc";
      spec.nhwc = val == "nhwc";
    } else if (key == "interp") {
      ok = val == "area" || val == "linear" || val == "pil";
      spec.interpolation = val == "area"     ? Interpolation::kArea
                           : val == "linear" ? Interpolation::kLinear
                                             : Interpolation::kPilBilinear;
    } else if (key == "pad") {
      int p = 0;
      ok = parseInt(val, &p) && p <= 255;
      spec.pad_value = static_cast<uint8_t>(p);
    } else {
      return bad(strCat("--preprocess: unknown key '", key,
                        "' (known: resize, crop, scale, mean, std, order, layout, pad, interp)"));
    }
    if (!ok) return bad(strCat("--preprocess: bad value '", val, "' for ", key));
  }
  return spec;
}

std::string formatPreprocessSpec(const PreprocessSpec& s) {
  auto num = [](float v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.9g", v);
    return std::string(b);
  };
  auto triple = [&](const std::array<float, 3>& t) {
    return t[0] == t[1] && t[1] == t[2] ? num(t[0]) : num(t[0]) + ":" + num(t[1]) + ":" + num(t[2]);
  };
  std::string r = "resize=";
  r += s.resize == ResizeMode::kStretch     ? "stretch"
       : s.resize == ResizeMode::kLetterbox ? "letterbox"
       : s.resize_short > 0                 ? std::to_string(s.resize_short)
                                            : "short-side";
  r += ",scale=" + num(s.scale) + ",mean=" + triple(s.mean) + ",std=" + triple(s.std);
  r += std::string(",order=") + (s.bgr ? "bgr" : "rgb");
  r += std::string(",layout=") + (s.nhwc ? "nhwc" : "nchw");
  r += ",pad=" + std::to_string(s.pad_value);
  r += std::string(",interp=") + (s.interpolation == Interpolation::kArea     ? "area"
                                  : s.interpolation == Interpolation::kLinear ? "linear"
                                                                              : "pil");
  return r;
}

Result<FrameTransform> preprocessImage(const ImageView& image, const PreprocessSpec& spec,
                                       int net_width, int net_height, int channels, float* out) {
  if (image.width <= 0 || image.height <= 0 || !image.planes[0])
    return bad(strCat("empty ", pixelFormatName(image.format), " image"));
  if (net_width <= 0 || net_height <= 0 || (channels != 1 && channels != 3))
    return bad(strCat("network input ", channels, "x", net_height, "x", net_width,
                      " is not an image (1 or 3 channels)"));
  const Geometry g = geometry(spec, image.width, image.height, net_width, net_height);
  // PIL resamples RGB: convert at full size first, then resize (slower, exact).
  cv::Mat rgb;
  if (spec.interpolation == Interpolation::kPilBilinear) {
    EDGERT_ASSIGN_OR_RETURN(cv::Mat full,
                            resizedRgb(image, image.width, image.height, Interpolation::kArea));
    rgb = pilResize(full, g.resized_w, g.resized_h);
  } else {
    EDGERT_ASSIGN_OR_RETURN(rgb, resizedRgb(image, g.resized_w, g.resized_h, spec.interpolation));
  }

  // value = (pixel * scale - mean) / std, precomputed per channel and pixel value.
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 256; ++p) lut[c][p] = (p * spec.scale - spec.mean[c]) / spec.std[c];
  const int src_of[3] = {spec.bgr ? 2 : 0, 1, spec.bgr ? 0 : 2};  // tensor channel -> RGB
  const size_t plane = static_cast<size_t>(net_width) * net_height;
  const uint8_t pad[3] = {spec.pad_value, spec.pad_value, spec.pad_value};
  for (int v = 0; v < net_height; ++v) {
    const int ry = v + g.offset_y;
    const bool row_in = ry >= 0 && ry < rgb.rows;
    const uint8_t* row = row_in ? rgb.ptr<uint8_t>(ry) : nullptr;
    for (int u = 0; u < net_width; ++u) {
      const int rx = u + g.offset_x;
      const uint8_t* px = (row_in && rx >= 0 && rx < rgb.cols) ? row + 3 * rx : pad;
      const size_t i = static_cast<size_t>(v) * net_width + u;
      if (channels == 1) {
        const int grey = (299 * px[0] + 587 * px[1] + 114 * px[2] + 500) / 1000;
        out[i] = lut[0][grey];
      } else if (spec.nhwc) {
        for (int c = 0; c < 3; ++c) out[3 * i + c] = lut[c][px[src_of[c]]];
      } else {
        for (int c = 0; c < 3; ++c) out[c * plane + i] = lut[c][px[src_of[c]]];
      }
    }
  }
  return transformOf(g, image, net_width, net_height);
}

static_assert(static_cast<int>(PixelFormat::kGRAY8) == static_cast<int>(ImageFormat::kGRAY8) &&
                  static_cast<int>(PixelFormat::kNV12) == static_cast<int>(ImageFormat::kNV12),
              "vision::PixelFormat and edgert::ImageFormat share values");

FrameTransform devicePlacement(const ImageView& image, const PreprocessSpec& spec, int net_width,
                               int net_height, ImageFrame* frame, ImagePlacement* placement) {
  const Geometry g = geometry(spec, image.width, image.height, net_width, net_height);
  frame->format = static_cast<ImageFormat>(static_cast<int>(image.format));
  frame->width = image.width;
  frame->height = image.height;
  for (int i = 0; i < 3; ++i) {
    frame->planes[i] = image.planes[i];
    frame->strides[i] = image.strides[i];
  }
  frame->bt709 = image.bt709;
  frame->full_range = image.full_range;
  placement->resized_width = g.resized_w;
  placement->resized_height = g.resized_h;
  placement->offset_x = g.offset_x;
  placement->offset_y = g.offset_y;
  placement->pad_value = spec.pad_value;
  placement->nhwc = spec.nhwc;
  for (int c = 0; c < 3; ++c) {
    // (pixel * scale - mean) / std in the tensor's channel order.
    placement->mul[c] = spec.scale / spec.std[c];
    placement->add[c] = -spec.mean[c] / spec.std[c];
    placement->source_channel[c] = spec.bgr ? 2 - c : c;
  }
  return transformOf(g, image, net_width, net_height);
}

Result<OwnedImage> rectifiedCrop(const ImageView& frame,
                                 const std::vector<std::array<float, 2>>& quad) {
  if (quad.size() != 4) return bad("a rotated box needs 4 corners");
  // PaddleOCR's corner order: top-left (smallest x + y), top-right, bottom-right, bottom-left.
  std::array<cv::Point2f, 4> q;
  std::array<cv::Point2f, 4> pts;
  for (int i = 0; i < 4; ++i) pts[i] = {quad[i][0], quad[i][1]};
  auto by = [&](auto key, bool largest) {
    return *std::min_element(pts.begin(), pts.end(), [&](const auto& a, const auto& b) {
      return largest ? key(a) > key(b) : key(a) < key(b);
    });
  };
  q[0] = by([](const cv::Point2f& p) { return p.x + p.y; }, false);
  q[2] = by([](const cv::Point2f& p) { return p.x + p.y; }, true);
  q[1] = by([](const cv::Point2f& p) { return p.y - p.x; }, false);
  q[3] = by([](const cv::Point2f& p) { return p.y - p.x; }, true);
  const auto len = [](cv::Point2f a, cv::Point2f b) { return std::hypot(a.x - b.x, a.y - b.y); };
  const int w = std::max(1, static_cast<int>(std::max(len(q[0], q[1]), len(q[3], q[2]))));
  const int h = std::max(1, static_cast<int>(std::max(len(q[0], q[3]), len(q[1], q[2]))));
  // Only the box's bounding rectangle is converted to RGB.
  float x0 = q[0].x, y0 = q[0].y, x1 = x0, y1 = y0;
  for (const auto& p : q) {
    x0 = std::min(x0, p.x);
    y0 = std::min(y0, p.y);
    x1 = std::max(x1, p.x);
    y1 = std::max(y1, p.y);
  }
  ImageView box;
  const int bx = static_cast<int>(std::floor(x0)), by0 = static_cast<int>(std::floor(y0));
  if (!cropView(frame, bx, by0, static_cast<int>(std::ceil(x1)) - bx + 1,
                static_cast<int>(std::ceil(y1)) - by0 + 1, &box))
    return bad("the rotated box lies outside the frame");
  EDGERT_ASSIGN_OR_RETURN(cv::Mat rgb,
                          resizedRgb(box, box.width, box.height, Interpolation::kLinear));
  // Where cropView started: clamped to the frame, and on even coordinates for YUV.
  const bool yuv = frame.format == PixelFormat::kNV12 || frame.format == PixelFormat::kI420;
  const int sx = yuv ? (std::max(0, bx) & ~1) : std::max(0, bx);
  const int sy = yuv ? (std::max(0, by0) & ~1) : std::max(0, by0);
  cv::Point2f src[4], dst[4] = {{0, 0}, {float(w), 0}, {float(w), float(h)}, {0, float(h)}};
  for (int i = 0; i < 4; ++i) src[i] = q[i] - cv::Point2f(float(sx), float(sy));
  cv::Mat out;
  cv::warpPerspective(rgb, out, cv::getPerspectiveTransform(src, dst), cv::Size(w, h),
                      cv::INTER_CUBIC, cv::BORDER_REPLICATE);
  if (out.rows >= 1.5 * out.cols) cv::rotate(out, out, cv::ROTATE_90_COUNTERCLOCKWISE);
  OwnedImage img;
  img.pixels.assign(out.datastart, out.dataend);
  img.view.format = PixelFormat::kRGB;
  img.view.width = out.cols;
  img.view.height = out.rows;
  img.view.planes[0] = img.pixels.data();
  img.view.strides[0] = out.cols * 3;
  return img;
}

}  // namespace edgert::vision
