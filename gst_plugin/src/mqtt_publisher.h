// An MQTT connection for edgertpublish (libmosquitto, its own network thread): connects in
// the background and reconnects after the broker goes away; `publish` never blocks. A
// message is refused (and the caller counts it as dropped) while there is no connection or
// while `max_in_flight` messages wait for the broker's acknowledgement.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "edgert/status.h"

struct mosquitto;

namespace edgert::gst {

class MqttPublisher {
 public:
  // `broker`: tcp://host:port, mqtt://host:port, host:port or host (port 1883).
  static Result<std::unique_ptr<MqttPublisher>> start(const std::string& broker,
                                                      const std::string& client_id,
                                                      size_t max_in_flight);
  ~MqttPublisher();

  bool publish(const std::string& topic, const std::string& payload, int qos);
  bool connected() const { return connected_; }
  uint64_t acknowledged() const { return acked_; }
  size_t inFlight() const { return in_flight_; }
  const std::string& address() const { return address_; }

 private:
  MqttPublisher() = default;
  static void onConnect(mosquitto*, void* self, int rc);
  static void onDisconnect(mosquitto*, void* self, int rc);
  static void onPublish(mosquitto*, void* self, int mid);

  mosquitto* m_ = nullptr;
  std::string address_;
  size_t max_in_flight_ = 0;
  std::atomic<bool> connected_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> acked_{0};
};

// Splits a broker address into host and port; false if it is not one.
bool parseBrokerAddress(const std::string& broker, std::string* host, int* port);

}  // namespace edgert::gst
