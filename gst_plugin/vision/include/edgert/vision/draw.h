// Draws results onto a frame (edgertoverlay, edgert-app snapshots, README images).
#pragma once

#include <opencv2/core.hpp>

#include "edgert/vision/image.h"
#include "edgert/vision/results.h"

namespace edgert::vision {

// A colour per class id that never changes between frames or runs (RGB order).
cv::Scalar classColor(int class_id);

// Boxes (or rotated polygons) with "label 0.87", the classification's best classes
// top-left, and the mask blended at 40%. Works on every format edgertinfer accepts,
// YUV included (drawn plane by plane, so no colour conversion of the frame is needed).
// The planes of `frame` must be writable.
void drawResult(const ImageView& frame, const FrameResult& result);

}  // namespace edgert::vision
