#include "frame_view.h"

namespace edgert::gst {

vision::ImageView imageViewOf(const GstVideoFrame& f) {
  vision::ImageView v;
  vision::parsePixelFormat(gst_video_format_to_string(GST_VIDEO_FRAME_FORMAT(&f)), &v.format);
  v.width = GST_VIDEO_FRAME_WIDTH(&f);
  v.height = GST_VIDEO_FRAME_HEIGHT(&f);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&f) && p < 3; ++p) {
    v.planes[p] = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&f, p));
    v.strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&f, p);
  }
  v.bt709 = f.info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709;
  v.full_range = f.info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
  return v;
}

void addVideoPadTemplates(GstElementClass* element) {
  GstCaps* caps = gst_caps_from_string(
      GST_VIDEO_CAPS_MAKE("{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420, GRAY8 }"));
  gst_element_class_add_pad_template(
      element, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template(
      element, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
}

}  // namespace edgert::gst
