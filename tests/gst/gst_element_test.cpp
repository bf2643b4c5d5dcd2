// edgertinfer and edgertoverlay under GstHarness: every pixel format, caps it cannot
// take, a model that fails to load, interval, batching, messages, the overlay, and a soak
// of thousands of frames with repeated state changes (run under ASan in CI).
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/gstvideometa.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "edgert/builder.h"
#include "gst_plugin_loader.h"
#include "onnx_model.h"

namespace {

namespace fs = std::filesystem;

class GstElements : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    edgert::test::loadEdgertPlugin("edgertinfer");
    if (::testing::Test::HasFatalFailure()) return;
    dir_ = fs::temp_directory_path() / ("edgert_gst_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // Mean of each channel as logits: the class is the frame's dominant colour.
    for (int batch : {1, 2}) {
      edgert::test::OnnxGraph g(13);
      g.input("x", edgert::DataType::kFloat32, {batch, 3, 16, 16});
      g.node("GlobalAveragePool", {"x"}, {"p"});
      g.node("Flatten", {"p"}, {"logits"});
      g.output("logits");
      const std::string onnx = g.save("colour");
      const std::string engine = (dir_ / ("colour_b" + std::to_string(batch) + ".engine")).string();
      ASSERT_TRUE(edgert::buildEngineFile(onnx, engine, {}).ok());
      fs::remove(onnx);
    }
    std::ofstream(dir_ / "labels.txt") << "red\ngreen\nblue\n";
    writeConfig("colour.yaml", "colour_b1.engine", 1);
    writeConfig("colour_b2.yaml", "colour_b2.engine", 2);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static void writeConfig(const std::string& name, const std::string& engine, int batch) {
    std::ofstream(dir_ / name) << "model: {engine: " << engine << ", backend: cpu}\n"
                               << "preprocess: {scale: 0.0392}\n"
                               << "task: {type: classification, threshold: 0, top_k: 1, "
                                  "labels: labels.txt}\n"
                               << "inference: {batch_size: " << batch << ", unique_id: 7}\n";
  }
  static std::string config(const std::string& name = "colour.yaml") {
    return (dir_ / name).string();
  }

  // An RGB frame of one colour.
  static GstBuffer* rgbFrame(int w, int h, int r, int g, int b, GstClockTime pts) {
    GstVideoInfo info;
    gst_video_info_set_format(&info, GST_VIDEO_FORMAT_RGB, w, h);
    GstBuffer* buf = gst_buffer_new_allocate(nullptr, info.size, nullptr);
    GstMapInfo map;
    gst_buffer_map(buf, &map, GST_MAP_WRITE);
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        guint8* p = map.data + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0) + 3 * x;
        p[0] = static_cast<guint8>(r);
        p[1] = static_cast<guint8>(g);
        p[2] = static_cast<guint8>(b);
      }
    gst_buffer_unmap(buf, &map);
    GST_BUFFER_PTS(buf) = pts;
    GST_BUFFER_DURATION(buf) = GST_SECOND / 30;
    return buf;
  }

  static std::string rgbCaps(int w, int h) {
    return "video/x-raw,format=RGB,width=" + std::to_string(w) + ",height=" + std::to_string(h) +
           ",framerate=30/1";
  }

  // The label of the classification ROI, or "" if none.
  static std::string classLabel(GstBuffer* buf, guint* producer = nullptr) {
    gpointer state = nullptr;
    GstMeta* m;
    while ((m = gst_buffer_iterate_meta_filtered(buf, &state,
                                                 GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
      auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(m);
      const GstStructure* s =
          gst_video_region_of_interest_meta_get_param(roi, "edgert/classification");
      if (!s) continue;
      if (producer) gst_structure_get_uint(s, "producer-id", producer);
      return gst_structure_get_string(s, "label");
    }
    return "";
  }

  static inline fs::path dir_;
};

TEST_F(GstElements, ClassifiesInEveryFormat) {
  const char* formats[] = {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420"};
  const int colours[3][3] = {{220, 30, 30}, {30, 220, 30}, {30, 30, 220}};
  const char* names[] = {"red", "green", "blue"};
  for (const char* f : formats) {
    const std::string desc =
        std::string("videoconvert ! video/x-raw,format=") + f + " ! edgertinfer config=" + config();
    GstHarness* h = gst_harness_new_parse(desc.c_str());
    gst_harness_set_src_caps_str(h, rgbCaps(37, 23).c_str());  // odd sizes on purpose
    for (int c = 0; c < 3; ++c) {
      ASSERT_EQ(
          gst_harness_push(h, rgbFrame(37, 23, colours[c][0], colours[c][1], colours[c][2], c)),
          GST_FLOW_OK)
          << f;
      GstBuffer* out = gst_harness_pull(h);
      ASSERT_TRUE(out) << f;
      guint producer = 0;
      EXPECT_EQ(classLabel(out, &producer), names[c]) << f;
      EXPECT_EQ(producer, 7u);
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
  }
}

TEST_F(GstElements, GreyFramesStillGetAResult) {
  const std::string desc =
      "videoconvert ! video/x-raw,format=GRAY8 ! edgertinfer config=" + config();
  GstHarness* h = gst_harness_new_parse(desc.c_str());
  gst_harness_set_src_caps_str(h, rgbCaps(16, 16).c_str());
  ASSERT_EQ(gst_harness_push(h, rgbFrame(16, 16, 200, 30, 30, 0)), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull(h);
  EXPECT_FALSE(classLabel(out).empty());
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

TEST_F(GstElements, RefusesCapsItCannotTake) {
  GstHarness* h = gst_harness_new_parse(("edgertinfer config=" + config()).c_str());
  gst_harness_set_src_caps_str(h, "video/x-raw,format=YUY2,width=16,height=16,framerate=30/1");
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, 16 * 16 * 2, nullptr);
  EXPECT_EQ(gst_harness_push(h, buf), GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown(h);
}

// Plays a pipeline until end of stream; an error message or no EOS within `seconds` fails.
void playToEos(GstElement* pipe, int seconds) {
  ASSERT_NE(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstBus* bus = gst_element_get_bus(pipe);
  GstMessage* m = gst_bus_timed_pop_filtered(
      bus, seconds * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  gst_object_unref(bus);
  ASSERT_TRUE(m);
  EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
  gst_message_unref(m);
}

// The pipeline's state change fails and the bus carries one error naming the file.
std::string startError(const std::string& desc) {
  GError* err = nullptr;
  GstElement* pipe = gst_parse_launch(desc.c_str(), &err);
  EXPECT_TRUE(pipe && !err);
  const GstStateChangeReturn ret = gst_element_set_state(pipe, GST_STATE_PAUSED);
  std::string text;
  if (ret == GST_STATE_CHANGE_FAILURE) {
    GstBus* bus = gst_element_get_bus(pipe);
    if (GstMessage* m = gst_bus_timed_pop_filtered(bus, GST_SECOND, GST_MESSAGE_ERROR)) {
      GError* e = nullptr;
      gst_message_parse_error(m, &e, nullptr);
      text = e->message;
      g_clear_error(&e);
      gst_message_unref(m);
    }
    gst_object_unref(bus);
  }
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
  return ret == GST_STATE_CHANGE_FAILURE ? text : "<started>";
}

TEST_F(GstElements, AModelThatFailsToLoadFailsTheStateChange) {
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! edgertinfer engine=/nonexistent/m.engine ! "
                       "fakesink")
                .find("/nonexistent/m.engine"),
            std::string::npos);
  // A corrupt engine.
  const fs::path bad = dir_ / "corrupt.engine";
  std::ofstream(bad) << "EDGERTEN not really an engine";
  EXPECT_NE(
      startError("videotestsrc num-buffers=1 ! edgertinfer engine=" + bad.string() + " ! fakesink")
          .find("corrupt.engine"),
      std::string::npos);
  // A config with an unknown key: file, line and key in the message.
  const fs::path cfg = dir_ / "typo.yaml";
  std::ofstream(cfg) << "model: {engine: colour_b1.engine}\ntask: {type: classification, "
                        "treshold: 0.5}\n";
  const std::string e =
      startError("videotestsrc num-buffers=1 ! edgertinfer config=" + cfg.string() + " ! fakesink");
  EXPECT_NE(e.find("typo.yaml:2:"), std::string::npos) << e;
  EXPECT_NE(e.find("task.treshold"), std::string::npos) << e;
  // No model at all.
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! edgertinfer ! fakesink").find("no model"),
            std::string::npos);
}

TEST_F(GstElements, IntervalSkipsFramesVisibly) {
  GstHarness* h = gst_harness_new_parse(("edgertinfer interval=3 config=" + config()).c_str());
  gst_harness_set_src_caps_str(h, rgbCaps(16, 16).c_str());
  int annotated = 0;
  for (int i = 0; i < 9; ++i) {
    ASSERT_EQ(gst_harness_push(h, rgbFrame(16, 16, 200, 10, 10, i)), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    annotated += !classLabel(out).empty();
    gst_buffer_unref(out);
  }
  EXPECT_EQ(annotated, 3);
  gst_harness_teardown(h);
}

TEST_F(GstElements, BatchesFramesInOrderAndFlushesAtEos) {
  GstHarness* h = gst_harness_new_parse(("edgertinfer config=" + config("colour_b2.yaml")).c_str());
  gst_harness_set_src_caps_str(h, rgbCaps(16, 16).c_str());
  const int colours[3][3] = {{200, 0, 0}, {0, 200, 0}, {0, 0, 200}};
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(gst_harness_push(h, rgbFrame(16, 16, colours[i][0], colours[i][1], colours[i][2], i)),
              GST_FLOW_OK);
  // Frames that pile up while the worker is busy go in one batch; EOS drains the rest.
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  EXPECT_EQ(gst_harness_buffers_in_queue(h), 3u);
  const char* names[] = {"red", "green", "blue"};
  for (int i = 0; i < 3; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    EXPECT_EQ(GST_BUFFER_PTS(out), static_cast<GstClockTime>(i));
    EXPECT_EQ(classLabel(out), names[i]);
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

// drop-when-late: a queue of one frame and frames pushed as fast as possible. Every frame
// comes out, in order, either annotated or reported as dropped; none silently.
TEST_F(GstElements, DropWhenLateReportsEveryUnannotatedFrame) {
  GstHarness* h = gst_harness_new_parse(
      ("edgertinfer name=infer drop-when-late=true max-queue=1 config=" + config()).c_str());
  guint max_queue = 0;
  gboolean drop_when_late = FALSE;  // both were once ignored by set_property
  GstElement* infer = gst_bin_get_by_name(GST_BIN(h->element), "infer");
  ASSERT_TRUE(infer);
  g_object_get(infer, "max-queue", &max_queue, "drop-when-late", &drop_when_late, nullptr);
  gst_object_unref(infer);
  EXPECT_EQ(max_queue, 1u);
  EXPECT_TRUE(drop_when_late);
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  gst_harness_set_src_caps_str(h, rgbCaps(64, 64).c_str());
  const int n = 200;
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(gst_harness_push(h, rgbFrame(64, 64, 200, 0, 0, i)), GST_FLOW_OK);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_eos()));
  int annotated = 0;
  for (int i = 0; i < n; ++i) {
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_TRUE(out);
    EXPECT_EQ(GST_BUFFER_PTS(out), static_cast<GstClockTime>(i));
    annotated += !classLabel(out).empty();
    gst_buffer_unref(out);
  }
  guint64 dropped = 0;
  while (GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
    if (gst_structure_has_name(gst_message_get_structure(m), "edgert-dropped"))
      gst_structure_get_uint64(gst_message_get_structure(m), "dropped", &dropped);
    gst_message_unref(m);
  }
  EXPECT_EQ(annotated + static_cast<int>(dropped), n);
  EXPECT_GT(annotated, 0);
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

TEST_F(GstElements, PostsResultMessagesWithJson) {
  GstHarness* h =
      gst_harness_new_parse(("edgertinfer emit-messages=true config=" + config()).c_str());
  GstBus* bus = gst_bus_new();
  gst_element_set_bus(h->element, bus);
  gst_harness_set_src_caps_str(h, rgbCaps(16, 16).c_str());
  ASSERT_EQ(gst_harness_push(h, rgbFrame(16, 16, 0, 0, 250, 0)), GST_FLOW_OK);
  gst_buffer_unref(gst_harness_pull(h));
  GstMessage* m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT);
  ASSERT_TRUE(m);
  const GstStructure* s = gst_message_get_structure(m);
  EXPECT_TRUE(gst_structure_has_name(s, "edgert-result"));
  const std::string json = gst_structure_get_string(s, "json");
  EXPECT_NE(json.find("\"label\":\"blue\""), std::string::npos) << json;
  gst_message_unref(m);
  gst_element_set_bus(h->element, nullptr);
  gst_object_unref(bus);
  gst_harness_teardown(h);
}

TEST_F(GstElements, OverlayDrawsWhatTheMetaSays) {
  GstHarness* h = gst_harness_new("edgertoverlay");
  gst_harness_set_src_caps_str(h, rgbCaps(64, 48).c_str());
  GstBuffer* in = rgbFrame(64, 48, 0, 0, 0, 0);
  GstVideoRegionOfInterestMeta* roi =
      gst_buffer_add_video_region_of_interest_meta(in, "car", 10, 10, 30, 20);
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("edgert/detection", "class-id", G_TYPE_INT, 2, "confidence",
                             G_TYPE_DOUBLE, 0.9, nullptr));
  ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
  GstBuffer* out = gst_harness_pull(h);
  GstMapInfo map;
  gst_buffer_map(out, &map, GST_MAP_READ);
  const int stride = GST_ROUND_UP_4(64 * 3);
  // The box's left edge at x=10 is coloured; the centre of the box is not.
  const guint8* edge = map.data + 25 * stride + 10 * 3;
  const guint8* centre = map.data + 25 * stride + 25 * 3;
  EXPECT_GT(edge[0] + edge[1] + edge[2], 100);
  EXPECT_EQ(centre[0] + centre[1] + centre[2], 0);
  gst_buffer_unmap(out, &map);
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}

// The overlay in every format it takes: a frame with a region of interest comes out
// different from the same frame without one.
TEST_F(GstElements, OverlayDrawsInEveryFormat) {
  for (const char* f : {"RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420", "GRAY8"}) {
    const std::string desc =
        std::string("videoconvert ! video/x-raw,format=") + f + " ! edgertoverlay";
    GstHarness* h = gst_harness_new_parse(desc.c_str());
    gst_harness_set_src_caps_str(h, rgbCaps(64, 48).c_str());
    GstBuffer* plain = rgbFrame(64, 48, 40, 40, 40, 0);
    GstBuffer* marked = rgbFrame(64, 48, 40, 40, 40, 1);
    gst_buffer_add_video_region_of_interest_meta(marked, "thing", 8, 8, 30, 20);
    ASSERT_EQ(gst_harness_push(h, plain), GST_FLOW_OK) << f;
    ASSERT_EQ(gst_harness_push(h, marked), GST_FLOW_OK) << f;
    GstBuffer* a = gst_harness_pull(h);
    GstBuffer* b = gst_harness_pull(h);
    GstMapInfo ma, mb;
    gst_buffer_map(a, &ma, GST_MAP_READ);
    gst_buffer_map(b, &mb, GST_MAP_READ);
    ASSERT_EQ(ma.size, mb.size) << f;
    EXPECT_NE(std::memcmp(ma.data, mb.data, ma.size), 0) << f << ": nothing drawn";
    gst_buffer_unmap(a, &ma);
    gst_buffer_unmap(b, &mb);
    gst_buffer_unref(a);
    gst_buffer_unref(b);
    gst_harness_teardown(h);
  }
}

// Two streams with the same config share one engine instance (and batches) in this
// process; both must run to the end with every frame annotated.
TEST_F(GstElements, TwoStreamsShareOneModel) {
  const std::string branch =
      "videotestsrc num-buffers=300 pattern=red ! video/x-raw,width=40,height=30 ! "
      "edgertinfer config=" +
      config("colour_b2.yaml") + " ! fakesink name=";
  GError* err = nullptr;
  GstElement* pipe = gst_parse_launch((branch + "a  " + branch + "b").c_str(), &err);
  ASSERT_TRUE(pipe && !err);
  static int annotated[2];
  annotated[0] = annotated[1] = 0;
  for (int i = 0; i < 2; ++i) {
    GstElement* sink = gst_bin_get_by_name(GST_BIN(pipe), i ? "b" : "a");
    GstPad* pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad*, GstPadProbeInfo* info, gpointer data) {
          annotated[GPOINTER_TO_INT(data)] += classLabel(GST_PAD_PROBE_INFO_BUFFER(info)) == "red";
          return GST_PAD_PROBE_OK;
        },
        GINT_TO_POINTER(i), nullptr);
    gst_object_unref(pad);
    gst_object_unref(sink);
  }
  playToEos(pipe, 120);
  if (HasFatalFailure()) return;
  EXPECT_EQ(annotated[0], 300);
  EXPECT_EQ(annotated[1], 300);
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
}

long residentKiB() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

// Ten minutes of 30 fps video (18000 frames) and 100 NULL <-> PLAYING cycles: every frame
// comes back annotated and resident memory stays flat after warm-up; under ASan (CI) any
// leak or use-after-free fails the run.
TEST_F(GstElements, SoakAndStateChanges) {
  constexpr int kFrames = 18000, kWarm = 2000;
  const std::string desc = "videotestsrc num-buffers=" + std::to_string(kFrames) +
                           " ! video/x-raw,width=32,height=24 ! edgertinfer config=" + config() +
                           " ! edgertoverlay ! fakesink name=sink";
  GError* err = nullptr;
  GstElement* pipe = gst_parse_launch(desc.c_str(), &err);
  ASSERT_TRUE(pipe && !err);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
  struct Count {
    int annotated = 0, seen = 0;
    long rss_warm = 0, rss_end = 0;
  } count;
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* c = static_cast<Count*>(data);
        c->annotated += !classLabel(GST_PAD_PROBE_INFO_BUFFER(info)).empty();
        if (++c->seen == kWarm) c->rss_warm = residentKiB();
        if (c->seen == kFrames) c->rss_end = residentKiB();
        return GST_PAD_PROBE_OK;
      },
      &count, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sink);
  playToEos(pipe, 300);
  if (HasFatalFailure()) return;
  EXPECT_EQ(count.annotated, kFrames);
  // 16000 frames after warm-up: a per-frame leak of even 256 bytes would show as 4 MB.
  // (Under ASan freed memory sits in quarantine, so RSS says nothing; LSan checks leaks.)
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(count.rss_end - count.rss_warm, 4096)
      << "resident KiB grew from " << count.rss_warm << " to " << count.rss_end;
#endif
  std::printf("soak: %d frames, resident %ld KiB after %d, %ld KiB at the end\n", kFrames,
              count.rss_warm, kWarm, count.rss_end);
  for (int i = 0; i < 100; ++i) {
    ASSERT_NE(gst_element_set_state(pipe, GST_STATE_NULL), GST_STATE_CHANGE_FAILURE);
    ASSERT_NE(gst_element_set_state(pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }
  gst_element_set_state(pipe, GST_STATE_NULL);
  gst_object_unref(pipe);
}

}  // namespace

namespace {

// A 64x48 frame, left half `left`, right half `right` (RGB); as NV12 with BT.601 limited-range
// values when `nv12`.
GstBuffer* twoColourFrame(const int left[3], const int right[3], bool nv12) {
  const int w = 64, h = 48;
  GstVideoInfo info;
  gst_video_info_set_format(&info, nv12 ? GST_VIDEO_FORMAT_NV12 : GST_VIDEO_FORMAT_RGB, w, h);
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, info.size, nullptr);
  GstMapInfo map;
  gst_buffer_map(buf, &map, GST_MAP_WRITE);
  auto yuv = [](const int c[3], double out[3]) {
    const double r = c[0] / 255.0, g = c[1] / 255.0, b = c[2] / 255.0;
    out[0] = 16 + 65.481 * r + 128.553 * g + 24.966 * b;
    out[1] = 128 - 37.797 * r - 74.203 * g + 112.0 * b;
    out[2] = 128 + 112.0 * r - 93.786 * g - 18.214 * b;
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int* c = x < w / 2 ? left : right;
      if (!nv12) {
        guint8* p = map.data + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0) + 3 * x;
        for (int k = 0; k < 3; ++k) p[k] = static_cast<guint8>(c[k]);
        continue;
      }
      double v[3];
      yuv(c, v);
      map.data[GST_VIDEO_INFO_PLANE_OFFSET(&info, 0) + y * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0) +
               x] = static_cast<guint8>(v[0] + 0.5);
      if (y % 2 == 0 && x % 2 == 0) {
        guint8* uv = map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, 1) +
                     (y / 2) * GST_VIDEO_INFO_PLANE_STRIDE(&info, 1) + x;
        uv[0] = static_cast<guint8>(v[1] + 0.5);
        uv[1] = static_cast<guint8>(v[2] + 0.5);
      }
    }
  gst_buffer_unmap(buf, &map);
  return buf;
}

void addRegion(GstBuffer* buf, const char* label, guint x, guint w, guint producer,
               gint64 track = -1) {
  GstVideoRegionOfInterestMeta* roi =
      gst_buffer_add_video_region_of_interest_meta(buf, label, x, 4, w, 40);
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("edgert/detection", "class-id", G_TYPE_INT, 0, "label", G_TYPE_STRING,
                             label, "confidence", G_TYPE_DOUBLE, 0.9, "producer-id", G_TYPE_UINT,
                             producer, nullptr));
  if (track >= 0)
    gst_video_region_of_interest_meta_add_param(
        roi, gst_structure_new("edgert/track", "track-id", G_TYPE_INT64, track, nullptr));
}

// label of region -> (secondary label, its producer); regions without a result map to "".
std::map<std::string, std::pair<std::string, guint>> secondaryResults(GstBuffer* buf) {
  std::map<std::string, std::pair<std::string, guint>> out;
  gpointer state = nullptr;
  GstMeta* m;
  int n = 0;
  while ((m = gst_buffer_iterate_meta_filtered(buf, &state,
                                               GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(m);
    const std::string key = std::string(g_quark_to_string(roi->roi_type)) + std::to_string(n++);
    out[key] = {"", 0};
    if (const GstStructure* s =
            gst_video_region_of_interest_meta_get_param(roi, "edgert/secondary")) {
      out[key].first = gst_structure_get_string(s, "label");
      gst_structure_get_uint(s, "producer-id", &out[key].second);
    }
  }
  return out;
}

}  // namespace

// A cascade: regions another element found (producer 1, and one of producer 2) classified by
// the colour model per region, RGB and NV12 (crops of chroma-subsampled planes).
TEST_F(GstElements, SecondaryModeClassifiesEachRegion) {
  const int red[3] = {220, 30, 30}, blue[3] = {30, 30, 220};
  for (bool nv12 : {false, true}) {
    GstHarness* h = gst_harness_new_parse(
        ("edgertinfer process-mode=secondary infer-on-id=1 config=" + config()).c_str());
    gst_harness_set_src_caps_str(
        h, nv12 ? "video/x-raw,format=NV12,width=64,height=48,framerate=30/1,colorimetry=bt601"
                : "video/x-raw,format=RGB,width=64,height=48,framerate=30/1");
    GstBuffer* in = twoColourFrame(red, blue, nv12);
    addRegion(in, "car", 3, 26, 1);   // the red half (odd x: the NV12 crop widens to even)
    addRegion(in, "bus", 35, 26, 1);  // the blue half
    addRegion(in, "van", 35, 26, 2);  // another producer's region: not classified
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    ASSERT_TRUE(out);
    const auto r = secondaryResults(out);
    EXPECT_EQ(r.at("car0").first, "red") << (nv12 ? "NV12" : "RGB");
    EXPECT_EQ(r.at("car0").second, 7u);
    EXPECT_EQ(r.at("bus1").first, "blue") << (nv12 ? "NV12" : "RGB");
    EXPECT_EQ(r.at("van2").first, "");
    gst_buffer_unref(out);
    gst_harness_teardown(h);
  }
}

TEST_F(GstElements, SecondaryModeFiltersLabelsAndReusesResultsPerTrack) {
  const int red[3] = {220, 30, 30}, blue[3] = {30, 30, 220};
  GstHarness* h = gst_harness_new_parse(
      ("edgertinfer process-mode=secondary infer-on-labels=car object-interval=3 config=" +
       config())
          .c_str());
  gst_harness_set_src_caps_str(h, rgbCaps(64, 48).c_str());
  // The left half turns blue after the first frame; track 5's result is reused for two
  // frames, then the object is classified again.
  const char* expected[] = {"red", "red", "red", "blue"};
  for (int f = 0; f < 4; ++f) {
    GstBuffer* in = twoColourFrame(f == 0 ? red : blue, blue, false);
    addRegion(in, "car", 2, 26, 1, 5);
    addRegion(in, "bus", 34, 26, 1, 6);
    ASSERT_EQ(gst_harness_push(h, in), GST_FLOW_OK);
    GstBuffer* out = gst_harness_pull(h);
    const auto r = secondaryResults(out);
    EXPECT_EQ(r.at("car0").first, expected[f]) << "frame " << f;
    EXPECT_EQ(r.at("bus1").first, "") << "not a chosen label";
    gst_buffer_unref(out);
  }
  gst_harness_teardown(h);
}

TEST_F(GstElements, SecondaryModeNeedsAClassifier) {
  const fs::path cfg = dir_ / "raw_secondary.yaml";
  std::ofstream(cfg) << "model: {engine: colour_b1.engine, backend: cpu}\ntask: {type: raw}\n"
                        "inference: {process_mode: secondary}\n";
  const std::string e =
      startError("videotestsrc num-buffers=1 ! edgertinfer config=" + cfg.string() + " ! fakesink");
  EXPECT_NE(e.find("process_mode secondary"), std::string::npos) << e;
  EXPECT_NE(startError("videotestsrc num-buffers=1 ! edgertinfer process-mode=tertiary config=" +
                       config() + " ! fakesink")
                .find("process-mode"),
            std::string::npos);
}

// The cascade over thousands of frames: regions (two objects moving) from a stand-in
// primary, edgerttrack, the colour classifier per region, edgertpublish to a JSON lines
// file and the overlay. Every frame's regions carry a track id and a secondary result, the
// file has a line per frame, and resident memory stays flat after warm-up (LSan under ASan).
TEST_F(GstElements, CascadeSoak) {
  constexpr int kFrames = 6000, kWarm = 1000;
  const fs::path jsonl = dir_ / "soak.jsonl";
  const std::string desc =
      "videotestsrc num-buffers=" + std::to_string(kFrames) +
      " ! video/x-raw,format=RGB,width=64,height=48 ! identity name=primary ! edgerttrack "
      "min-hits=1 ! edgertinfer process-mode=secondary infer-on-id=1 config=" +
      config() + " ! edgertpublish location=" + jsonl.string() +
      " ! edgertoverlay ! fakesink name=sink";
  GError* err = nullptr;
  GstElement* pipe = gst_parse_launch(desc.c_str(), &err);
  ASSERT_TRUE(pipe && !err) << (err ? err->message : "");
  // The stand-in primary: two regions per frame, drifting.
  GstElement* primary = gst_bin_get_by_name(GST_BIN(pipe), "primary");
  GstPad* src = gst_element_get_static_pad(primary, "src");
  struct Feed {
    int frame = 0;
  } feed;
  gst_pad_add_probe(
      src, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* f = static_cast<Feed*>(data);
        GstBuffer* buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
        GST_PAD_PROBE_INFO_DATA(info) = buf;
        const guint dx = static_cast<guint>(f->frame++ % 8);
        addRegion(buf, "a", 1 + dx, 24, 1);
        addRegion(buf, "b", 38 - dx, 24, 1);
        return GST_PAD_PROBE_OK;
      },
      &feed, nullptr);
  gst_object_unref(src);
  gst_object_unref(primary);
  GstElement* sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
  struct Count {
    int complete = 0, seen = 0;
    long rss_warm = 0, rss_end = 0;
  } count;
  GstPad* pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad*, GstPadProbeInfo* info, gpointer data) {
        auto* c = static_cast<Count*>(data);
        GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
        int ok = 0;
        gpointer state = nullptr;
        GstMeta* m;
        while ((m = gst_buffer_iterate_meta_filtered(buf, &state,
                                                     GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
          auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(m);
          ok += gst_video_region_of_interest_meta_get_param(roi, "edgert/track") &&
                gst_video_region_of_interest_meta_get_param(roi, "edgert/secondary");
        }
        c->complete += ok == 2;
        if (++c->seen == kWarm) c->rss_warm = residentKiB();
        if (c->seen == kFrames) c->rss_end = residentKiB();
        return GST_PAD_PROBE_OK;
      },
      &count, nullptr);
  gst_object_unref(pad);
  gst_object_unref(sink);
  playToEos(pipe, 600);
  if (HasFatalFailure()) return;
  gst_element_set_state(pipe, GST_STATE_NULL);  // edgertpublish finishes the file
  EXPECT_EQ(count.complete, kFrames);
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(count.rss_end - count.rss_warm, 4096)
      << "resident KiB grew from " << count.rss_warm << " to " << count.rss_end;
#endif
  std::printf("cascade soak: %d frames, resident %ld KiB after %d, %ld KiB at the end\n", kFrames,
              count.rss_warm, kWarm, count.rss_end);
  std::ifstream in(jsonl);
  int lines = 0;
  for (std::string line; std::getline(in, line);)
    lines += line.find("\"secondary\"") != std::string::npos;
  EXPECT_EQ(lines, kFrames);
  gst_object_unref(pipe);
}
