// edgertoverlay: draws the boxes, labels, classes and masks found in a frame's metadata.
#pragma once

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_EDGERT_OVERLAY (gst_edgert_overlay_get_type())
G_DECLARE_FINAL_TYPE(GstEdgertOverlay, gst_edgert_overlay, GST, EDGERT_OVERLAY, GstVideoFilter)

G_END_DECLS
