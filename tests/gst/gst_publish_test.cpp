// edgertpublish against a real mosquitto broker on 127.0.0.1 (started by the test): every
// frame's JSON arrives, also as JSON lines in a file; a broker restart mid-stream loses only
// the frames the element counts as dropped (the subscriber's session persists in the broker,
// so what the broker acknowledged reaches it). Skips where mosquitto is not installed.
#include <arpa/inet.h>
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/gstvideometa.h>
#include <gtest/gtest.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gst_plugin_loader.h"

namespace {

namespace fs = std::filesystem;

int freePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t n = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  close(fd);
  return ntohs(a.sin_port);
}

bool accepting(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

std::string mosquittoBinary() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto"})
    if (fs::exists(p)) return p;
  return "";
}

// A broker with persistence in `dir`, so a subscriber's session survives a restart.
class Broker {
 public:
  Broker(fs::path dir, int port) : dir_(std::move(dir)), port_(port) {
    // Run as the current user: as root, mosquitto would switch to its own user, which cannot
    // write the persistence file here (and subscriptions would not survive the restart).
    const passwd* pw = getpwuid(getuid());
    std::ofstream(dir_ / "mosquitto.conf")
        << "listener " << port_ << " 127.0.0.1\nallow_anonymous true\npersistence true\n"
        << "persistence_location " << dir_.string() << "/\nuser " << (pw ? pw->pw_name : "root")
        << "\nlog_dest file " << (dir_ / "mosquitto.log").string() << "\n";
  }
  ~Broker() { stop(); }
  bool start() {
    pid_ = fork();
    if (pid_ == 0) {
      const std::string conf = (dir_ / "mosquitto.conf").string();
      execl(mosquittoBinary().c_str(), "mosquitto", "-c", conf.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100; ++i) {
      if (accepting(port_)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  fs::path dir_;
  int port_;
  pid_t pid_ = -1;
};

// A subscriber with a persistent session (clean_session false, QoS 1).
class Subscriber {
 public:
  Subscriber(int port, const std::string& topic) : topic_(topic) {
    mosquitto_lib_init();
    m_ = mosquitto_new("edgert-test-subscriber", false, this);
    mosquitto_connect_callback_set(m_, [](mosquitto* m, void* self, int rc) {
      auto* s = static_cast<Subscriber*>(self);
      if (rc == 0) mosquitto_subscribe(m, nullptr, s->topic_.c_str(), 1);
    });
    mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int, int, const int*) {
      ++static_cast<Subscriber*>(self)->subscriptions;
    });
    mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
      auto* s = static_cast<Subscriber*>(self);
      std::lock_guard<std::mutex> lock(s->mu_);
      s->messages_.emplace_back(static_cast<const char*>(msg->payload), msg->payloadlen);
    });
    mosquitto_reconnect_delay_set(m_, 1, 1, false);
    mosquitto_connect_async(m_, "127.0.0.1", port, 10);
    mosquitto_loop_start(m_);
  }
  ~Subscriber() {
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, true);
    mosquitto_destroy(m_);
  }
  std::vector<std::string> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  // The frame numbers received (each once, whatever QoS 1 redelivered).
  std::set<int> frames() {
    std::set<int> out;
    for (const std::string& m : messages()) {
      const size_t at = m.find("\"frame\":");
      if (at != std::string::npos) out.insert(std::stoi(m.substr(at + 8)));
    }
    return out;
  }
  bool waitFor(const std::function<bool()>& cond, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (cond()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cond();
  }
  std::atomic<int> subscriptions{0};

 private:
  mosquitto* m_;
  std::string topic_;
  std::mutex mu_;
  std::vector<std::string> messages_;
};

GstBuffer* frameWithObjects(int f) {
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, 64 * 48, nullptr);
  GST_BUFFER_PTS(buf) = static_cast<GstClockTime>(f) * GST_SECOND / 30;
  GstVideoRegionOfInterestMeta* roi =
      gst_buffer_add_video_region_of_interest_meta(buf, "person", 10 + f % 20, 5, 12, 30);
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("edgert/detection", "class-id", G_TYPE_INT, 0, "label", G_TYPE_STRING,
                             "person", "confidence", G_TYPE_DOUBLE, 0.8, "producer-id", G_TYPE_UINT,
                             1u, nullptr));
  gst_video_region_of_interest_meta_add_param(
      roi, gst_structure_new("edgert/track", "track-id", G_TYPE_INT64, gint64{42}, nullptr));
  return buf;
}

class EdgertPublish : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { edgert::test::loadEdgertPlugin("edgertpublish"); }
  void SetUp() override {
    if (mosquittoBinary().empty()) GTEST_SKIP() << "mosquitto (the broker) is not installed";
    dir_ = fs::temp_directory_path() /
           ("edgert_mqtt_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    port_ = freePort();
  }
  void TearDown() override { fs::remove_all(dir_); }

  GstHarness* harness(const std::string& extra) {
    GstHarness* h =
        gst_harness_new_parse(("edgertpublish broker=tcp://127.0.0.1:" + std::to_string(port_) +
                               " topic=edgert/test stream=cam0 " + extra)
                                  .c_str());
    gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1");
    return h;
  }
  void push(GstHarness* h, int from, int to) {
    for (int f = from; f < to; ++f) {
      ASSERT_EQ(gst_harness_push(h, frameWithObjects(f)), GST_FLOW_OK);
      gst_buffer_unref(gst_harness_pull(h));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // The harness wraps a parsed launch line in a bin: read the element's own properties.
  static bool connected(GstHarness* h) {
    GstElement* e = gst_harness_find_element(h, "edgertpublish");
    gboolean c = FALSE;
    g_object_get(e, "connected", &c, nullptr);
    gst_object_unref(e);
    return c;
  }
  static guint64 dropped(GstHarness* h) {
    GstElement* e = gst_harness_find_element(h, "edgertpublish");
    guint64 d = 0;
    g_object_get(e, "dropped", &d, nullptr);
    gst_object_unref(e);
    return d;
  }

  fs::path dir_;
  int port_ = 0;
};

TEST_F(EdgertPublish, EveryFrameArrivesAndIsWrittenAsJsonLines) {
  Broker broker(dir_, port_);
  ASSERT_TRUE(broker.start());
  Subscriber sub(port_, "edgert/test");
  ASSERT_TRUE(sub.waitFor([&] { return sub.subscriptions > 0; }, 5));
  const fs::path file = dir_ / "results.jsonl";
  GstHarness* h = harness("location=" + file.string());
  ASSERT_TRUE(sub.waitFor([&] { return connected(h); }, 5));
  const size_t before = sub.messages().size();
  push(h, 0, 50);
  gst_element_set_state(h->element, GST_STATE_NULL);  // waits for the acknowledgements
  EXPECT_EQ(dropped(h), 0u);
  gst_harness_teardown(h);
  ASSERT_TRUE(sub.waitFor([&] { return sub.messages().size() >= before + 50; }, 5));
  const std::vector<std::string> msgs = sub.messages();
  const std::string& m = msgs[before + 7];
  EXPECT_NE(m.find("\"source\":\"cam0\""), std::string::npos) << m;
  EXPECT_NE(m.find("\"frame\":7"), std::string::npos) << m;
  EXPECT_NE(m.find("\"label\":\"person\""), std::string::npos) << m;
  EXPECT_NE(m.find("\"track_id\":42"), std::string::npos) << m;
  EXPECT_NE(m.find("\"width\":64"), std::string::npos) << m;
  // The file: one line per frame, finished under its own name.
  std::ifstream in(file);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, 50);
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_NE(e.path().extension(), ".part") << "temporary file left: " << e.path();
}

TEST_F(EdgertPublish, BrokerRestartLosesOnlyTheFramesCountedAsDropped) {
  auto broker = std::make_unique<Broker>(dir_, port_);
  ASSERT_TRUE(broker->start());
  Subscriber sub(port_, "edgert/test");
  ASSERT_TRUE(sub.waitFor([&] { return sub.subscriptions > 0; }, 5));
  GstHarness* h = harness("");
  ASSERT_TRUE(sub.waitFor([&] { return connected(h); }, 5));
  const int total = 90;
  push(h, 0, 30);
  ASSERT_TRUE(sub.waitFor([&] { return sub.frames().size() + dropped(h) >= 30; }, 5));
  broker->stop();  // mid-stream
  push(h, 30, 60);
  broker = std::make_unique<Broker>(dir_, port_);
  ASSERT_TRUE(broker->start());
  const int subs = sub.subscriptions;
  ASSERT_TRUE(sub.waitFor([&] { return sub.subscriptions > subs; }, 10));
  ASSERT_TRUE(sub.waitFor([&] { return connected(h); }, 10));  // the element reconnects
  push(h, 60, total);
  gst_element_set_state(h->element, GST_STATE_NULL);
  const guint64 lost = dropped(h);
  gst_harness_teardown(h);
  ASSERT_TRUE(
      sub.waitFor([&] { return sub.frames().size() + lost >= static_cast<size_t>(total); }, 10));
  const std::set<int> got = sub.frames();
  EXPECT_EQ(got.size() + lost, static_cast<size_t>(total))
      << got.size() << " received, " << lost << " counted as dropped";
  EXPECT_GE(lost, 1u) << "the broker was down for 30 frames";
  EXPECT_LE(lost, 30u);
  for (int f = 60; f < total; ++f)
    EXPECT_TRUE(got.count(f)) << "frame " << f << " after the restart";
}

TEST_F(EdgertPublish, NowhereToPublishFailsTheStateChange) {
  GstElement* e = gst_element_factory_make("edgertpublish", nullptr);
  ASSERT_TRUE(e);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state(e, GST_STATE_NULL);
  g_object_set(e, "broker", "tcp://bad host:1883/x", nullptr);
  EXPECT_EQ(gst_element_set_state(e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
}

}  // namespace
