// edgerttrack: gives the regions of interest on each frame stable track ids (SORT: Kalman
// filter + IoU assignment, vision/tracker.h), written as an "edgert/track" param and the
// ROI meta's id.
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_EDGERT_TRACK (gst_edgert_track_get_type())
G_DECLARE_FINAL_TYPE(GstEdgertTrack, gst_edgert_track, GST, EDGERT_TRACK, GstBaseTransform)

G_END_DECLS
