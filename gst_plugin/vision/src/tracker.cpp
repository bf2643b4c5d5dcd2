// SORT: Kalman-filtered boxes matched to detections by IoU (see tracker.h). The filter's
// matrices are SORT's: state (cx, cy, area, aspect, vcx, vcy, varea), measurement the
// first four; measurement noise 1 on the centre and 10 on area and aspect; velocities start
// uncertain (1e4) and change slowly (process noise 1e-2, 1e-4 on the area rate).
#include "edgert/vision/tracker.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace edgert::vision {

namespace {

constexpr int kN = 7, kM = 4;

double& at(std::array<double, 49>& m, int r, int c) {
  return m[static_cast<size_t>(r * kN + c)];
}

// 4x4 inverse by Gauss-Jordan with partial pivoting; false if singular.
bool invert4(double a[kM][kM], double inv[kM][kM]) {
  for (int r = 0; r < kM; ++r)
    for (int c = 0; c < kM; ++c) inv[r][c] = r == c ? 1 : 0;
  for (int c = 0; c < kM; ++c) {
    int p = c;
    for (int r = c + 1; r < kM; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    if (std::abs(a[p][c]) < 1e-12) return false;
    std::swap(a[p], a[c]);
    std::swap(inv[p], inv[c]);
    const double d = a[c][c];
    for (int k = 0; k < kM; ++k) {
      a[c][k] /= d;
      inv[c][k] /= d;
    }
    for (int r = 0; r < kM; ++r) {
      if (r == c) continue;
      const double f = a[r][c];
      for (int k = 0; k < kM; ++k) {
        a[r][k] -= f * a[c][k];
        inv[r][k] -= f * inv[c][k];
      }
    }
  }
  return true;
}

}  // namespace

float iou(const TrackBox& a, const TrackBox& b) {
  const float x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const float x1 = std::min(a.x + a.width, b.x + b.width);
  const float y1 = std::min(a.y + a.height, b.y + b.height);
  const float inter = std::max(0.f, x1 - x0) * std::max(0.f, y1 - y0);
  const float uni = a.width * a.height + b.width * b.height - inter;
  return uni > 0 ? inter / uni : 0.f;
}

std::vector<int> assignMinCost(const std::vector<std::vector<double>>& cost) {
  const size_t rows = cost.size(), cols = rows ? cost[0].size() : 0;
  std::vector<int> result(rows, -1);
  if (!rows || !cols) return result;
  // The method below needs rows <= cols: solve the transpose otherwise.
  if (rows > cols) {
    std::vector<std::vector<double>> t(cols, std::vector<double>(rows));
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) t[c][r] = cost[r][c];
    const std::vector<int> tr = assignMinCost(t);
    for (size_t c = 0; c < cols; ++c)
      if (tr[c] >= 0) result[static_cast<size_t>(tr[c])] = static_cast<int>(c);
    return result;
  }
  // Potentials u (rows), v (cols); way[j]: previous column on the augmenting path; p[j]: the
  // row matched to column j (1-based, 0 = free). O(rows^2 cols).
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(rows + 1, 0), v(cols + 1, 0);
  std::vector<size_t> p(cols + 1, 0), way(cols + 1, 0);
  for (size_t i = 1; i <= rows; ++i) {
    p[0] = i;
    size_t j0 = 0;
    std::vector<double> minv(cols + 1, inf);
    std::vector<bool> used(cols + 1, false);
    do {
      used[j0] = true;
      const size_t i0 = p[j0];
      double delta = inf;
      size_t j1 = 0;
      for (size_t j = 1; j <= cols; ++j) {
        if (used[j]) continue;
        const double cur = cost[i0 - 1][j - 1] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (size_t j = 0; j <= cols; ++j) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] != 0);
    do {
      const size_t j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  for (size_t j = 1; j <= cols; ++j)
    if (p[j]) result[p[j] - 1] = static_cast<int>(j - 1);
  return result;
}

Tracker::Track Tracker::start(const TrackBox& b) {
  Track t;
  t.x = {b.x + b.width / 2.0,
         b.y + b.height / 2.0,
         double(b.width) * b.height,
         b.height > 0 ? double(b.width) / b.height : 1.0,
         0,
         0,
         0};
  for (int i = 0; i < kN; ++i) at(t.P, i, i) = i < kM ? 10.0 : 1e4;
  t.class_id = b.class_id;
  return t;
}

void Tracker::predict(Track& t) {
  if (t.x[6] + t.x[2] <= 0) t.x[6] = 0;  // the area may not turn negative
  for (int i = 0; i < 3; ++i) t.x[i] += t.x[i + 4];
  // P = F P F^T + Q with F = I + (rows 0..2 pick up the velocity rows 4..6).
  std::array<double, 49> fp = t.P;
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < kN; ++c) at(fp, i, c) += at(t.P, i + 4, c);
  std::array<double, 49> n = fp;
  for (int r = 0; r < kN; ++r)
    for (int i = 0; i < 3; ++i) at(n, r, i) += at(fp, r, i + 4);
  const double q[kN] = {1, 1, 1, 1, 1e-2, 1e-2, 1e-4};
  for (int i = 0; i < kN; ++i) at(n, i, i) += q[i];
  t.P = n;
}

void Tracker::correct(Track& t, const TrackBox& b) {
  const double z[kM] = {b.x + b.width / 2.0, b.y + b.height / 2.0, double(b.width) * b.height,
                        b.height > 0 ? double(b.width) / b.height : 1.0};
  const double r[kM] = {1, 1, 10, 10};
  // S = H P H^T + R is P's top-left 4x4 plus R; K = P H^T S^-1 (7x4).
  double s[kM][kM], si[kM][kM];
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kM; ++j) s[i][j] = at(t.P, i, j) + (i == j ? r[i] : 0);
  if (!invert4(s, si)) return;
  double k[kN][kM];
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kM; ++j) {
      k[i][j] = 0;
      for (int l = 0; l < kM; ++l) k[i][j] += at(t.P, i, l) * si[l][j];
    }
  double y[kM];
  for (int i = 0; i < kM; ++i) y[i] = z[i] - t.x[i];
  for (int i = 0; i < kN; ++i)
    for (int j = 0; j < kM; ++j) t.x[i] += k[i][j] * y[j];
  // P = (I - K H) P: subtract K times P's first four rows.
  std::array<double, 49> n = t.P;
  for (int i = 0; i < kN; ++i)
    for (int c = 0; c < kN; ++c)
      for (int j = 0; j < kM; ++j) at(n, i, c) -= k[i][j] * at(t.P, j, c);
  t.P = n;
}

TrackBox Tracker::boxOf(const Track& t) {
  const double w = std::sqrt(std::max(0.0, t.x[2] * t.x[3]));
  const double h = w > 0 ? t.x[2] / w : 0;
  return {static_cast<float>(t.x[0] - w / 2), static_cast<float>(t.x[1] - h / 2),
          static_cast<float>(w), static_cast<float>(h), t.class_id};
}

void Tracker::reset() {
  tracks_.clear();
  frames_ = 0;
}

std::vector<int64_t> Tracker::update(const std::vector<TrackBox>& dets) {
  ++frames_;
  for (Track& t : tracks_) {
    predict(t);
    if (t.age_since_update > 0) t.hits = 0;  // SORT's hit streak
    ++t.age_since_update;
  }
  tracks_.erase(std::remove_if(tracks_.begin(), tracks_.end(),
                               [](const Track& t) {
                                 for (double v : t.x)
                                   if (!std::isfinite(v)) return true;
                                 return false;
                               }),
                tracks_.end());
  std::vector<int> match(dets.size(), -1);
  if (!dets.empty() && !tracks_.empty()) {
    std::vector<TrackBox> pred;
    for (const Track& t : tracks_) pred.push_back(boxOf(t));
    std::vector<std::vector<double>> cost(dets.size(), std::vector<double>(tracks_.size()));
    for (size_t d = 0; d < dets.size(); ++d)
      for (size_t t = 0; t < tracks_.size(); ++t)
        cost[d][t] = opt_.per_class && dets[d].class_id != tracks_[t].class_id
                         ? 0.0
                         : -static_cast<double>(iou(dets[d], pred[t]));
    match = assignMinCost(cost);
    for (size_t d = 0; d < dets.size(); ++d)
      if (match[d] >= 0 && -cost[d][static_cast<size_t>(match[d])] < opt_.iou_threshold)
        match[d] = -1;
  }
  std::vector<int64_t> ids(dets.size(), -1);
  for (size_t d = 0; d < dets.size(); ++d) {
    if (match[d] >= 0) {
      Track& t = tracks_[static_cast<size_t>(match[d])];
      correct(t, dets[d]);
      t.age_since_update = 0;
      ++t.hits;
    } else {
      tracks_.push_back(start(dets[d]));
      tracks_.back().hits = 1;
      match[d] = static_cast<int>(tracks_.size() - 1);
    }
  }
  // Reported: matched this frame and either `min_hits` in a row, or the stream just began,
  // or confirmed before (unlike SORT, a track back from an occlusion keeps its id at once).
  for (size_t d = 0; d < dets.size(); ++d) {
    Track& t = tracks_[static_cast<size_t>(match[d])];
    if (t.id >= 0 || t.hits >= opt_.min_hits || frames_ <= opt_.min_hits) {
      if (t.id < 0) t.id = next_id_++;
      ids[d] = t.id;
    }
  }
  tracks_.erase(std::remove_if(tracks_.begin(), tracks_.end(),
                               [&](const Track& t) { return t.age_since_update > opt_.max_age; }),
                tracks_.end());
  return ids;
}

}  // namespace edgert::vision
