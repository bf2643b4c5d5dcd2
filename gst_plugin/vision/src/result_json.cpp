#include "edgert/vision/result_json.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace edgert::vision {

namespace {
double round3(double v) {
  return std::round(v * 1000) / 1000;
}
}  // namespace

std::string resultToJson(const FrameResult& r, const FrameInfo& info) {
  nlohmann::ordered_json j;
  if (!info.source.empty()) j["source"] = info.source;
  j["frame"] = info.frame;
  if (info.pts_ns >= 0) j["pts"] = round3(info.pts_ns / 1e9);
  j["width"] = info.width;
  j["height"] = info.height;
  j["producer_id"] = info.producer_id;
  if (!r.detections.empty() || r.classes.empty()) {
    auto& arr = j["detections"] = nlohmann::ordered_json::array();
    for (const auto& d : r.detections) {
      nlohmann::ordered_json o;
      o["class_id"] = d.class_id;
      o["label"] = d.label;
      o["confidence"] = round3(d.confidence);
      if (d.track_id >= 0) o["track_id"] = d.track_id;
      if (!d.secondary.empty()) {
        auto& sec = o["secondary"] = nlohmann::ordered_json::array();
        for (const auto& sr : d.secondary)
          sec.push_back({{"producer_id", sr.producer_id},
                         {"class_id", sr.class_id},
                         {"label", sr.label},
                         {"confidence", round3(sr.confidence)}});
      }
      o["box"] = {round3(d.x), round3(d.y), round3(d.width), round3(d.height)};
      if (!d.polygon.empty()) {
        auto& p = o["polygon"] = nlohmann::ordered_json::array();
        for (const auto& pt : d.polygon) p.push_back({round3(pt[0]), round3(pt[1])});
      }
      arr.push_back(std::move(o));
    }
  }
  if (!r.classes.empty()) {
    auto& arr = j["classes"] = nlohmann::ordered_json::array();
    for (const auto& c : r.classes)
      arr.push_back(
          {{"class_id", c.class_id}, {"label", c.label}, {"confidence", round3(c.confidence)}});
  }
  if (r.mask.width > 0) {
    std::map<int, size_t> counts;
    for (uint8_t c : r.mask.classes)
      if (c != 255) ++counts[c];
    nlohmann::ordered_json pix = nlohmann::ordered_json::object();
    for (const auto& [c, n] : counts) pix[std::to_string(c)] = n;
    j["mask"] = {{"width", r.mask.width}, {"height", r.mask.height}, {"class_pixels", pix}};
  }
  if (!r.tensors.empty()) {
    auto& arr = j["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : r.tensors) arr.push_back({{"name", t.name}, {"dims", t.dims}});
  }
  return j.dump();
}

}  // namespace edgert::vision
