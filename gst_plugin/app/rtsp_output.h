// edgert-app's RTSP output: each source's annotated stream, H.264 over RTP to a loopback UDP
// port inside the app's pipeline, re-served by a gst-rtsp-server mount (shared by all
// clients) at rtsp://<host>:<port><path>.
#pragma once

#include <string>
#include <vector>

#include "edgert/status.h"

namespace edgert::app {

struct RtspMount {
  std::string path;  // "/edgert"
  int udp_port = 0;  // where the pipeline sends the stream's RTP
};

// A free loopback UDP port for a stream's RTP (0 if none).
int freeUdpPort();

// The pipeline's sink for one stream (from annotated raw video to RTP on `udp_port`).
std::string rtspSinkDescription(int udp_port);

// Starts the server on the default main context; false with a message on failure.
Status startRtspServer(int port, const std::vector<RtspMount>& mounts);

}  // namespace edgert::app
