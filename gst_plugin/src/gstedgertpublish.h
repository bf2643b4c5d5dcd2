// edgertpublish: each frame's results (every region with its labels, track ids and
// secondary results) as one JSON object, to an MQTT broker and/or a JSON lines file.
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_EDGERT_PUBLISH (gst_edgert_publish_get_type())
G_DECLARE_FINAL_TYPE(GstEdgertPublish, gst_edgert_publish, GST, EDGERT_PUBLISH, GstBaseTransform)

G_END_DECLS
