// A borrowed view of one video frame in any of the pixel formats edgertinfer accepts.
// Nothing is copied: planes point into the caller's (mapped) buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgert::vision {

enum class PixelFormat { kRGB, kBGR, kRGBA, kBGRA, kRGBx, kBGRx, kNV12, kI420, kGRAY8 };

// "RGB", "NV12", ... as GStreamer names them.
const char* pixelFormatName(PixelFormat f);
// Parses GStreamer's format names; false if not one edgert handles.
bool parsePixelFormat(const std::string& name, PixelFormat* out);

struct ImageView {
  PixelFormat format = PixelFormat::kRGB;
  int width = 0;
  int height = 0;
  // Packed formats use plane 0; NV12 uses Y + interleaved UV; I420 uses Y, U, V.
  const uint8_t* planes[3] = {nullptr, nullptr, nullptr};
  int strides[3] = {0, 0, 0};  // bytes per row of each plane
  // YUV formats: the colour matrix and range the caps declare.
  bool bt709 = false;
  bool full_range = false;
};

// Bytes per pixel of plane 0 for packed formats (3 or 4), 1 for planar ones.
int packedPixelBytes(PixelFormat f);

// A view of the rectangle (x, y, w, h) of `frame`, clamped to it; on YUV formats widened to
// even coordinates (chroma is shared by 2x2 pixels). False when nothing is left.
bool cropView(const ImageView& frame, int x, int y, int w, int h, ImageView* out);

// An image that owns its pixels (packed RGB); `view` points into `pixels`.
struct OwnedImage {
  std::vector<uint8_t> pixels;
  ImageView view;
};

}  // namespace edgert::vision
