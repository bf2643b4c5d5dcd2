// edgert-app: a whole edge pipeline from one YAML file.
//   edgert-app configs/apps/street-ocr.yaml
// Sources -> edgertinfer -> (overlay -> encoded video / display) and JSON lines of results.
// Ctrl-C finishes the files cleanly (EOS); outputs are written under temporary names and
// renamed only when complete. Exit status: 0 done, 1 pipeline error, 2 bad config.
#include <glib-unix.h>
#include <gst/gst.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "app_config.h"
#include "edgert/internal/str.h"
#include "rtsp_output.h"

namespace fs = std::filesystem;
using edgert::strCat;

namespace {

// A value inside a gst-launch description: quoted, with quotes and backslashes escaped.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string expand(const std::string& pattern, const std::string& name) {
  std::string s = pattern;
  for (size_t p; (p = s.find("{name}")) != std::string::npos;) s.replace(p, 6, name);
  return s;
}

struct Output {
  std::string final_path, temp_path;
};

struct App {
  GMainLoop* loop = nullptr;
  GstElement* pipeline = nullptr;
  FILE* json = nullptr;
  int exit_code = 0;
  bool stopping = false;
  std::map<std::string, uint64_t> frames;
};

// Test patterns run in real time when someone watches (display, RTSP clients).
std::string sourceElements(const edgert::app::Source& s, bool live) {
  if (s.kind == "file") return strCat("filesrc location=", quoted(s.location), " ! decodebin");
  if (s.kind == "uri") return strCat("uridecodebin uri=", quoted(s.location));
  if (s.kind == "camera") return strCat("v4l2src device=", quoted(s.location));
  return strCat("videotestsrc pattern=", quoted(s.location), " num-buffers=", s.num_buffers,
                live ? " is-live=true" : "");
}

std::string describePipeline(const edgert::app::AppConfig& cfg, std::vector<Output>* outputs,
                             std::vector<edgert::app::RtspMount>* rtsp) {
  std::string desc;
  for (const auto& s : cfg.sources) {
    const std::string caps = s.format.empty() ? "" : strCat(" ! video/x-raw,format=", s.format);
    // The last inference element of the chain is named after the source and posts the
    // results (with a cascade: the regions and what the secondary models said of them).
    const bool cascade = !cfg.secondary_configs.empty();
    const std::string backend = cfg.backend.empty() ? "" : " backend=" + cfg.backend;
    std::string branch =
        strCat(sourceElements(s, cfg.display || cfg.rtsp_port), " ! videoconvert", caps,
               " ! edgertinfer name=", cascade ? s.name + "_primary" : s.name,
               " config=", quoted(cfg.model_config), " emit-messages=", cascade ? "false" : "true",
               backend);
    if (cfg.track)
      branch +=
          strCat(" ! edgerttrack max-age=", cfg.track_max_age, " min-hits=", cfg.track_min_hits);
    for (size_t i = 0; i < cfg.secondary_configs.size(); ++i) {
      const bool last = i + 1 == cfg.secondary_configs.size();
      branch += strCat(" ! edgertinfer name=", last ? s.name : strCat(s.name, "_secondary", i),
                       " config=", quoted(cfg.secondary_configs[i]),
                       " process-mode=secondary emit-messages=", last ? "true" : "false", backend);
    }
    // Right after the inference: a conversion in between would drop the ROI params.
    if (!cfg.mqtt_broker.empty())
      branch += strCat(" ! edgertpublish name=", s.name, "_publish stream=", s.name,
                       " broker=", quoted(cfg.mqtt_broker),
                       cfg.mqtt_topic.empty() ? "" : strCat(" topic=", quoted(cfg.mqtt_topic)));
    std::vector<std::string> sinks;
    if (!cfg.video_output.empty()) {
      Output o;
      o.final_path = expand(cfg.video_output, s.name);
      const fs::path p(o.final_path);
      o.temp_path = (p.parent_path() / strCat(".", p.filename().string(), ".part")).string();
      const std::string mux = p.extension() == ".mkv" ? "matroskamux" : "mp4mux";
      sinks.push_back(strCat("videoconvert ! x264enc speed-preset=veryfast ! ", mux,
                             " ! filesink location=", quoted(o.temp_path)));
      outputs->push_back(o);
    }
    if (cfg.display) sinks.push_back("videoconvert ! autovideosink sync=false");
    if (cfg.rtsp_port) {
      edgert::app::RtspMount m{expand(cfg.rtsp_path, s.name), edgert::app::freeUdpPort()};
      sinks.push_back(edgert::app::rtspSinkDescription(m.udp_port));
      rtsp->push_back(m);
    }
    if (sinks.empty()) {
      branch += " ! fakesink sync=false";
    } else {
      // The overlay right after the inference: a conversion in between would drop the
      // ROI params on GStreamer 1.22.
      branch += " ! edgertoverlay";
      if (sinks.size() == 1) {
        branch += " ! " + sinks[0];
      } else {
        branch += strCat(" ! tee name=tee_", s.name);
        for (const auto& k : sinks) branch += strCat(" tee_", s.name, ". ! queue ! ", k);
      }
    }
    desc += (desc.empty() ? "" : "  ") + branch;
  }
  return desc;
}

gboolean onBus(GstBus*, GstMessage* msg, gpointer data) {
  App& app = *static_cast<App*>(data);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      GError* err = nullptr;
      gchar* dbg = nullptr;
      gst_message_parse_error(msg, &err, &dbg);
      std::fprintf(stderr, "edgert-app: error from %s: %s\n  (%s)\n", GST_OBJECT_NAME(msg->src),
                   err->message, dbg ? dbg : "");
      g_clear_error(&err);
      g_free(dbg);
      app.exit_code = 1;
      g_main_loop_quit(app.loop);
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit(app.loop);
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(msg);
      if (s && gst_structure_has_name(s, "edgert-result")) {
        ++app.frames[GST_OBJECT_NAME(msg->src)];
        if (app.json) {
          std::fprintf(app.json, "%s\n", gst_structure_get_string(s, "json"));
        }
      }
      break;
    }
    default:
      break;
  }
  return TRUE;
}

gboolean onSignal(gpointer data) {
  App& app = *static_cast<App*>(data);
  if (app.stopping) {
    std::fprintf(stderr, "edgert-app: stopping now\n");
    app.exit_code = 130;
    g_main_loop_quit(app.loop);
  } else {
    // EOS lets muxers write their index: the video stays playable.
    std::fprintf(stderr, "edgert-app: finishing (Ctrl-C again to stop at once)\n");
    app.stopping = true;
    gst_element_send_event(app.pipeline, gst_event_new_eos());
  }
  return G_SOURCE_CONTINUE;
}

// The plugin from the build tree (<bin>/../gst_plugin) when GST_PLUGIN_PATH lacks it.
void ensurePlugin() {
  if (GstElementFactory* f = gst_element_factory_find("edgertinfer")) {
    gst_object_unref(f);
    return;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  const fs::path lib = exe.parent_path().parent_path() / "gst_plugin" / "libgstedgert.so";
  if (fs::exists(lib)) {
    GError* err = nullptr;
    if (GstPlugin* p = gst_plugin_load_file(lib.c_str(), &err)) gst_object_unref(p);
    g_clear_error(&err);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  // --check: build the pipeline (every element created and linked) and print it, without
  // running it; for validating configs on a machine without the camera or display.
  const bool check = argc == 3 && std::string(argv[1]) == "--check";
  if ((argc != 2 && !check) || std::string(argv[1]) == "--help") {
    std::fprintf(stderr,
                 "usage: edgert-app [--check] APP.yaml\n(see configs/README.md for the format)\n");
    return argc == 2 ? 0 : 2;
  }
  auto cfg = edgert::app::loadAppConfig(argv[check ? 2 : 1]);
  if (!cfg.ok()) {
    std::fprintf(stderr, "edgert-app: %s\n", cfg.status().message().c_str());
    return 2;
  }
  ensurePlugin();
  std::vector<Output> outputs;
  std::vector<edgert::app::RtspMount> rtsp;
  const std::string desc = describePipeline(cfg.value(), &outputs, &rtsp);
  GError* err = nullptr;
  App app;
  app.pipeline = gst_parse_launch(desc.c_str(), &err);
  if (!app.pipeline || err) {
    std::fprintf(stderr, "edgert-app: cannot build the pipeline: %s\n  %s\n",
                 err ? err->message : "unknown error", desc.c_str());
    g_clear_error(&err);
    if (app.pipeline) gst_object_unref(app.pipeline);
    return 2;
  }
  if (check) {
    std::printf("%s\n", desc.c_str());
    gst_object_unref(app.pipeline);
    return 0;
  }
  std::string json_temp;
  if (cfg->json_output == "-") {
    app.json = stdout;
  } else if (!cfg->json_output.empty()) {
    const fs::path p(cfg->json_output);
    json_temp = (p.parent_path() / strCat(".", p.filename().string(), ".part")).string();
    app.json = std::fopen(json_temp.c_str(), "w");
    if (!app.json) {
      std::fprintf(stderr, "edgert-app: cannot write %s\n", json_temp.c_str());
      gst_object_unref(app.pipeline);
      return 2;
    }
  }
  if (!rtsp.empty()) {
    const edgert::Status st = edgert::app::startRtspServer(cfg->rtsp_port, rtsp);
    if (!st.ok()) {
      std::fprintf(stderr, "edgert-app: %s\n", st.message().c_str());
      gst_object_unref(app.pipeline);
      return 2;
    }
    for (const auto& m : rtsp)
      std::fprintf(stderr, "edgert-app: serving rtsp://127.0.0.1:%d%s\n", cfg->rtsp_port,
                   m.path.c_str());
  }
  app.loop = g_main_loop_new(nullptr, FALSE);
  GstBus* bus = gst_element_get_bus(app.pipeline);
  gst_bus_add_watch(bus, onBus, &app);
  gst_object_unref(bus);
  g_unix_signal_add(SIGINT, onSignal, &app);
  g_unix_signal_add(SIGTERM, onSignal, &app);

  const auto t0 = std::chrono::steady_clock::now();
  if (gst_element_set_state(app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The error message on the bus says why (a model that fails to load, ...).
    app.exit_code = 1;
    GstMessage* m = gst_bus_timed_pop_filtered(GST_ELEMENT_BUS(app.pipeline), 0, GST_MESSAGE_ERROR);
    if (m) {
      onBus(nullptr, m, &app);
      gst_message_unref(m);
    } else {
      std::fprintf(stderr, "edgert-app: the pipeline failed to start\n");
    }
  } else {
    g_main_loop_run(app.loop);
  }
  gst_element_set_state(app.pipeline, GST_STATE_NULL);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (app.json && app.json != stdout) std::fclose(app.json);
  const bool complete = app.exit_code == 0;
  for (const auto& o : outputs) {
    std::error_code ec;
    if (complete)
      fs::rename(o.temp_path, o.final_path, ec);
    else
      fs::remove(o.temp_path, ec);
    if (complete && ec)
      std::fprintf(stderr, "edgert-app: cannot finish %s: %s\n", o.final_path.c_str(),
                   ec.message().c_str());
  }
  if (!json_temp.empty()) {
    std::error_code ec;
    if (complete)
      fs::rename(json_temp, cfg->json_output, ec);
    else
      fs::remove(json_temp, ec);
  }
  for (const auto& [name, n] : app.frames)
    std::fprintf(stderr, "edgert-app: %s: %llu frames inferred in %.1f s (%.1f frames/s)\n",
                 name.c_str(), static_cast<unsigned long long>(n), secs, n / secs);
  gst_object_unref(app.pipeline);
  g_main_loop_unref(app.loop);
  return app.exit_code;
}
