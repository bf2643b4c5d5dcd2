/* edgert tensor meta: the raw output tensors and segmentation masks edgertinfer attaches
 * to a buffer (detections and classes travel as standard GstVideoRegionOfInterestMeta).
 *
 * Reading it needs this header only, not libedgert: the API type is registered under the
 * name "EdgertTensorMetaAPI", so
 *
 *   GType api = g_type_from_name ("EdgertTensorMetaAPI");
 *   gpointer state = NULL;
 *   GstMeta *m;
 *   while (api && (m = gst_buffer_iterate_meta_filtered (buf, &state, api))) {
 *     const EdgertTensorMeta *tm = (const EdgertTensorMeta *) m;
 *     ...
 *   }
 *
 * All arrays are owned by the meta and freed with the buffer. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define EDGERT_TENSOR_META_MAX_RANK 8

typedef struct {
  gchar* name; /* the engine output's name */
  guint rank;
  gint64 dims[EDGERT_TENSOR_META_MAX_RANK]; /* batch dim removed */
  gfloat* data;                             /* row-major float32 */
  gsize n_elements;
} EdgertTensor;

typedef struct {
  GstMeta meta;
  guint producer_id; /* the unique-id of the edgertinfer that made it */
  guint n_tensors;
  EdgertTensor* tensors;
  /* Segmentation: one class id per mask pixel (255 = none), and where it lies on the
   * frame: frame_x = (mask_x + offset_x) * scale_x, likewise for y. */
  guint mask_width, mask_height;
  guint8* mask;
  gfloat mask_scale_x, mask_scale_y, mask_offset_x, mask_offset_y;
} EdgertTensorMeta;

GType edgert_tensor_meta_api_get_type(void);
const GstMetaInfo* edgert_tensor_meta_get_info(void);

/* Adds an empty meta (fields zero) for the caller to fill with g_malloc'd arrays. */
EdgertTensorMeta* gst_buffer_add_edgert_tensor_meta(GstBuffer* buffer, guint producer_id);

G_END_DECLS
