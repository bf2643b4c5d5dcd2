#include "edgert/vision/image.h"

#include <algorithm>

#include <utility>

namespace edgert::vision {

namespace {
constexpr std::pair<PixelFormat, const char*> kNames[] = {
    {PixelFormat::kRGB, "RGB"},   {PixelFormat::kBGR, "BGR"},   {PixelFormat::kRGBA, "RGBA"},
    {PixelFormat::kBGRA, "BGRA"}, {PixelFormat::kRGBx, "RGBx"}, {PixelFormat::kBGRx, "BGRx"},
    {PixelFormat::kNV12, "NV12"}, {PixelFormat::kI420, "I420"}, {PixelFormat::kGRAY8, "GRAY8"},
};
}  // namespace

const char* pixelFormatName(PixelFormat f) {
  for (const auto& [v, n] : kNames)
    if (v == f) return n;
  return "?";
}

bool parsePixelFormat(const std::string& name, PixelFormat* out) {
  for (const auto& [v, n] : kNames) {
    if (name == n) {
      *out = v;
      return true;
    }
  }
  return false;
}

int packedPixelBytes(PixelFormat f) {
  switch (f) {
    case PixelFormat::kRGB:
    case PixelFormat::kBGR:
      return 3;
    case PixelFormat::kRGBA:
    case PixelFormat::kBGRA:
    case PixelFormat::kRGBx:
    case PixelFormat::kBGRx:
      return 4;
    default:
      return 1;
  }
}

bool cropView(const ImageView& frame, int x, int y, int w, int h, ImageView* out) {
  int x0 = std::max(0, x), y0 = std::max(0, y);
  int x1 = std::min(frame.width, x + std::max(0, w)),
      y1 = std::min(frame.height, y + std::max(0, h));
  const bool yuv = frame.format == PixelFormat::kNV12 || frame.format == PixelFormat::kI420;
  if (yuv) {
    x0 &= ~1;
    y0 &= ~1;
    x1 = std::min(frame.width, (x1 + 1) & ~1);
    y1 = std::min(frame.height, (y1 + 1) & ~1);
  }
  if (x1 <= x0 || y1 <= y0) return false;
  ImageView v = frame;
  v.width = x1 - x0;
  v.height = y1 - y0;
  if (!yuv) {
    v.planes[0] = frame.planes[0] + static_cast<size_t>(y0) * frame.strides[0] +
                  static_cast<size_t>(x0) * packedPixelBytes(frame.format);
  } else {
    v.planes[0] = frame.planes[0] + static_cast<size_t>(y0) * frame.strides[0] + x0;
    if (frame.format == PixelFormat::kNV12) {
      v.planes[1] = frame.planes[1] + static_cast<size_t>(y0 / 2) * frame.strides[1] + x0;
    } else {
      for (int p = 1; p < 3; ++p)
        v.planes[p] = frame.planes[p] + static_cast<size_t>(y0 / 2) * frame.strides[p] + x0 / 2;
    }
  }
  *out = v;
  return true;
}

}  // namespace edgert::vision
