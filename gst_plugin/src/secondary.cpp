#include "secondary.h"

#include <gst/video/gstvideometa.h>

#include <algorithm>

#include "edgert/vision/preprocess.h"

namespace edgert::gst {

namespace {

void attach(GstVideoRegionOfInterestMeta* roi, guint producer, const vision::ClassScore& c) {
  gst_video_region_of_interest_meta_add_param(
      roi,
      gst_structure_new("edgert/secondary", "producer-id", G_TYPE_UINT, producer, "class-id",
                        G_TYPE_INT, c.class_id, "label", G_TYPE_STRING, c.label.c_str(),
                        "confidence", G_TYPE_DOUBLE, static_cast<double>(c.confidence), nullptr));
}

}  // namespace

Status SecondaryRunner::process(GstBuffer* buf, const vision::ImageView& frame,
                                vision::StageTimings* timings, size_t* regions) {
  ++frames_;
  owned_.clear();
  const vision::SecondaryConfig& sc = config_.secondary;
  struct Pending {
    GstVideoRegionOfInterestMeta* roi;
    gint64 track;
  };
  std::vector<Pending> pending;
  std::vector<vision::ImageView> crops;
  gpointer state = nullptr;
  GstMeta* meta;
  while ((meta = gst_buffer_iterate_meta_filtered(buf, &state,
                                                  GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    if (gst_video_region_of_interest_meta_get_param(roi, "edgert/classification")) continue;
    const GstStructure* det = gst_video_region_of_interest_meta_get_param(roi, "edgert/detection");
    guint producer = 0;
    if (det) gst_structure_get_uint(det, "producer-id", &producer);
    if (sc.infer_on_id && producer != sc.infer_on_id) continue;
    if (!sc.labels.empty()) {
      const char* label = det ? gst_structure_get_string(det, "label") : nullptr;
      const std::string l = label ? label : g_quark_to_string(roi->roi_type);
      if (std::find(sc.labels.begin(), sc.labels.end(), l) == sc.labels.end()) continue;
    }
    gint64 track = -1;
    if (const GstStructure* t = gst_video_region_of_interest_meta_get_param(roi, "edgert/track"))
      gst_structure_get_int64(t, "track-id", &track);
    if (track >= 0) {
      auto it = cache_.find(track);
      if (it != cache_.end() &&
          frames_ - it->second.frame < static_cast<guint64>(sc.object_interval)) {
        attach(roi, config_.unique_id, it->second.top);
        continue;
      }
    }
    // Rotated text boxes are cut out upright (as PaddleOCR crops lines); other regions are
    // views of their rectangle.
    const GValue* poly = det ? gst_structure_get_value(det, "polygon") : nullptr;
    if (poly && gst_value_array_get_size(poly) == 8) {
      std::vector<std::array<float, 2>> quad;
      for (guint i = 0; i < 8; i += 2)
        quad.push_back({g_value_get_float(gst_value_array_get_value(poly, i)),
                        g_value_get_float(gst_value_array_get_value(poly, i + 1))});
      auto img = vision::rectifiedCrop(frame, quad);
      if (!img.ok()) continue;
      owned_.push_back(std::move(img).value());
      pending.push_back({roi, track});
      crops.push_back(owned_.back().view);
      continue;
    }
    vision::ImageView crop;
    if (!vision::cropView(frame, static_cast<int>(roi->x), static_cast<int>(roi->y),
                          static_cast<int>(roi->w), static_cast<int>(roi->h), &crop))
      continue;
    pending.push_back({roi, track});
    crops.push_back(crop);
  }
  *regions = crops.size();
  const size_t batch = static_cast<size_t>(std::max(1, inferencer_->batchSize()));
  for (size_t i = 0; i < crops.size(); i += batch) {
    const std::vector<vision::ImageView> chunk(
        crops.begin() + static_cast<long>(i),
        crops.begin() + static_cast<long>(std::min(crops.size(), i + batch)));
    std::vector<vision::FrameResult> results;
    vision::StageTimings t;
    EDGERT_RETURN_IF_ERROR(inferencer_->infer(chunk, &results, &t));
    timings->preprocess_ms += t.preprocess_ms;
    timings->inference_ms += t.inference_ms;
    timings->postprocess_ms += t.postprocess_ms;
    for (size_t k = 0; k < chunk.size(); ++k) {
      const Pending& p = pending[i + k];
      if (results[k].classes.empty()) continue;  // below the threshold
      attach(p.roi, config_.unique_id, results[k].classes[0]);
      if (p.track >= 0) cache_[p.track] = {frames_, results[k].classes[0]};
    }
  }
  // Objects gone for a while: forget them (their ids are never reused).
  const guint64 keep = std::max<guint64>(300, 10ULL * static_cast<guint64>(sc.object_interval));
  for (auto it = cache_.begin(); it != cache_.end();)
    it = frames_ - it->second.frame > keep ? cache_.erase(it) : std::next(it);
  return Status::Ok();
}

}  // namespace edgert::gst
