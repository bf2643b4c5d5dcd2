// Feeding a video frame to an image input directly: resize, colour conversion, letterbox /
// crop window, normalisation and layout in one pass, done by the backend. On the CUDA
// backend that is one upload of the frame's planes and one kernel on the context's stream
// (no host-side resize), so a 1080p frame costs a fraction of a millisecond.
//
//   edgert::ImageFrame f{edgert::ImageFormat::kNV12, 1920, 1080, {y, uv}, {1920, 1920}};
//   edgert::ImagePlacement p = edgert::letterbox(f.width, f.height, 640, 640);
//   p.mul = {1 / 255.f, 1 / 255.f, 1 / 255.f};
//   ctx->setImageInput("images", 0, f, p);   // batch item 0
//   ctx->execute();
//
// Sampling: area averaging where the frame shrinks, bilinear where it grows (OpenCV's
// INTER_AREA semantics); YUV by the frame's matrix (BT.601 / BT.709) and range.
#pragma once

#include <array>
#include <cstdint>

namespace edgert {

enum class ImageFormat { kRGB, kBGR, kRGBA, kBGRA, kRGBx, kBGRx, kNV12, kI420, kGRAY8 };

// A frame in host memory (planes are not copied beyond the call).
struct ImageFrame {
  ImageFormat format = ImageFormat::kRGB;
  int width = 0, height = 0;
  std::array<const uint8_t*, 3> planes{};  // packed: [0]; NV12: Y, UV; I420: Y, U, V
  std::array<int, 3> strides{};            // bytes per row of each plane
  bool bt709 = false;                      // YUV matrix (else BT.601)
  bool full_range = false;                 // YUV range (else 16-235)
};

// Where the resized frame lies in the network input and how pixels become values.
struct ImagePlacement {
  int resized_width = 0, resized_height = 0;  // the whole frame after resizing
  int offset_x = 0, offset_y = 0;     // tensor pixel (u, v) reads resized pixel (u + x, v + y)
  uint8_t pad_value = 0;              // pixel value where the resized frame does not reach
  std::array<float, 3> mul{1, 1, 1};  // tensor channel c = pixel[source_channel[c]] * mul[c]
  std::array<float, 3> add{0, 0, 0};  //                   + add[c]
  std::array<int, 3> source_channel{0, 1, 2};  // 0 = R, 1 = G, 2 = B (e.g. {2, 1, 0} for BGR)
  bool nhwc = false;                           // the input's layout (else NCHW)
};

// The placements the common pre-processing modes give (offsets per the conventions of
// YOLO letterboxing and torchvision's centre crop).
ImagePlacement stretch(int net_width, int net_height);
ImagePlacement letterbox(int width, int height, int net_width, int net_height);
ImagePlacement shortSideCrop(int width, int height, int short_side, int net_width, int net_height);

}  // namespace edgert
