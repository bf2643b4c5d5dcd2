// The YAML of an edgert-app: sources, a model (an element config), optional tracking and
// secondary models (a cascade), outputs.
// Documented in configs/README.md.
#pragma once

#include <string>
#include <vector>

#include "edgert/status.h"

namespace edgert::app {

struct Source {
  std::string name;      // names the stream in JSON results and output files
  std::string kind;      // file | uri | camera | test
  std::string location;  // path, URI, device, or test pattern name
  int num_buffers = -1;  // test sources: frames to produce (-1 = endless)
  std::string format;    // pixel format handed to edgertinfer ("" = the decoder's own)
};

struct AppConfig {
  std::string origin;
  std::vector<Source> sources;
  std::string model_config;  // element YAML path
  // Element YAMLs run on each region the model finds (process_mode secondary), in order.
  std::vector<std::string> secondary_configs;
  bool track = false;  // edgerttrack between the model and the secondary models
  int track_max_age = 30, track_min_hits = 3;
  std::string backend;       // overrides the model's backend when set
  std::string video_output;  // annotated video (.mp4 or .mkv); "{name}" expands per source
  bool display = false;
  std::string json_output;  // JSON lines file, "-" for stdout, "" for none
  std::string mqtt_broker;  // results to this MQTT broker (edgertpublish), "" for none
  std::string mqtt_topic;   // "" = edgert/<source name>
  int rtsp_port = 0;        // serve the annotated streams over RTSP on this port (0: no)
  std::string rtsp_path;    // mount path, "{name}" expands per source (default /{name})
};

Result<AppConfig> loadAppConfig(const std::string& path);
Result<AppConfig> parseAppConfig(const std::string& text, const std::string& origin,
                                 const std::string& base_dir);

}  // namespace edgert::app
