#include "gstedgerttrack.h"

#include <gst/video/gstvideometa.h>

#include <memory>
#include <mutex>

#include "edgert/vision/tracker.h"

GST_DEBUG_CATEGORY_STATIC(edgert_track_debug);
#define GST_CAT_DEFAULT edgert_track_debug

struct _GstEdgertTrack {
  GstBaseTransform parent;
  std::mutex* mu;  // properties vs the streaming thread
  edgert::vision::TrackerOptions* options;
  std::unique_ptr<edgert::vision::Tracker>* tracker;  // made at start and after flushes
  guint producer_id;                                  // 0: every producer's regions
  guint64 frames;
};

G_DEFINE_TYPE(GstEdgertTrack, gst_edgert_track, GST_TYPE_BASE_TRANSFORM)

namespace {

enum { PROP_0, PROP_MAX_AGE, PROP_MIN_HITS, PROP_IOU_THRESHOLD, PROP_PER_CLASS, PROP_PRODUCER_ID };

GstStaticPadTemplate kSink = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                                                     GST_STATIC_CAPS("video/x-raw(ANY)"));
GstStaticPadTemplate kSrc = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                                                    GST_STATIC_CAPS("video/x-raw(ANY)"));

void resetTracker(GstEdgertTrack* self) {
  std::lock_guard<std::mutex> lock(*self->mu);
  *self->tracker = std::make_unique<edgert::vision::Tracker>(*self->options);
  self->frames = 0;
}

// The producer (edgertinfer unique-id) of a region; 0 when it has none.
guint producerOf(GstVideoRegionOfInterestMeta* roi) {
  guint id = 0;
  if (const GstStructure* s = gst_video_region_of_interest_meta_get_param(roi, "edgert/detection"))
    gst_structure_get_uint(s, "producer-id", &id);
  return id;
}

GstFlowReturn transformIp(GstBaseTransform* base, GstBuffer* buf) {
  auto* self = GST_EDGERT_TRACK(base);
  std::vector<GstVideoRegionOfInterestMeta*> rois;
  std::vector<edgert::vision::TrackBox> boxes;
  gpointer state = nullptr;
  GstMeta* meta;
  std::lock_guard<std::mutex> lock(*self->mu);
  while ((meta = gst_buffer_iterate_meta_filtered(buf, &state,
                                                  GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
    // Whole-frame classifications are not objects.
    if (gst_video_region_of_interest_meta_get_param(roi, "edgert/classification")) continue;
    if (self->producer_id && producerOf(roi) != self->producer_id) continue;
    int class_id = static_cast<int>(roi->roi_type);
    if (const GstStructure* s =
            gst_video_region_of_interest_meta_get_param(roi, "edgert/detection"))
      gst_structure_get_int(s, "class-id", &class_id);
    rois.push_back(roi);
    boxes.push_back({static_cast<float>(roi->x), static_cast<float>(roi->y),
                     static_cast<float>(roi->w), static_cast<float>(roi->h), class_id});
  }
  const std::vector<int64_t> ids = (*self->tracker)->update(boxes);
  for (size_t i = 0; i < rois.size(); ++i) {
    if (ids[i] < 0) continue;
    rois[i]->id = static_cast<gint>(ids[i]);
    gst_video_region_of_interest_meta_add_param(
        rois[i], gst_structure_new("edgert/track", "track-id", G_TYPE_INT64,
                                   static_cast<gint64>(ids[i]), nullptr));
  }
  ++self->frames;
  return GST_FLOW_OK;
}

gboolean start(GstBaseTransform* base) {
  resetTracker(GST_EDGERT_TRACK(base));
  return TRUE;
}

gboolean sinkEvent(GstBaseTransform* base, GstEvent* event) {
  // A flush or a new stream is a cut: tracks from before it would match by accident.
  if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP ||
      GST_EVENT_TYPE(event) == GST_EVENT_STREAM_START)
    resetTracker(GST_EDGERT_TRACK(base));
  return GST_BASE_TRANSFORM_CLASS(gst_edgert_track_parent_class)->sink_event(base, event);
}

void setProperty(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = GST_EDGERT_TRACK(object);
  {
    std::lock_guard<std::mutex> lock(*self->mu);
    switch (id) {
      case PROP_MAX_AGE:
        self->options->max_age = g_value_get_int(value);
        break;
      case PROP_MIN_HITS:
        self->options->min_hits = g_value_get_int(value);
        break;
      case PROP_IOU_THRESHOLD:
        self->options->iou_threshold = static_cast<float>(g_value_get_double(value));
        break;
      case PROP_PER_CLASS:
        self->options->per_class = g_value_get_boolean(value);
        break;
      case PROP_PRODUCER_ID:
        self->producer_id = g_value_get_uint(value);
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
        return;
    }
  }
  // Options apply to the tracks made from now on: a running tracker starts over.
  if (id != PROP_PRODUCER_ID) resetTracker(self);
}

void getProperty(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = GST_EDGERT_TRACK(object);
  std::lock_guard<std::mutex> lock(*self->mu);
  switch (id) {
    case PROP_MAX_AGE:
      g_value_set_int(value, self->options->max_age);
      break;
    case PROP_MIN_HITS:
      g_value_set_int(value, self->options->min_hits);
      break;
    case PROP_IOU_THRESHOLD:
      g_value_set_double(value, self->options->iou_threshold);
      break;
    case PROP_PER_CLASS:
      g_value_set_boolean(value, self->options->per_class);
      break;
    case PROP_PRODUCER_ID:
      g_value_set_uint(value, self->producer_id);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

void finalize(GObject* object) {
  auto* self = GST_EDGERT_TRACK(object);
  delete self->tracker;
  delete self->options;
  delete self->mu;
  G_OBJECT_CLASS(gst_edgert_track_parent_class)->finalize(object);
}

}  // namespace

static void gst_edgert_track_class_init(GstEdgertTrackClass* klass) {
  GST_DEBUG_CATEGORY_INIT(edgert_track_debug, "edgerttrack", 0, "edgert tracker");
  auto* gobject = G_OBJECT_CLASS(klass);
  gobject->set_property = setProperty;
  gobject->get_property = getProperty;
  gobject->finalize = finalize;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const edgert::vision::TrackerOptions d;
  g_object_class_install_property(
      gobject, PROP_MAX_AGE,
      g_param_spec_int("max-age", "Max age", "Frames a track survives without a matching region", 0,
                       G_MAXINT, d.max_age, flags));
  g_object_class_install_property(
      gobject, PROP_MIN_HITS,
      g_param_spec_int("min-hits", "Min hits",
                       "Consecutive matches before a new track gets its id (during a stream's "
                       "first min-hits frames every match gets one at once)",
                       1, G_MAXINT, d.min_hits, flags));
  g_object_class_install_property(
      gobject, PROP_IOU_THRESHOLD,
      g_param_spec_double("iou-threshold", "IoU threshold",
                          "Least overlap between a region and a track's predicted box to match",
                          0.0, 1.0, d.iou_threshold, flags));
  g_object_class_install_property(
      gobject, PROP_PER_CLASS,
      g_param_spec_boolean("per-class", "Per class", "Match regions only to tracks of their class",
                           d.per_class, flags));
  g_object_class_install_property(
      gobject, PROP_PRODUCER_ID,
      g_param_spec_uint("producer-id", "Producer id",
                        "Track only the regions of the edgertinfer with this unique-id (0: all)", 0,
                        G_MAXUINT, 0, flags));
  auto* element = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element, &kSink);
  gst_element_class_add_static_pad_template(element, &kSrc);
  gst_element_class_set_static_metadata(
      element, "edgert tracker", "Filter/Analyzer/Video",
      "Gives the regions of interest of each frame stable track ids: a constant-velocity Kalman "
      "filter per object and IoU assignment (SORT)",
      "edgert authors");
  auto* bt = GST_BASE_TRANSFORM_CLASS(klass);
  bt->transform_ip = transformIp;
  bt->start = start;
  bt->sink_event = sinkEvent;
  bt->passthrough_on_same_caps = FALSE;
}

static void gst_edgert_track_init(GstEdgertTrack* self) {
  self->mu = new std::mutex();
  self->options = new edgert::vision::TrackerOptions();
  self->tracker = new std::unique_ptr<edgert::vision::Tracker>(
      std::make_unique<edgert::vision::Tracker>(*self->options));
  self->producer_id = 0;
  self->frames = 0;
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
