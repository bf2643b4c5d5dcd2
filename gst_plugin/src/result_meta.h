// FrameResult <-> buffer metadata: detections and classes as GstVideoRegionOfInterestMeta
// with an "edgert/detection" or "edgert/classification" param structure, masks and raw
// tensors as EdgertTensorMeta.
#pragma once

#include <gst/gst.h>

#include "edgert/vision/results.h"

namespace edgert::gst {

void attachResult(GstBuffer* buffer, const vision::FrameResult& result, guint producer_id,
                  int frame_width, int frame_height);

// Everything any producer attached (ROI metas without edgert params included, labelled
// by their roi_type), for drawing.
vision::FrameResult collectResults(GstBuffer* buffer);

}  // namespace edgert::gst
