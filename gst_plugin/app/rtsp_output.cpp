#include "rtsp_output.h"

#include <gst/rtsp-server/rtsp-server.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edgert/internal/str.h"

namespace edgert::app {

int freeUdpPort() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t n = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

std::string rtspSinkDescription(int udp_port) {
  // Low latency: no B-frames, a key frame every second, SPS/PPS with every key frame so
  // clients can join at any time.
  return strCat("videoconvert ! video/x-raw,format=I420 ! x264enc tune=zerolatency ",
                "speed-preset=veryfast key-int-max=30 ! video/x-h264,profile=constrained-baseline ",
                "! rtph264pay config-interval=1 pt=96 ! udpsink host=127.0.0.1 port=", udp_port,
                " sync=false async=false");
}

Status startRtspServer(int port, const std::vector<RtspMount>& mounts) {
  GstRTSPServer* server = gst_rtsp_server_new();
  gst_rtsp_server_set_service(server, std::to_string(port).c_str());
  GstRTSPMountPoints* points = gst_rtsp_server_get_mount_points(server);
  for (const RtspMount& m : mounts) {
    GstRTSPMediaFactory* f = gst_rtsp_media_factory_new();
    gst_rtsp_media_factory_set_launch(
        f, strCat("( udpsrc address=127.0.0.1 port=", m.udp_port,
                  " caps=\"application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,"
                  "payload=96\" ! rtph264depay ! rtph264pay name=pay0 pt=96 config-interval=1 )")
               .c_str());
    gst_rtsp_media_factory_set_shared(f, TRUE);
    gst_rtsp_mount_points_add_factory(points, m.path.c_str(), f);
  }
  g_object_unref(points);
  // The server lives as long as the process (the main loop serves it).
  if (gst_rtsp_server_attach(server, nullptr) == 0) {
    g_object_unref(server);
    return Status(StatusCode::kUnavailable,
                  strCat("cannot serve RTSP on port ", port, " (in use?)"));
  }
  return Status::Ok();
}

}  // namespace edgert::app
