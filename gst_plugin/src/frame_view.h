// A mapped GstVideoFrame seen as an edgert::vision::ImageView (no copy).
#pragma once

#include <gst/video/video.h>

#include "edgert/vision/image.h"

namespace edgert::gst {

vision::ImageView imageViewOf(const GstVideoFrame& frame);

// The formats both elements take (edgertoverlay the same as edgertinfer, so it can sit
// right after it), as always-present sink and src pad templates.
void addVideoPadTemplates(GstElementClass* element);

}  // namespace edgert::gst
