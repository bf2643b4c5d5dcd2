// edgertinfer process-mode=secondary: the model runs on the regions of interest another
// edgertinfer attached (a cascade: detector, then a classifier per object). Crops are views
// into the mapped frame (no copies; on the CUDA backend each crop is uploaded and resized by
// one kernel), batched up to the engine's batch size, and the top class goes onto each region
// as an "edgert/secondary" param. Rotated text boxes (regions with a 4-corner polygon) are
// cut out upright first, as PaddleOCR crops text lines. Tracked objects (edgerttrack ids) are
// re-classified at most every `object_interval` frames; in between they carry the last result.
#pragma once

#include <gst/gst.h>

#include <deque>
#include <map>

#include "edgert/vision/element_config.h"
#include "edgert/vision/shared_inferencer.h"

namespace edgert::gst {

class SecondaryRunner {
 public:
  SecondaryRunner(vision::SharedInferencer* inferencer, const vision::ElementConfig& config)
      : inferencer_(inferencer), config_(config) {}
  // Classifies the buffer's regions (the buffer must be writable); `regions` gets how many
  // were classified by the model (not from the cache).
  Status process(GstBuffer* buffer, const vision::ImageView& frame, vision::StageTimings* timings,
                 size_t* regions);

 private:
  struct Cached {
    guint64 frame = 0;
    vision::ClassScore top;
  };
  vision::SharedInferencer* inferencer_;
  vision::ElementConfig config_;
  std::map<gint64, Cached> cache_;        // by track id
  std::deque<vision::OwnedImage> owned_;  // this frame's rectified crops (stable addresses)
  guint64 frames_ = 0;
};

}  // namespace edgert::gst
