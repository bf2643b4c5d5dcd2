#include "edgert/gst/edgert_meta.h"

#include <cstring>

namespace {

gboolean metaInit(GstMeta* meta, gpointer, GstBuffer*) {
  auto* m = reinterpret_cast<EdgertTensorMeta*>(meta);
  m->producer_id = 0;
  m->n_tensors = 0;
  m->tensors = nullptr;
  m->mask_width = m->mask_height = 0;
  m->mask = nullptr;
  m->mask_scale_x = m->mask_scale_y = 1;
  m->mask_offset_x = m->mask_offset_y = 0;
  return TRUE;
}

void metaFree(GstMeta* meta, GstBuffer*) {
  auto* m = reinterpret_cast<EdgertTensorMeta*>(meta);
  for (guint i = 0; i < m->n_tensors; ++i) {
    g_free(m->tensors[i].name);
    g_free(m->tensors[i].data);
  }
  g_free(m->tensors);
  g_free(m->mask);
}

// Copies travel with buffer copies (and survive videoconvert's in-place paths); the mask
// and tensors are in frame-independent units, so no scaling is needed here.
gboolean metaTransform(GstBuffer* dest, GstMeta* meta, GstBuffer*, GQuark type, gpointer) {
  if (!GST_META_TRANSFORM_IS_COPY(type)) return FALSE;
  const auto* s = reinterpret_cast<const EdgertTensorMeta*>(meta);
  EdgertTensorMeta* d = gst_buffer_add_edgert_tensor_meta(dest, s->producer_id);
  if (!d) return FALSE;
  d->n_tensors = s->n_tensors;
  d->tensors = g_new0(EdgertTensor, s->n_tensors);
  for (guint i = 0; i < s->n_tensors; ++i) {
    d->tensors[i] = s->tensors[i];
    d->tensors[i].name = g_strdup(s->tensors[i].name);
    d->tensors[i].data = static_cast<gfloat*>(
        g_memdup2(s->tensors[i].data, s->tensors[i].n_elements * sizeof(gfloat)));
  }
  d->mask_width = s->mask_width;
  d->mask_height = s->mask_height;
  d->mask = static_cast<guint8*>(g_memdup2(s->mask, gsize{s->mask_width} * s->mask_height));
  d->mask_scale_x = s->mask_scale_x;
  d->mask_scale_y = s->mask_scale_y;
  d->mask_offset_x = s->mask_offset_x;
  d->mask_offset_y = s->mask_offset_y;
  return TRUE;
}

}  // namespace

GType edgert_tensor_meta_api_get_type(void) {
  static GType type = 0;
  static const gchar* tags[] = {nullptr};
  if (g_once_init_enter(&type)) {
    GType t = gst_meta_api_type_register("EdgertTensorMetaAPI", tags);
    g_once_init_leave(&type, t);
  }
  return type;
}

const GstMetaInfo* edgert_tensor_meta_get_info(void) {
  static const GstMetaInfo* info = nullptr;
  if (g_once_init_enter(&info)) {
    const GstMetaInfo* i =
        gst_meta_register(edgert_tensor_meta_api_get_type(), "EdgertTensorMeta",
                          sizeof(EdgertTensorMeta), metaInit, metaFree, metaTransform);
    g_once_init_leave(&info, i);
  }
  return info;
}

EdgertTensorMeta* gst_buffer_add_edgert_tensor_meta(GstBuffer* buffer, guint producer_id) {
  auto* m = reinterpret_cast<EdgertTensorMeta*>(
      gst_buffer_add_meta(buffer, edgert_tensor_meta_get_info(), nullptr));
  if (m) m->producer_id = producer_id;
  return m;
}
