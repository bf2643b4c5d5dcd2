#include "edgert/vision/image.h"

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

}  // namespace edgert::vision
