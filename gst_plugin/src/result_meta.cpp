#include "result_meta.h"

#include <gst/video/gstvideometa.h>

#include <cstring>

#include "edgert/gst/edgert_meta.h"

namespace edgert::gst {

namespace {

void addFloat(GValue* array, float v) {
  GValue x = G_VALUE_INIT;
  g_value_init(&x, G_TYPE_FLOAT);
  g_value_set_float(&x, v);
  gst_value_array_append_and_take_value(array, &x);
}

}  // namespace

void attachResult(GstBuffer* buf, const vision::FrameResult& r, guint producer_id, int fw, int fh) {
  for (const auto& d : r.detections) {
    GstVideoRegionOfInterestMeta* roi = gst_buffer_add_video_region_of_interest_meta(
        buf, d.label.c_str(), static_cast<guint>(d.x), static_cast<guint>(d.y),
        static_cast<guint>(d.width + 0.5f), static_cast<guint>(d.height + 0.5f));
    roi->id = static_cast<gint>(&d - r.detections.data());
    GstStructure* s = gst_structure_new("edgert/detection", "class-id", G_TYPE_INT, d.class_id,
                                        "label", G_TYPE_STRING, d.label.c_str(), "confidence",
                                        G_TYPE_DOUBLE, static_cast<double>(d.confidence),
                                        "producer-id", G_TYPE_UINT, producer_id, nullptr);
    if (!d.polygon.empty()) {
      GValue poly = G_VALUE_INIT;
      gst_value_array_init(&poly, static_cast<guint>(2 * d.polygon.size()));
      for (const auto& p : d.polygon) {
        addFloat(&poly, p[0]);
        addFloat(&poly, p[1]);
      }
      gst_structure_take_value(s, "polygon", &poly);
    }
    gst_video_region_of_interest_meta_add_param(roi, s);
  }
  if (!r.classes.empty()) {
    const auto& top = r.classes[0];
    GstVideoRegionOfInterestMeta* roi = gst_buffer_add_video_region_of_interest_meta(
        buf, top.label.c_str(), 0, 0, static_cast<guint>(fw), static_cast<guint>(fh));
    GstStructure* s = gst_structure_new(
        "edgert/classification", "class-id", G_TYPE_INT, top.class_id, "label", G_TYPE_STRING,
        top.label.c_str(), "confidence", G_TYPE_DOUBLE, static_cast<double>(top.confidence),
        "producer-id", G_TYPE_UINT, producer_id, nullptr);
    GValue ids = G_VALUE_INIT, labels = G_VALUE_INIT, confs = G_VALUE_INIT;
    gst_value_array_init(&ids, static_cast<guint>(r.classes.size()));
    gst_value_array_init(&labels, static_cast<guint>(r.classes.size()));
    gst_value_array_init(&confs, static_cast<guint>(r.classes.size()));
    for (const auto& c : r.classes) {
      GValue v = G_VALUE_INIT;
      g_value_init(&v, G_TYPE_INT);
      g_value_set_int(&v, c.class_id);
      gst_value_array_append_and_take_value(&ids, &v);
      g_value_init(&v, G_TYPE_STRING);
      g_value_set_string(&v, c.label.c_str());
      gst_value_array_append_and_take_value(&labels, &v);
      addFloat(&confs, c.confidence);
    }
    gst_structure_take_value(s, "class-ids", &ids);
    gst_structure_take_value(s, "labels", &labels);
    gst_structure_take_value(s, "confidences", &confs);
    gst_video_region_of_interest_meta_add_param(roi, s);
  }
  if (r.mask.width > 0 || !r.tensors.empty()) {
    EdgertTensorMeta* m = gst_buffer_add_edgert_tensor_meta(buf, producer_id);
    if (r.mask.width > 0) {
      m->mask_width = static_cast<guint>(r.mask.width);
      m->mask_height = static_cast<guint>(r.mask.height);
      m->mask = static_cast<guint8*>(g_memdup2(r.mask.classes.data(), r.mask.classes.size()));
      m->mask_scale_x = r.mask.scale_x;
      m->mask_scale_y = r.mask.scale_y;
      m->mask_offset_x = r.mask.offset_x;
      m->mask_offset_y = r.mask.offset_y;
    }
    m->n_tensors = static_cast<guint>(r.tensors.size());
    m->tensors = g_new0(EdgertTensor, r.tensors.size());
    for (size_t i = 0; i < r.tensors.size(); ++i) {
      const auto& t = r.tensors[i];
      EdgertTensor& e = m->tensors[i];
      e.name = g_strdup(t.name.c_str());
      e.rank = static_cast<guint>(std::min<size_t>(t.dims.size(), EDGERT_TENSOR_META_MAX_RANK));
      for (guint k = 0; k < e.rank; ++k) e.dims[k] = t.dims[k];
      e.n_elements = t.data.size();
      e.data = static_cast<gfloat*>(g_memdup2(t.data.data(), t.data.size() * sizeof(float)));
    }
  }
}

vision::FrameResult collectResults(GstBuffer* buf) {
  vision::FrameResult r;
  gpointer state = nullptr;
  GstMeta* meta;
  while ((meta = gst_buffer_iterate_meta_filtered(buf, &state,
                                                  GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    const char* type = g_quark_to_string(roi->roi_type);
    if (const GstStructure* c =
            gst_video_region_of_interest_meta_get_param(roi, "edgert/classification")) {
      const GValue* ids = gst_structure_get_value(c, "class-ids");
      const GValue* labels = gst_structure_get_value(c, "labels");
      const GValue* confs = gst_structure_get_value(c, "confidences");
      const guint n = ids ? gst_value_array_get_size(ids) : 0;
      for (guint i = 0; i < n && labels && confs; ++i) {
        r.classes.push_back({g_value_get_int(gst_value_array_get_value(ids, i)),
                             g_value_get_string(gst_value_array_get_value(labels, i)),
                             g_value_get_float(gst_value_array_get_value(confs, i))});
      }
      continue;
    }
    vision::Detection d;
    d.x = static_cast<float>(roi->x);
    d.y = static_cast<float>(roi->y);
    d.width = static_cast<float>(roi->w);
    d.height = static_cast<float>(roi->h);
    d.label = type ? type : "";
    d.class_id = static_cast<int>(roi->roi_type % 97);  // stable colour for foreign ROIs
    if (const GstStructure* s =
            gst_video_region_of_interest_meta_get_param(roi, "edgert/detection")) {
      gst_structure_get_int(s, "class-id", &d.class_id);
      double conf = 0;
      if (gst_structure_get_double(s, "confidence", &conf)) d.confidence = static_cast<float>(conf);
      if (const GValue* p = gst_structure_get_value(s, "polygon")) {
        const guint n = gst_value_array_get_size(p);
        for (guint i = 0; i + 1 < n; i += 2)
          d.polygon.push_back({g_value_get_float(gst_value_array_get_value(p, i)),
                               g_value_get_float(gst_value_array_get_value(p, i + 1))});
      }
    }
    for (GList* l = roi->params; l; l = l->next) {
      auto* p = static_cast<const GstStructure*>(l->data);
      if (!gst_structure_has_name(p, "edgert/secondary")) continue;
      vision::SecondaryResult sr;
      gst_structure_get_uint(p, "producer-id", &sr.producer_id);
      gst_structure_get_int(p, "class-id", &sr.class_id);
      if (const char* lab = gst_structure_get_string(p, "label")) sr.label = lab;
      double conf = 0;
      if (gst_structure_get_double(p, "confidence", &conf))
        sr.confidence = static_cast<float>(conf);
      d.secondary.push_back(std::move(sr));
    }
    if (const GstStructure* t = gst_video_region_of_interest_meta_get_param(roi, "edgert/track")) {
      gint64 track = -1;
      if (gst_structure_get_int64(t, "track-id", &track)) d.track_id = track;
    }
    r.detections.push_back(std::move(d));
  }
  state = nullptr;
  while (
      (meta = gst_buffer_iterate_meta_filtered(buf, &state, edgert_tensor_meta_api_get_type()))) {
    auto* m = reinterpret_cast<EdgertTensorMeta*>(meta);
    if (!m->mask || m->mask_width == 0) continue;
    r.mask.width = static_cast<int>(m->mask_width);
    r.mask.height = static_cast<int>(m->mask_height);
    r.mask.classes.assign(m->mask, m->mask + gsize{m->mask_width} * m->mask_height);
    r.mask.scale_x = m->mask_scale_x;
    r.mask.scale_y = m->mask_scale_y;
    r.mask.offset_x = m->mask_offset_x;
    r.mask.offset_y = m->mask_offset_y;
  }
  return r;
}

}  // namespace edgert::gst
