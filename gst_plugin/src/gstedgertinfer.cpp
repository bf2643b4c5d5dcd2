#include "gstedgertinfer.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "edgert/vision/result_json.h"
#include "edgert/vision/shared_inferencer.h"
#include "frame_view.h"
#include "infer_queue.h"
#include "result_meta.h"
#include "secondary.h"

GST_DEBUG_CATEGORY_STATIC(edgert_infer_debug);
#define GST_CAT_DEFAULT edgert_infer_debug

namespace {

using edgert::vision::ElementConfig;
using edgert::vision::FrameResult;
using edgert::vision::ImageView;

enum {
  PROP_0,
  PROP_CONFIG,
  PROP_ENGINE,
  PROP_ONNX,
  PROP_BACKEND,
  PROP_BATCH_SIZE,
  PROP_INTERVAL,
  PROP_THRESHOLD,
  PROP_LABELS,
  PROP_UNIQUE_ID,
  PROP_EMIT_MESSAGES,
  PROP_MAX_QUEUE,
  PROP_DROP_WHEN_LATE,
  PROP_PROCESS_MODE,
  PROP_INFER_ON_ID,
  PROP_INFER_ON_LABELS,
  PROP_OBJECT_INTERVAL,
};

// The C++ state of one element; GObject owns only a pointer to it.
struct State {
  // Properties (empty / 0 / negative = take the YAML's value).
  std::string config_path, engine, onnx, backend, labels;
  guint batch_size = 0, interval = 0, unique_id = 0;
  double threshold = -1;
  bool emit_messages = false;
  guint max_queue = 0;
  bool drop_when_late = false;
  std::string process_mode, infer_on_labels;
  gint64 infer_on_id = -1;  // -1: the YAML's
  guint object_interval = 0;

  ElementConfig config;
  // Shared with every edgertinfer of this process that has the same model configuration:
  // their frames are batched together.
  std::shared_ptr<edgert::vision::SharedInferencer> inferencer;
  GstVideoInfo info{};
  guint64 frames = 0, inferred = 0;
  double pre_ms = 0, infer_ms = 0, post_ms = 0;
  std::unique_ptr<edgert::gst::InferQueue> queue;  // created with the caps
  std::unique_ptr<edgert::gst::SecondaryRunner> secondary;
  guint64 regions = 0;  // classified in secondary mode
};

}  // namespace

struct _GstEdgertInfer {
  GstVideoFilter parent;
  State* s;
};

G_DEFINE_TYPE(GstEdgertInfer, gst_edgert_infer, GST_TYPE_VIDEO_FILTER)

namespace {

State& st(gpointer obj) {
  return *GST_EDGERT_INFER(obj)->s;
}

edgert::Result<ElementConfig> effectiveConfig(const State& s) {
  ElementConfig cfg;
  if (!s.config_path.empty()) {
    EDGERT_ASSIGN_OR_RETURN(cfg, edgert::vision::loadElementConfig(s.config_path));
  }
  if (!s.engine.empty()) {
    cfg.model.engine = s.engine;
    cfg.model.onnx.clear();
  }
  if (!s.onnx.empty()) {
    cfg.model.onnx = s.onnx;
    cfg.model.engine.clear();
  }
  if (!s.backend.empty()) cfg.model.backend = s.backend;
  if (s.threshold >= 0) cfg.decoder.threshold = static_cast<float>(s.threshold);
  if (!s.labels.empty()) cfg.labels_path = s.labels;
  if (s.batch_size > 0) cfg.batch_size = static_cast<int>(s.batch_size);
  if (s.interval > 0) cfg.interval = static_cast<int>(s.interval);
  if (s.unique_id > 0) cfg.unique_id = s.unique_id;
  if (!s.process_mode.empty()) {
    if (s.process_mode != "primary" && s.process_mode != "secondary")
      return edgert::Status(
          edgert::StatusCode::kInvalidArgument,
          "process-mode must be primary or secondary, got '" + s.process_mode + "'");
    cfg.secondary.enabled = s.process_mode == "secondary";
  }
  if (s.infer_on_id >= 0) cfg.secondary.infer_on_id = static_cast<uint32_t>(s.infer_on_id);
  if (!s.infer_on_labels.empty()) {
    cfg.secondary.labels.clear();
    gchar** parts = g_strsplit(s.infer_on_labels.c_str(), ",", -1);
    for (gchar** p = parts; *p; ++p)
      if (**p) cfg.secondary.labels.push_back(g_strstrip(*p));
    g_strfreev(parts);
  }
  if (s.object_interval > 0) cfg.secondary.object_interval = static_cast<int>(s.object_interval);
  EDGERT_RETURN_IF_ERROR(edgert::vision::checkSecondary(cfg));
  if (cfg.model.engine.empty() && cfg.model.onnx.empty())
    return edgert::Status(edgert::StatusCode::kInvalidArgument,
                          "no model: set the 'config', 'engine' or 'onnx' property");
  return cfg;
}

void postResult(GstEdgertInfer* self, GstBuffer* buf, const FrameResult& r, guint64 frame) {
  State& s = *self->s;
  edgert::vision::FrameInfo fi;
  fi.source = GST_OBJECT_NAME(self);
  fi.frame = frame;
  fi.pts_ns = GST_BUFFER_PTS_IS_VALID(buf) ? static_cast<int64_t>(GST_BUFFER_PTS(buf)) : -1;
  fi.width = GST_VIDEO_INFO_WIDTH(&s.info);
  fi.height = GST_VIDEO_INFO_HEIGHT(&s.info);
  fi.producer_id = s.config.unique_id;
  const std::string json = edgert::vision::resultToJson(r, fi);
  GstStructure* msg = gst_structure_new(
      "edgert-result", "producer-id", G_TYPE_UINT, s.config.unique_id, "frame", G_TYPE_UINT64,
      frame, "timestamp", G_TYPE_UINT64, GST_BUFFER_PTS(buf), "objects", G_TYPE_UINT,
      static_cast<guint>(r.detections.size()), "json", G_TYPE_STRING, json.c_str(), nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), msg));
}

// After each inferred frame (worker thread, frame order): the stage times, the message,
// the count.
void finishFrame(GstEdgertInfer* self, GstBuffer* buf, const FrameResult& r,
                 const edgert::vision::StageTimings& t) {
  State& s = *self->s;
  s.pre_ms += t.preprocess_ms;
  s.infer_ms += t.inference_ms;
  s.post_ms += t.postprocess_ms;
  if (s.emit_messages) postResult(self, buf, r, s.inferred);
  ++s.inferred;
}

void annotate(GstEdgertInfer* self, GstBuffer* buf, const FrameResult& r,
              const edgert::vision::StageTimings& t) {
  State& s = *self->s;
  edgert::gst::attachResult(buf, r, s.config.unique_id, GST_VIDEO_INFO_WIDTH(&s.info),
                            GST_VIDEO_INFO_HEIGHT(&s.info));
  finishFrame(self, buf, r, t);
}

void makeQueue(GstEdgertInfer* self) {
  State& s = *self->s;
  edgert::gst::InferQueue::Hooks hooks;
  hooks.push = [self](GstBuffer* b) { return gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(self), b); };
  hooks.annotate = [self](GstBuffer* b, const FrameResult& r,
                          const edgert::vision::StageTimings& t) { annotate(self, b, r, t); };
  hooks.error = [self](const std::string& msg) {
    GST_ELEMENT_ERROR(self, STREAM, FAILED, ("inference failed: %s", msg.c_str()),
                      ("engine %s", self->s->inferencer->enginePath().c_str()));
  };
  hooks.dropped = [self](guint64 n) {
    // Never silent: a warning the first time and every 100 frames, a message each time.
    if (n == 1 || n % 100 == 0)
      GST_ELEMENT_WARNING(self, STREAM, FAILED,
                          ("inference is falling behind: %" G_GUINT64_FORMAT
                           " frames passed without results (drop-when-late=true)",
                           n),
                          (nullptr));
    gst_element_post_message(
        GST_ELEMENT(self),
        gst_message_new_element(GST_OBJECT(self), gst_structure_new("edgert-dropped", "dropped",
                                                                    G_TYPE_UINT64, n, nullptr)));
  };
  if (s.config.secondary.enabled) {
    s.secondary = std::make_unique<edgert::gst::SecondaryRunner>(s.inferencer.get(), s.config);
    hooks.secondary = [self](GstBuffer* b, const edgert::vision::ImageView& frame,
                             edgert::vision::StageTimings* t) {
      State& state = *self->s;
      size_t n = 0;
      const edgert::Status status = state.secondary->process(b, frame, t, &n);
      state.regions += n;
      // Messages carry every region of the frame with what this model said of each.
      if (status.ok())
        finishFrame(self, b, state.emit_messages ? edgert::gst::collectResults(b) : FrameResult{},
                    *t);
      return status;
    };
  }
  // Secondary mode batches a frame's regions, not frames.
  const int batch =
      s.config.secondary.enabled ? 1 : std::min(s.config.batch_size, s.inferencer->batchSize());
  const int max_queue = s.max_queue > 0 ? static_cast<int>(s.max_queue) : std::max(4, 2 * batch);
  s.queue = std::make_unique<edgert::gst::InferQueue>(s.inferencer.get(), s.info, batch, max_queue,
                                                      s.drop_when_late, std::move(hooks));
}

gboolean edgertStart(GstBaseTransform* trans) {
  auto* self = GST_EDGERT_INFER(trans);
  State& s = *self->s;
  auto cfg = effectiveConfig(s);
  if (!cfg.ok()) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", cfg.status().message().c_str()),
                      ("config '%s'", s.config_path.c_str()));
    return FALSE;
  }
  s.config = cfg.value();
  // Engine builds take seconds: say so on the console as Gst-nvinfer does, not only in
  // the debug log.
  auto log = [self](edgert::LogSeverity sev, const std::string& msg) {
    if (sev == edgert::LogSeverity::kVerbose) {
      GST_DEBUG_OBJECT(self, "%s", msg.c_str());
      return;
    }
    if (sev == edgert::LogSeverity::kInfo)
      GST_INFO_OBJECT(self, "%s", msg.c_str());
    else
      GST_WARNING_OBJECT(self, "%s", msg.c_str());
    g_printerr("%s: %s\n", GST_OBJECT_NAME(self), msg.c_str());
  };
  auto inf = edgert::vision::SharedInferencer::acquire(s.config, log);
  if (!inf.ok()) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("cannot load the model: %s", inf.status().message().c_str()),
                      ("config '%s'", s.config_path.c_str()));
    return FALSE;
  }
  s.inferencer = std::move(inf).value();
  GST_INFO_OBJECT(self, "engine %s on %s, input %dx%d, batch %d, task %s",
                  s.inferencer->enginePath().c_str(), edgert::backendName(s.inferencer->backend()),
                  s.inferencer->netWidth(), s.inferencer->netHeight(), s.config.batch_size,
                  edgert::vision::taskTypeName(s.config.decoder.task));
  s.frames = s.inferred = s.regions = 0;
  s.pre_ms = s.infer_ms = s.post_ms = 0;
  return TRUE;
}

gboolean edgertStop(GstBaseTransform* trans) {
  State& s = st(trans);
  if (s.secondary)
    GST_INFO_OBJECT(trans, "secondary: %" G_GUINT64_FORMAT " regions classified", s.regions);
  if (s.inferred > 0)
    GST_INFO_OBJECT(trans,
                    "%" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
                    " inferred; per frame: preprocess %.3f ms, inference %.3f ms, decode %.3f ms",
                    s.frames, s.inferred, s.pre_ms / s.inferred, s.infer_ms / s.inferred,
                    s.post_ms / s.inferred);
  s.queue.reset();  // joins the worker
  s.secondary.reset();
  s.inferencer.reset();
  return TRUE;
}

gboolean edgertSetInfo(GstVideoFilter* filter, GstCaps*, GstVideoInfo* in, GstCaps*,
                       GstVideoInfo*) {
  auto* self = GST_EDGERT_INFER(filter);
  State& s = *self->s;
  if (s.queue && s.queue->drain() != GST_FLOW_OK) return FALSE;
  s.info = *in;
  if (s.queue)
    s.queue->setInfo(*in);
  else
    makeQueue(self);
  return TRUE;
}

GstFlowReturn edgertSubmit(GstBaseTransform* trans, gboolean, GstBuffer* input) {
  auto* self = GST_EDGERT_INFER(trans);
  State& s = *self->s;
  if (!s.queue) {  // made with the caps
    gst_buffer_unref(input);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("a frame arrived before caps"), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstBuffer* buf = gst_buffer_make_writable(input);  // we add metadata
  const bool infer = s.frames++ % static_cast<guint64>(s.config.interval) == 0;
  return s.queue->submit(buf, infer);
}

GstFlowReturn edgertGenerate(GstBaseTransform*, GstBuffer** out) {
  // The queue's worker pushes frames itself, as soon as their results are attached.
  *out = nullptr;
  return GST_FLOW_OK;
}

gboolean edgertSinkEvent(GstBaseTransform* trans, GstEvent* event) {
  auto* self = GST_EDGERT_INFER(trans);
  State& s = *self->s;
  if (s.queue) {
    if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_START) {
      s.queue->setFlushing(true);
    } else if (GST_EVENT_TYPE(event) == GST_EVENT_FLUSH_STOP) {
      s.queue->setFlushing(false);
    } else if (GST_EVENT_IS_SERIALIZED(event)) {
      // EOS, segments, caps, tags ... follow the frames queued before them.
      const GstFlowReturn ret = s.queue->drain();
      if (ret != GST_FLOW_OK && ret != GST_FLOW_EOS && GST_EVENT_TYPE(event) != GST_EVENT_EOS) {
        gst_event_unref(event);
        return FALSE;
      }
    }
  }
  return GST_BASE_TRANSFORM_CLASS(gst_edgert_infer_parent_class)->sink_event(trans, event);
}

void setProperty(GObject* obj, guint id, const GValue* v, GParamSpec* pspec) {
  State& s = st(obj);
  const auto str = [&] { return std::string(g_value_get_string(v) ? g_value_get_string(v) : ""); };
  switch (id) {
    case PROP_CONFIG:
      s.config_path = str();
      break;
    case PROP_ENGINE:
      s.engine = str();
      break;
    case PROP_ONNX:
      s.onnx = str();
      break;
    case PROP_BACKEND:
      s.backend = str();
      break;
    case PROP_LABELS:
      s.labels = str();
      break;
    case PROP_BATCH_SIZE:
      s.batch_size = g_value_get_uint(v);
      break;
    case PROP_INTERVAL:
      s.interval = g_value_get_uint(v);
      break;
    case PROP_UNIQUE_ID:
      s.unique_id = g_value_get_uint(v);
      break;
    case PROP_THRESHOLD:
      s.threshold = g_value_get_double(v);
      break;
    case PROP_EMIT_MESSAGES:
      s.emit_messages = g_value_get_boolean(v);
      break;
    case PROP_PROCESS_MODE:
      s.process_mode = str();
      break;
    case PROP_INFER_ON_ID:
      s.infer_on_id = g_value_get_int64(v);
      break;
    case PROP_INFER_ON_LABELS:
      s.infer_on_labels = str();
      break;
    case PROP_OBJECT_INTERVAL:
      s.object_interval = g_value_get_uint(v);
      break;
    case PROP_MAX_QUEUE:
      s.max_queue = g_value_get_uint(v);
      break;
    case PROP_DROP_WHEN_LATE:
      s.drop_when_late = g_value_get_boolean(v);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

void getProperty(GObject* obj, guint id, GValue* v, GParamSpec* pspec) {
  State& s = st(obj);
  switch (id) {
    case PROP_CONFIG:
      g_value_set_string(v, s.config_path.c_str());
      break;
    case PROP_ENGINE:
      g_value_set_string(v, s.engine.c_str());
      break;
    case PROP_ONNX:
      g_value_set_string(v, s.onnx.c_str());
      break;
    case PROP_BACKEND:
      g_value_set_string(v, s.backend.c_str());
      break;
    case PROP_LABELS:
      g_value_set_string(v, s.labels.c_str());
      break;
    case PROP_BATCH_SIZE:
      g_value_set_uint(v, s.batch_size);
      break;
    case PROP_INTERVAL:
      g_value_set_uint(v, s.interval);
      break;
    case PROP_UNIQUE_ID:
      g_value_set_uint(v, s.unique_id);
      break;
    case PROP_THRESHOLD:
      g_value_set_double(v, s.threshold);
      break;
    case PROP_EMIT_MESSAGES:
      g_value_set_boolean(v, s.emit_messages);
      break;
    case PROP_PROCESS_MODE:
      g_value_set_string(v, s.process_mode.c_str());
      break;
    case PROP_INFER_ON_ID:
      g_value_set_int64(v, s.infer_on_id);
      break;
    case PROP_INFER_ON_LABELS:
      g_value_set_string(v, s.infer_on_labels.c_str());
      break;
    case PROP_OBJECT_INTERVAL:
      g_value_set_uint(v, s.object_interval);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint(v, s.max_queue);
      break;
    case PROP_DROP_WHEN_LATE:
      g_value_set_boolean(v, s.drop_when_late);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

void finalize(GObject* obj) {
  auto* self = GST_EDGERT_INFER(obj);
  self->s->queue.reset();
  delete self->s;
  G_OBJECT_CLASS(gst_edgert_infer_parent_class)->finalize(obj);
}

GParamFlags rw() {
  return static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                  GST_PARAM_MUTABLE_READY);
}

}  // namespace

static void gst_edgert_infer_class_init(GstEdgertInferClass* klass) {
  GST_DEBUG_CATEGORY_INIT(edgert_infer_debug, "edgertinfer", 0, "edgert inference");
  auto* gobject = G_OBJECT_CLASS(klass);
  auto* element = GST_ELEMENT_CLASS(klass);
  auto* base = GST_BASE_TRANSFORM_CLASS(klass);
  gobject->set_property = setProperty;
  gobject->get_property = getProperty;
  gobject->finalize = finalize;
  g_object_class_install_property(
      gobject, PROP_CONFIG,
      g_param_spec_string("config", "Config",
                          "Element YAML (model, preprocess, task, inference); "
                          "see configs/README.md",
                          nullptr, rw()));
  g_object_class_install_property(
      gobject, PROP_ENGINE,
      g_param_spec_string("engine", "Engine", "Engine file (overrides the YAML's model)", nullptr,
                          rw()));
  g_object_class_install_property(
      gobject, PROP_ONNX,
      g_param_spec_string("onnx", "ONNX model",
                          "ONNX model built on first use and cached beside "
                          "it as <model>.<precision>.<target>.engine",
                          nullptr, rw()));
  g_object_class_install_property(
      gobject, PROP_BACKEND,
      g_param_spec_string("backend", "Backend",
                          "cpu, cuda or auto (default: the YAML's, else auto)", nullptr, rw()));
  g_object_class_install_property(gobject, PROP_BATCH_SIZE,
                                  g_param_spec_uint("batch-size", "Batch size",
                                                    "Frames per inference, at most the engine's "
                                                    "batch (0 = the YAML's, else 1)",
                                                    0, 1024, 0, rw()));
  g_object_class_install_property(
      gobject, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval",
                        "Infer every Nth frame; the others pass with no "
                        "results (0 = the YAML's, else 1)",
                        0, 1 << 20, 0, rw()));
  g_object_class_install_property(
      gobject, PROP_THRESHOLD,
      g_param_spec_double("threshold", "Threshold", "Minimum confidence reported (-1 = the YAML's)",
                          -1, 1, -1, rw()));
  g_object_class_install_property(
      gobject, PROP_LABELS,
      g_param_spec_string("labels", "Labels", "Label file, one class name per line", nullptr,
                          rw()));
  g_object_class_install_property(gobject, PROP_UNIQUE_ID,
                                  g_param_spec_uint("unique-id", "Unique id",
                                                    "Producer id written into every result "
                                                    "(0 = the YAML's, else 1)",
                                                    0, G_MAXUINT, 0, rw()));
  g_object_class_install_property(
      gobject, PROP_EMIT_MESSAGES,
      g_param_spec_boolean("emit-messages", "Emit messages",
                           "Post an 'edgert-result' element "
                           "message per inferred frame (fields producer-id, frame, timestamp, "
                           "objects, json)",
                           FALSE,
                           static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));

  g_object_class_install_property(
      gobject, PROP_MAX_QUEUE,
      g_param_spec_uint("max-queue", "Max queue",
                        "Frames waiting for inference before the "
                        "element waits (or drops, see drop-when-late); 0 = max(4, 2 x batch)",
                        0, 1024, 0, rw()));
  g_object_class_install_property(
      gobject, PROP_DROP_WHEN_LATE,
      g_param_spec_boolean("drop-when-late", "Drop when late",
                           "When the queue is full, pass "
                           "frames through without results instead of waiting; every such frame "
                           "is reported (warning, 'edgert-dropped' message)",
                           FALSE, rw()));
  g_object_class_install_property(
      gobject, PROP_PROCESS_MODE,
      g_param_spec_string("process-mode", "Process mode",
                          "primary: the model runs on whole frames; secondary: on each region "
                          "another edgertinfer attached (a classifier per object). Empty = the "
                          "YAML's, else primary",
                          nullptr, rw()));
  g_object_class_install_property(
      gobject, PROP_INFER_ON_ID,
      g_param_spec_int64("infer-on-id", "Infer on id",
                         "Secondary mode: only regions of the edgertinfer with this unique-id "
                         "(0 = any producer, -1 = the YAML's)",
                         -1, G_MAXUINT, -1, rw()));
  g_object_class_install_property(
      gobject, PROP_INFER_ON_LABELS,
      g_param_spec_string("infer-on-labels", "Infer on labels",
                          "Secondary mode: only regions with one of these labels "
                          "(comma-separated; empty = the YAML's, else all)",
                          nullptr, rw()));
  g_object_class_install_property(
      gobject, PROP_OBJECT_INTERVAL,
      g_param_spec_uint("object-interval", "Object interval",
                        "Secondary mode: classify a tracked object (edgerttrack id) at most every "
                        "N frames, carrying its last result in between (0 = the YAML's, else 1)",
                        0, 1 << 20, 0, rw()));
  edgert::gst::addVideoPadTemplates(element);
  gst_element_class_set_static_metadata(
      element, "edgert inference", "Filter/Analyzer/Video",
      "Runs an edgert engine on each frame and attaches detections, classes and masks as "
      "GstVideoRegionOfInterestMeta and edgert tensor meta",
      "edgert authors");
  base->start = edgertStart;
  base->stop = edgertStop;
  base->submit_input_buffer = edgertSubmit;
  base->generate_output = edgertGenerate;
  base->sink_event = edgertSinkEvent;
  GST_VIDEO_FILTER_CLASS(klass)->set_info = edgertSetInfo;
}

static void gst_edgert_infer_init(GstEdgertInfer* self) {
  self->s = new State();
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), FALSE);
}
