#include "gstedgertoverlay.h"

#include "edgert/vision/draw.h"
#include "frame_view.h"
#include "result_meta.h"

GST_DEBUG_CATEGORY_STATIC(edgert_overlay_debug);
#define GST_CAT_DEFAULT edgert_overlay_debug

struct _GstEdgertOverlay {
  GstVideoFilter parent;
};

G_DEFINE_TYPE(GstEdgertOverlay, gst_edgert_overlay, GST_TYPE_VIDEO_FILTER)

namespace {

GstFlowReturn overlayFrame(GstVideoFilter*, GstVideoFrame* frame) {
  const edgert::vision::ImageView v = edgert::gst::imageViewOf(*frame);
  edgert::vision::drawResult(v, edgert::gst::collectResults(frame->buffer));
  return GST_FLOW_OK;
}

}  // namespace

static void gst_edgert_overlay_class_init(GstEdgertOverlayClass* klass) {
  GST_DEBUG_CATEGORY_INIT(edgert_overlay_debug, "edgertoverlay", 0, "edgert overlay");
  auto* element = GST_ELEMENT_CLASS(klass);
  edgert::gst::addVideoPadTemplates(element);
  gst_element_class_set_static_metadata(
      element, "edgert overlay", "Filter/Effect/Video",
      "Draws the regions of interest (boxes, rotated text boxes, labels with confidence), "
      "classes and segmentation masks attached to each frame",
      "edgert authors");
  GST_VIDEO_FILTER_CLASS(klass)->transform_frame_ip = overlayFrame;
}

static void gst_edgert_overlay_init(GstEdgertOverlay*) {}
