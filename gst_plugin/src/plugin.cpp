#include <gst/gst.h>

#include "gstedgertinfer.h"
#include "gstedgertoverlay.h"
#include "gstedgertpublish.h"
#include "gstedgerttrack.h"

namespace {

gboolean pluginInit(GstPlugin* plugin) {
  return gst_element_register(plugin, "edgertinfer", GST_RANK_NONE, GST_TYPE_EDGERT_INFER) &&
         gst_element_register(plugin, "edgertoverlay", GST_RANK_NONE, GST_TYPE_EDGERT_OVERLAY) &&
         gst_element_register(plugin, "edgerttrack", GST_RANK_NONE, GST_TYPE_EDGERT_TRACK) &&
         gst_element_register(plugin, "edgertpublish", GST_RANK_NONE, GST_TYPE_EDGERT_PUBLISH);
}

}  // namespace

#define PACKAGE "edgert"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, edgert,
                  "edgert inference: run engines on video and draw their results", pluginInit,
                  EDGERT_VERSION_STRING, "MIT/X11", "edgert", "https://github.com/edgert/edgert")
