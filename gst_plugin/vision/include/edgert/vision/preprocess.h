// Turning a frame or photo into a network input, described once and used everywhere a
// model meets an image (edgertinfer, edgert-app, and the CLI's image inputs).
//
//   value[c] = (pixel[c] * scale - mean[c]) / std[c]
//
// after resizing (stretch, letterbox or short side + centre crop) and channel ordering.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "edgert/image_input.h"
#include "edgert/status.h"
#include "edgert/vision/image.h"

namespace edgert::vision {

enum class ResizeMode {
  kStretch,    // to the network size, ignoring aspect ratio
  kLetterbox,  // keep aspect ratio, pad the rest with `pad_value` (YOLO style)
  kShortSide,  // resize so the short side is `resize_short`, then centre-crop (ImageNet style)
};

enum class Interpolation {
  kArea,         // OpenCV: area averaging when shrinking, bilinear when enlarging (fast)
  kLinear,       // OpenCV bilinear (no antialiasing)
  kPilBilinear,  // PIL's / torchvision's antialiased bilinear: what most classifiers were
                 // trained with (their reference labels reproduce exactly); slower
};

struct PreprocessSpec {
  ResizeMode resize = ResizeMode::kStretch;
  Interpolation interpolation = Interpolation::kArea;
  int resize_short = 0;  // kShortSide: short side after resize (0 = the crop size)
  float scale = 1.0f;
  std::array<float, 3> mean = {0, 0, 0};
  std::array<float, 3> std = {1, 1, 1};
  bool bgr = false;   // channel order of the tensor (false = RGB)
  bool nhwc = false;  // tensor layout (false = NCHW)
  uint8_t pad_value = 114;
};

// Parses the CLI form "resize=256,crop=224,mean=127,std=128,order=rgb,layout=nchw": keys
// resize (stretch|letterbox|short-side|<short side>), scale, mean, std (one value or three
// separated by ':'), order (rgb|bgr), layout (nchw|nhwc), pad, interp (area|linear|pil). `crop` is
// accepted as documentation of the network size and must match the engine input when given.
Result<PreprocessSpec> parsePreprocessSpec(const std::string& text, int* crop = nullptr);
// The CLI form of a spec (parsePreprocessSpec reads it back to the same spec).
std::string formatPreprocessSpec(const PreprocessSpec& spec);

// Maps network-input coordinates back to the frame: frame = (net + offset) * scale.
struct FrameTransform {
  float scale_x = 1, scale_y = 1;
  float offset_x = 0, offset_y = 0;
  int frame_width = 0, frame_height = 0;
  int net_width = 0, net_height = 0;
  float toFrameX(float x) const { return (x + offset_x) * scale_x; }
  float toFrameY(float y) const { return (y + offset_y) * scale_y; }
};

// Writes one image into `out` (float32, channels x height x width, or HWC when nhwc).
// `channels` is 3 or 1 (grey). Returns how network coordinates map back to the frame.
Result<FrameTransform> preprocessImage(const ImageView& image, const PreprocessSpec& spec,
                                       int net_width, int net_height, int channels, float* out);

// The same pre-processing handed to the backend (ExecutionContext::setImageInput, which
// the CUDA backend runs as one kernel): the frame description and placement, and how
// network coordinates map back. Interpolation is area/bilinear there (not PIL's).
// The quadrilateral `quad` (a rotated text box, frame pixels) cut out and warped upright, as
// PaddleOCR crops text lines: width the longer of its top and bottom edges, height the longer
// of its sides, turned 90 degrees when it is at least 1.5 times taller than wide. Packed RGB.
Result<OwnedImage> rectifiedCrop(const ImageView& frame,
                                 const std::vector<std::array<float, 2>>& quad);

FrameTransform devicePlacement(const ImageView& image, const PreprocessSpec& spec, int net_width,
                               int net_height, ImageFrame* frame, ImagePlacement* placement);

}  // namespace edgert::vision
