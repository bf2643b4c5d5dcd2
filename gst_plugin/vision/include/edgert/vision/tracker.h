// Multi-object tracking by detection, as SORT does (Bewley et al. 2016): each track is a
// constant-velocity Kalman filter over (centre x, centre y, area, aspect ratio); every frame
// the tracks predict, detections are matched to predictions by IoU with an optimal
// assignment, matched tracks update, unmatched detections start tracks, and tracks unseen
// for more than `max_age` frames end. A track gets its id once it has been matched
// `min_hits` frames in a row and keeps reporting it whenever matched (also right after an
// occlusion); ids are never reused.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace edgert::vision {

struct TrackerOptions {
  int max_age = 30;            // frames a track survives without a match
  int min_hits = 3;            // matches before a track is reported
  float iou_threshold = 0.3f;  // least IoU for a match
  bool per_class = true;       // match only detections of the track's class
};

struct TrackBox {
  float x = 0, y = 0, width = 0, height = 0;
  int class_id = 0;
};

class Tracker {
 public:
  explicit Tracker(TrackerOptions options = {}) : opt_(options) {}
  // One frame's detections -> the track id of each (-1: not (yet) a confirmed track).
  std::vector<int64_t> update(const std::vector<TrackBox>& detections);
  void reset();
  size_t liveTracks() const { return tracks_.size(); }

 private:
  struct Track {
    std::array<double, 7> x{};   // cx, cy, s, r, vcx, vcy, vs
    std::array<double, 49> P{};  // covariance, row-major 7x7
    int class_id = 0;
    int hits = 0, age_since_update = 0;
    int64_t id = -1;
  };
  static Track start(const TrackBox& b);
  static void predict(Track& t);
  static void correct(Track& t, const TrackBox& b);
  static TrackBox boxOf(const Track& t);

  TrackerOptions opt_;
  std::vector<Track> tracks_;
  int64_t next_id_ = 1;
  int64_t frames_ = 0;
};

// Intersection over union of two boxes (0 when either is empty).
float iou(const TrackBox& a, const TrackBox& b);

// Minimum-cost assignment of rows to columns (Hungarian method, rectangular allowed):
// result[r] is row r's column or -1.
std::vector<int> assignMinCost(const std::vector<std::vector<double>>& cost);

}  // namespace edgert::vision
