#include "gstedgertinfer.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "edgert/vision/inferencer.h"
#include "edgert/vision/result_json.h"
#include "frame_view.h"
#include "result_meta.h"

GST_DEBUG_CATEGORY_STATIC(edgert_infer_debug);
#define GST_CAT_DEFAULT edgert_infer_debug

namespace {

using edgert::vision::ElementConfig;
using edgert::vision::FrameResult;
using edgert::vision::ImageView;
using edgert::vision::Inferencer;

#define EDGERT_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420, GRAY8 }"

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
};

struct Pending {
  GstBuffer* buffer;
  bool infer;
};

// The C++ state of one element; GObject owns only a pointer to it.
struct State {
  // Properties (empty / 0 / negative = take the YAML's value).
  std::string config_path, engine, onnx, backend, labels;
  guint batch_size = 0, interval = 0, unique_id = 0;
  double threshold = -1;
  bool emit_messages = false;

  ElementConfig config;
  std::unique_ptr<Inferencer> inferencer;
  GstVideoInfo info{};
  bool have_info = false;
  guint64 frames = 0, inferred = 0;
  double pre_ms = 0, infer_ms = 0, post_ms = 0;
  std::deque<Pending> pending;  // frames waiting for a full batch, in order
  int pending_infer = 0;
  std::deque<GstBuffer*> ready;  // frames done, to push in order
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

// Runs the frames marked for inference among `pending` as one batch, then moves every
// pending frame (inferred or skipped by `interval`) to `ready`, in order.
GstFlowReturn runPending(GstEdgertInfer* self) {
  State& s = *self->s;
  std::vector<GstVideoFrame> maps;
  std::vector<ImageView> views;
  std::vector<GstBuffer*> bufs;
  maps.reserve(s.pending.size());
  GstFlowReturn ret = GST_FLOW_OK;
  for (auto& p : s.pending) {
    if (!p.infer) continue;
    maps.emplace_back();
    if (!gst_video_frame_map(&maps.back(), &s.info, p.buffer, GST_MAP_READ)) {
      maps.pop_back();
      GST_ELEMENT_ERROR(self, STREAM, FAILED, ("cannot map a video frame for reading"), (nullptr));
      ret = GST_FLOW_ERROR;
      break;
    }
    views.push_back(edgert::gst::imageViewOf(maps.back()));
    bufs.push_back(p.buffer);
  }
  if (ret == GST_FLOW_OK && !views.empty()) {
    std::vector<FrameResult> results;
    edgert::Status status = s.inferencer->infer(views, &results);
    for (auto& m : maps) gst_video_frame_unmap(&m);
    maps.clear();
    if (!status.ok()) {
      GST_ELEMENT_ERROR(self, STREAM, FAILED, ("inference failed: %s", status.message().c_str()),
                        ("engine %s", s.inferencer->enginePath().c_str()));
      ret = GST_FLOW_ERROR;
    } else {
      const auto& t = s.inferencer->lastTimings();
      s.pre_ms += t.preprocess_ms;
      s.infer_ms += t.inference_ms;
      s.post_ms += t.postprocess_ms;
      for (size_t i = 0; i < bufs.size(); ++i) {
        edgert::gst::attachResult(bufs[i], results[i], s.config.unique_id,
                                  GST_VIDEO_INFO_WIDTH(&s.info), GST_VIDEO_INFO_HEIGHT(&s.info));
        if (s.emit_messages) postResult(self, bufs[i], results[i], s.inferred);
        ++s.inferred;
      }
    }
  }
  for (auto& m : maps) gst_video_frame_unmap(&m);
  for (auto& p : s.pending) {
    if (ret == GST_FLOW_OK)
      s.ready.push_back(p.buffer);
    else
      gst_buffer_unref(p.buffer);
  }
  s.pending.clear();
  s.pending_infer = 0;
  return ret;
}

void dropQueued(State& s) {
  for (auto& p : s.pending) gst_buffer_unref(p.buffer);
  for (auto* b : s.ready) gst_buffer_unref(b);
  s.pending.clear();
  s.ready.clear();
  s.pending_infer = 0;
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
  auto inf = Inferencer::create(s.config, log);
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
  s.frames = s.inferred = 0;
  s.pre_ms = s.infer_ms = s.post_ms = 0;
  return TRUE;
}

gboolean edgertStop(GstBaseTransform* trans) {
  State& s = st(trans);
  if (s.inferred > 0)
    GST_INFO_OBJECT(trans,
                    "%" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
                    " inferred; per frame: preprocess %.3f ms, inference %.3f ms, decode %.3f ms",
                    s.frames, s.inferred, s.pre_ms / s.inferred, s.infer_ms / s.inferred,
                    s.post_ms / s.inferred);
  dropQueued(s);
  s.inferencer.reset();
  s.have_info = false;
  return TRUE;
}

gboolean edgertSetInfo(GstVideoFilter* filter, GstCaps*, GstVideoInfo* in, GstCaps*,
                       GstVideoInfo*) {
  auto* self = GST_EDGERT_INFER(filter);
  State& s = *self->s;
  if (!s.pending.empty() && runPending(self) != GST_FLOW_OK) return FALSE;
  s.info = *in;
  s.have_info = true;
  return TRUE;
}

GstFlowReturn edgertSubmit(GstBaseTransform* trans, gboolean, GstBuffer* input) {
  auto* self = GST_EDGERT_INFER(trans);
  State& s = *self->s;
  if (!s.have_info || !s.inferencer) {
    gst_buffer_unref(input);
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("a frame arrived before caps"), (nullptr));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstBuffer* buf = gst_buffer_make_writable(input);  // we add metadata
  const bool infer = s.frames++ % static_cast<guint64>(s.config.interval) == 0;
  if (!infer && s.pending.empty()) {
    s.ready.push_back(buf);
    return GST_FLOW_OK;
  }
  s.pending.push_back({buf, infer});
  if (infer) ++s.pending_infer;
  if (s.pending_infer >= std::min(s.config.batch_size, s.inferencer->batchSize()))
    return runPending(self);
  return GST_FLOW_OK;
}

GstFlowReturn edgertGenerate(GstBaseTransform* trans, GstBuffer** out) {
  State& s = st(trans);
  *out = nullptr;
  if (!s.ready.empty()) {
    *out = s.ready.front();
    s.ready.pop_front();
  }
  return GST_FLOW_OK;
}

gboolean edgertSinkEvent(GstBaseTransform* trans, GstEvent* event) {
  auto* self = GST_EDGERT_INFER(trans);
  State& s = *self->s;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
    case GST_EVENT_GAP:
    case GST_EVENT_SEGMENT_DONE: {
      // A partial batch is run now rather than held back forever.
      if (!s.pending.empty() && runPending(self) != GST_FLOW_OK) {
        gst_event_unref(event);
        return FALSE;
      }
      while (!s.ready.empty()) {
        GstBuffer* b = s.ready.front();
        s.ready.pop_front();
        if (gst_pad_push(GST_BASE_TRANSFORM_SRC_PAD(trans), b) != GST_FLOW_OK) break;
      }
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      dropQueued(s);
      break;
    default:
      break;
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
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

void finalize(GObject* obj) {
  auto* self = GST_EDGERT_INFER(obj);
  dropQueued(*self->s);
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

  GstCaps* caps = gst_caps_from_string(GST_VIDEO_CAPS_MAKE(EDGERT_FORMATS));
  gst_element_class_add_pad_template(
      element, gst_pad_template_new("sink", GST_PAD_SINK, GST_PAD_ALWAYS, caps));
  gst_element_class_add_pad_template(
      element, gst_pad_template_new("src", GST_PAD_SRC, GST_PAD_ALWAYS, caps));
  gst_caps_unref(caps);
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
