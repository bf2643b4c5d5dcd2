#include "mqtt_publisher.h"

#include <mosquitto.h>

#include <mutex>

#include "edgert/internal/str.h"

namespace edgert::gst {

bool parseBrokerAddress(const std::string& broker, std::string* host, int* port) {
  std::string rest = broker;
  for (const char* scheme : {"tcp://", "mqtt://"})
    if (rest.rfind(scheme, 0) == 0) rest = rest.substr(std::string(scheme).size());
  if (rest.empty() || rest.find('/') != std::string::npos) return false;
  const size_t colon = rest.rfind(':');
  *port = 1883;
  if (colon != std::string::npos) {
    const std::string p = rest.substr(colon + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos)
      return false;
    *port = std::stoi(p);
    if (*port < 1 || *port > 65535) return false;
    rest = rest.substr(0, colon);
  }
  *host = rest;
  return !host->empty();
}

Result<std::unique_ptr<MqttPublisher>> MqttPublisher::start(const std::string& broker,
                                                            const std::string& client_id,
                                                            size_t max_in_flight) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  std::string host;
  int port = 0;
  if (!parseBrokerAddress(broker, &host, &port))
    return Status(StatusCode::kInvalidArgument,
                  strCat("broker '", broker, "' is not tcp://host:port, host:port or host"));
  auto p = std::unique_ptr<MqttPublisher>(new MqttPublisher());
  p->address_ = strCat(host, ":", port);
  p->max_in_flight_ = max_in_flight;
  p->m_ = mosquitto_new(client_id.empty() ? nullptr : client_id.c_str(), true, p.get());
  if (!p->m_) return Status(StatusCode::kInternal, "mosquitto_new failed");
  mosquitto_connect_callback_set(p->m_, onConnect);
  mosquitto_disconnect_callback_set(p->m_, onDisconnect);
  mosquitto_publish_callback_set(p->m_, onPublish);
  // Retry quickly after a broker restart: 1 s, backing off to 5 s.
  mosquitto_reconnect_delay_set(p->m_, 1, 5, true);
  int rc = mosquitto_connect_async(p->m_, host.c_str(), port, 10);
  // An unreachable broker at start is not an error: the network thread keeps trying, and
  // messages are counted as dropped until it connects. A bad host name is an error.
  if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO)
    return Status(StatusCode::kInvalidArgument,
                  strCat("MQTT broker ", p->address_, ": ", mosquitto_strerror(rc)));
  rc = mosquitto_loop_start(p->m_);
  if (rc != MOSQ_ERR_SUCCESS)
    return Status(StatusCode::kInternal, strCat("MQTT network thread: ", mosquitto_strerror(rc)));
  return p;
}

MqttPublisher::~MqttPublisher() {
  if (!m_) return;
  mosquitto_disconnect(m_);
  mosquitto_loop_stop(m_, true);
  mosquitto_destroy(m_);
}

void MqttPublisher::onConnect(mosquitto*, void* self, int rc) {
  static_cast<MqttPublisher*>(self)->connected_ = rc == 0;
}

void MqttPublisher::onDisconnect(mosquitto*, void* self, int) {
  static_cast<MqttPublisher*>(self)->connected_ = false;
}

void MqttPublisher::onPublish(mosquitto*, void* self, int) {
  auto* p = static_cast<MqttPublisher*>(self);
  if (p->in_flight_ > 0) --p->in_flight_;
  ++p->acked_;
}

bool MqttPublisher::publish(const std::string& topic, const std::string& payload, int qos) {
  if (!connected_ || in_flight_ >= max_in_flight_) return false;
  ++in_flight_;
  const int rc = mosquitto_publish(m_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                   payload.data(), qos, false);
  if (rc != MOSQ_ERR_SUCCESS) {
    --in_flight_;
    return false;
  }
  return true;
}

}  // namespace edgert::gst
