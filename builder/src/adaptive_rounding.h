// Adaptive rounding of INT8 weights (issue #9). Rounding each weight to its nearest level is
// optimal weight by weight, but what a layer should keep is its output: the error of output m
// is e_m . x, e_m = s_m q_m - w_m, so its variance over the layer's inputs is e_m' Cov(x) e_m.
// Where neighbouring inputs are strongly correlated (a 3x3 or 5x5 window of an image or a
// feature map), rounding some weights the other way lets their errors cancel: EfficientNet-
// Lite0's depthwise weights, rounded to nearest, cost its logits a mean cosine of 0.9945 on
// their own; rounded against the input covariance, 0.9994 (Nagel et al., "Up or Down?
// Adaptive Rounding", 2020, solve the same quadratic with a relaxation; here a greedy
// coordinate descent from the nearest rounding, which can only lower it). The mean part of
// the error is left to the bias correction, so the covariance (not the second moment) is used.
//
// Calibration accumulates each eligible layer's input-window moments; the choice, one bit per
// weight (round down or up), goes into the calibration cache, so a build from the cache
// quantises exactly as the calibrating one did.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "edgert/internal/graph.h"
#include "edgert/status.h"

namespace edgert {

// A 2-D convolution's window geometry, for the layers adaptive rounding covers: depthwise
// ones (one covariance per channel, K = kh*kw) and one-group ones with a small window
// (K = C*kh*kw <= kMaxDenseWindow: one covariance, estimated well from a few images; the
// large 1x1 layers gained nothing in measurements).
struct PatchGeometry {
  static constexpr int64_t kMaxDenseWindow = 128;
  // Depthwise windows up to 7 x 7: a channel's covariance is K^2 doubles, its update K^2 / 2
  // multiply-adds per window (an 11 x 11 layer of 2048 channels would hold 240 MB).
  static constexpr int64_t kMaxDepthwiseWindow = 49;
  int64_t C = 0, H = 0, W = 0;  // input channels and size
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0, oh = 0, ow = 0;
  bool depthwise = false;
  int64_t sets() const { return depthwise ? C : 1; }
  int64_t window() const { return depthwise ? kh * kw : C * kh * kw; }  // K
};

// The geometry of `n` when adaptive rounding covers it (a Conv with constant weights, a 4-D
// input of known shape and explicit pads), else nothing.
std::optional<PatchGeometry> roundingGeometry(const Graph& g, const Node& n);

// Sums of the input windows and of their outer products (upper triangles), per set.
struct PatchMoments {
  int64_t sets = 0, K = 0;
  double count = 0;  // windows per set
  std::vector<double> sum, outer;
  // Adds the windows of a batch `x` ([N, C, H, W]), each value clipped to [-clip, clip] when
  // clip > 0; at most kPositions output positions per sample, evenly spread.
  static constexpr int64_t kPositions = 1024;
  void add(const PatchGeometry& geo, const float* x, int64_t batch, double clip);
  // Set s's covariance, K x K (full).
  std::vector<double> covariance(int64_t set) const;
};

// Per layer: one byte per weight (output-major), 1 where it rounds up from floor(w / s), s the
// per-output-channel scale of quantizeWeightsPerChannel. Layers with too few windows (under 4K)
// are left out, i.e. rounded to nearest.
std::map<std::string, std::vector<uint8_t>> adaptiveRounding(
    const Graph& g, const std::map<std::string, PatchMoments>& moments);

// Replaces `wq` (from quantizeWeightsPerChannel(wf, wq, sw)) by floor(wf / s) + bits,
// saturated; an error naming the layer when the bit count is not the weight count.
Status applyRounding(const HostTensor& wf, const std::vector<float>& sw,
                     const std::vector<uint8_t>& bits, const std::string& layer, HostTensor* wq);

}  // namespace edgert
