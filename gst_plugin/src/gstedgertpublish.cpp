#include "gstedgertpublish.h"

#include <gst/video/video.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "edgert/internal/str.h"
#include "edgert/vision/result_json.h"
#include "mqtt_publisher.h"
#include "result_meta.h"

GST_DEBUG_CATEGORY_STATIC(edgert_publish_debug);
#define GST_CAT_DEFAULT edgert_publish_debug

namespace {

enum {
  PROP_0,
  PROP_BROKER,
  PROP_TOPIC,
  PROP_STREAM,
  PROP_CLIENT_ID,
  PROP_QOS,
  PROP_MAX_QUEUE,
  PROP_LOCATION,
  PROP_PUBLISHED,
  PROP_DROPPED,
  PROP_CONNECTED,
};

struct State {
  std::mutex mu;
  std::string broker, topic, stream, client_id, location;
  int qos = 1;
  guint max_queue = 1000;
  std::unique_ptr<edgert::gst::MqttPublisher> mqtt;
  FILE* file = nullptr;  // JSON lines, written as <location>.part and renamed at stop
  GstVideoInfo info{};
  bool have_info = false;
  guint64 frames = 0, dropped = 0;
  bool warned = false;
};

GstStaticPadTemplate kSink = GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
                                                     GST_STATIC_CAPS("video/x-raw(ANY)"));
GstStaticPadTemplate kSrc = GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS,
                                                    GST_STATIC_CAPS("video/x-raw(ANY)"));

}  // namespace

struct _GstEdgertPublish {
  GstBaseTransform parent;
  State* s;
};

G_DEFINE_TYPE(GstEdgertPublish, gst_edgert_publish, GST_TYPE_BASE_TRANSFORM)

namespace {

State& st(gpointer obj) {
  return *GST_EDGERT_PUBLISH(obj)->s;
}

std::string partPath(const std::string& location) {
  const std::filesystem::path p(location);
  return (p.parent_path() / edgert::strCat(".", p.filename().string(), ".part")).string();
}

gboolean start(GstBaseTransform* base) {
  auto* self = GST_EDGERT_PUBLISH(base);
  State& s = *self->s;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.broker.empty() && s.location.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS,
                      ("nowhere to publish: set 'broker' (MQTT) and/or 'location' (JSON lines)"),
                      (nullptr));
    return FALSE;
  }
  if (s.stream.empty()) s.stream = GST_OBJECT_NAME(self);
  if (!s.broker.empty()) {
    auto m = edgert::gst::MqttPublisher::start(s.broker, s.client_id, s.max_queue);
    if (!m.ok()) {
      GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("%s", m.status().message().c_str()),
                        ("broker property"));
      return FALSE;
    }
    s.mqtt = std::move(m).value();
  }
  if (!s.location.empty()) {
    s.file = std::fopen(partPath(s.location).c_str(), "w");
    if (!s.file) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("cannot write '%s'", s.location.c_str()),
                        ("location property"));
      s.mqtt.reset();
      return FALSE;
    }
  }
  s.frames = s.dropped = 0;
  s.warned = false;
  return TRUE;
}

gboolean stop(GstBaseTransform* base) {
  auto* self = GST_EDGERT_PUBLISH(base);
  State& s = *self->s;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.mqtt) {
    // Give the broker a moment to acknowledge what is in flight; the rest is dropped.
    for (int i = 0; i < 200 && s.mqtt->inFlight() > 0 && s.mqtt->connected(); ++i) g_usleep(10000);
    s.dropped += s.mqtt->inFlight();
    GST_INFO_OBJECT(self,
                    "%" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT
                    " acknowledged by %s, %" G_GUINT64_FORMAT " dropped",
                    s.frames, static_cast<guint64>(s.mqtt->acknowledged()),
                    s.mqtt->address().c_str(), s.dropped);
    s.mqtt.reset();
  }
  if (s.file) {
    const bool ok = std::fclose(s.file) == 0;
    s.file = nullptr;
    std::error_code ec;
    if (ok) std::filesystem::rename(partPath(s.location), s.location, ec);
    if (!ok || ec)
      GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("could not finish '%s'", s.location.c_str()),
                          (nullptr));
  }
  return TRUE;
}

gboolean setCaps(GstBaseTransform* base, GstCaps* in, GstCaps*) {
  State& s = st(base);
  std::lock_guard<std::mutex> lock(s.mu);
  s.have_info = gst_video_info_from_caps(&s.info, in);
  return TRUE;
}

GstFlowReturn transformIp(GstBaseTransform* base, GstBuffer* buf) {
  auto* self = GST_EDGERT_PUBLISH(base);
  State& s = *self->s;
  std::lock_guard<std::mutex> lock(s.mu);
  edgert::vision::FrameInfo fi;
  fi.source = s.stream;
  fi.frame = s.frames++;
  fi.pts_ns = GST_BUFFER_PTS_IS_VALID(buf) ? static_cast<int64_t>(GST_BUFFER_PTS(buf)) : -1;
  fi.width = s.have_info ? GST_VIDEO_INFO_WIDTH(&s.info) : 0;
  fi.height = s.have_info ? GST_VIDEO_INFO_HEIGHT(&s.info) : 0;
  const std::string json = edgert::vision::resultToJson(edgert::gst::collectResults(buf), fi);
  if (s.file) {
    std::fputs(json.c_str(), s.file);
    std::fputc('\n', s.file);
  }
  if (s.mqtt) {
    std::string topic = s.topic;
    if (topic.empty()) topic.append("edgert/").append(s.stream);
    if (!s.mqtt->publish(topic, json, s.qos)) {
      // Never silent: a warning the first time, a message with the count every time.
      ++s.dropped;
      if (!s.warned)
        GST_ELEMENT_WARNING(
            self, RESOURCE, WRITE,
            ("MQTT broker %s: %s; results are dropped and counted until it is "
             "back",
             s.mqtt->address().c_str(),
             s.mqtt->connected() ? "too many messages unacknowledged" : "not connected"),
            (nullptr));
      s.warned = true;
      gst_element_post_message(
          GST_ELEMENT(self),
          gst_message_new_element(
              GST_OBJECT(self),
              gst_structure_new("edgert-publish-dropped", "dropped", G_TYPE_UINT64, s.dropped,
                                "frame", G_TYPE_UINT64, fi.frame, nullptr)));
    } else {
      s.warned = false;
    }
  }
  return GST_FLOW_OK;
}

void setProperty(GObject* obj, guint id, const GValue* v, GParamSpec* pspec) {
  State& s = st(obj);
  std::lock_guard<std::mutex> lock(s.mu);
  const auto str = [&] { return std::string(g_value_get_string(v) ? g_value_get_string(v) : ""); };
  switch (id) {
    case PROP_BROKER:
      s.broker = str();
      break;
    case PROP_TOPIC:
      s.topic = str();
      break;
    case PROP_STREAM:
      s.stream = str();
      break;
    case PROP_CLIENT_ID:
      s.client_id = str();
      break;
    case PROP_QOS:
      s.qos = g_value_get_int(v);
      break;
    case PROP_MAX_QUEUE:
      s.max_queue = g_value_get_uint(v);
      break;
    case PROP_LOCATION:
      s.location = str();
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

void getProperty(GObject* obj, guint id, GValue* v, GParamSpec* pspec) {
  State& s = st(obj);
  std::lock_guard<std::mutex> lock(s.mu);
  switch (id) {
    case PROP_BROKER:
      g_value_set_string(v, s.broker.c_str());
      break;
    case PROP_TOPIC:
      g_value_set_string(v, s.topic.c_str());
      break;
    case PROP_STREAM:
      g_value_set_string(v, s.stream.c_str());
      break;
    case PROP_CLIENT_ID:
      g_value_set_string(v, s.client_id.c_str());
      break;
    case PROP_QOS:
      g_value_set_int(v, s.qos);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint(v, s.max_queue);
      break;
    case PROP_LOCATION:
      g_value_set_string(v, s.location.c_str());
      break;
    case PROP_PUBLISHED:
      g_value_set_uint64(v, s.mqtt ? s.mqtt->acknowledged() : 0);
      break;
    case PROP_DROPPED:
      g_value_set_uint64(v, s.dropped);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean(v, s.mqtt && s.mqtt->connected());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
  }
}

void finalize(GObject* obj) {
  auto* self = GST_EDGERT_PUBLISH(obj);
  if (self->s->file) std::fclose(self->s->file);
  delete self->s;
  G_OBJECT_CLASS(gst_edgert_publish_parent_class)->finalize(obj);
}

}  // namespace

static void gst_edgert_publish_class_init(GstEdgertPublishClass* klass) {
  GST_DEBUG_CATEGORY_INIT(edgert_publish_debug, "edgertpublish", 0, "edgert results publisher");
  auto* gobject = G_OBJECT_CLASS(klass);
  gobject->set_property = setProperty;
  gobject->get_property = getProperty;
  gobject->finalize = finalize;
  const auto rw = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
                                           GST_PARAM_MUTABLE_READY);
  const auto ro = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(
      gobject, PROP_BROKER,
      g_param_spec_string("broker", "Broker",
                          "MQTT broker: tcp://host:port, host:port or host (port 1883); "
                          "reconnects after it goes away",
                          nullptr, rw));
  g_object_class_install_property(
      gobject, PROP_TOPIC,
      g_param_spec_string("topic", "Topic", "MQTT topic (default: edgert/<stream>)", nullptr, rw));
  g_object_class_install_property(
      gobject, PROP_STREAM,
      g_param_spec_string("stream", "Stream",
                          "Stream name written into each result (default: the element's name)",
                          nullptr, rw));
  g_object_class_install_property(
      gobject, PROP_CLIENT_ID,
      g_param_spec_string("client-id", "Client id", "MQTT client id (default: random)", nullptr,
                          rw));
  g_object_class_install_property(
      gobject, PROP_QOS,
      g_param_spec_int("qos", "QoS",
                       "MQTT quality of service: 0 at most once, 1 at least once (acknowledged "
                       "by the broker)",
                       0, 1, 1, rw));
  g_object_class_install_property(
      gobject, PROP_MAX_QUEUE,
      g_param_spec_uint("max-queue", "Max queue",
                        "Messages waiting for the broker's acknowledgement; beyond, results are "
                        "dropped and counted rather than the pipeline blocked",
                        1, 1000000, 1000, rw));
  g_object_class_install_property(
      gobject, PROP_LOCATION,
      g_param_spec_string("location", "Location",
                          "Also write the results as JSON lines to this file (written under a "
                          "temporary name, renamed at the end)",
                          nullptr, rw));
  g_object_class_install_property(
      gobject, PROP_PUBLISHED,
      g_param_spec_uint64("published", "Published",
                          "Messages the broker acknowledged (qos 1) or that were sent (qos 0)", 0,
                          G_MAXUINT64, 0, ro));
  g_object_class_install_property(
      gobject, PROP_DROPPED,
      g_param_spec_uint64("dropped", "Dropped",
                          "Results not published (no connection, queue full, unacknowledged at "
                          "the end)",
                          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property(
      gobject, PROP_CONNECTED,
      g_param_spec_boolean("connected", "Connected", "Whether the MQTT connection is up", FALSE,
                           ro));
  auto* element = GST_ELEMENT_CLASS(klass);
  gst_element_class_add_static_pad_template(element, &kSink);
  gst_element_class_add_static_pad_template(element, &kSrc);
  gst_element_class_set_static_metadata(
      element, "edgert publisher", "Sink/Network",
      "Publishes each frame's results (regions, labels, track ids, secondary results) as JSON "
      "to an MQTT broker and/or a JSON lines file; passes the frames on",
      "edgert authors");
  auto* bt = GST_BASE_TRANSFORM_CLASS(klass);
  bt->start = start;
  bt->stop = stop;
  bt->set_caps = setCaps;
  bt->transform_ip = transformIp;
  bt->passthrough_on_same_caps = FALSE;
}

static void gst_edgert_publish_init(GstEdgertPublish* self) {
  self->s = new State();
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
