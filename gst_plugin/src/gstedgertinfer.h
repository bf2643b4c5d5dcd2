// edgertinfer: runs an edgert engine on video frames and attaches the results as
// metadata (in place: pixels pass through untouched).
#pragma once

#include <gst/video/gstvideofilter.h>
#include <gst/video/video.h>

G_BEGIN_DECLS

#define GST_TYPE_EDGERT_INFER (gst_edgert_infer_get_type())
G_DECLARE_FINAL_TYPE(GstEdgertInfer, gst_edgert_infer, GST, EDGERT_INFER, GstVideoFilter)

G_END_DECLS
