// A mapped GstVideoFrame seen as an edgert::vision::ImageView (no copy).
#pragma once

#include <gst/video/video.h>

#include "edgert/vision/image.h"

namespace edgert::gst {

vision::ImageView imageViewOf(const GstVideoFrame& frame);

}  // namespace edgert::gst
