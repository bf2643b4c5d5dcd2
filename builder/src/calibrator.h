// INT8 calibration (issue #4 part 1): runs the float network over the calibration batches
// (on the GPU when one is present, else on the CPU backend), histograms |x| of every tensor
// an INT8 layer reads or writes, and picks each tensor's clipping threshold.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "adaptive_rounding.h"
#include "calib_scales.h"
#include "edgert/builder.h"
#include "edgert/internal/graph.h"

namespace edgert {

// What a calibration cache is tied to: the imported model's ops, names, topology and
// weights (not its shapes, so a cache made at batch 1 serves a batch-32 build).
std::string modelFingerprint(const Graph& imported);

struct CalibrationRun {
  std::map<std::string, double> thresholds;  // tensor name -> threshold
  // INT8 layer inputs: tensor name -> per-channel (dim 1) mean, for bias correction.
  std::map<std::string, std::vector<double>> means;
  // The same of the values clipped to each tensor's threshold (a second pass).
  std::map<std::string, std::vector<double>> clipped_means;
  // Layer name -> the moments of its clipped input windows, for adaptive rounding (the layers
  // roundingGeometry covers; none when `window_moments` was false).
  std::map<std::string, PatchMoments> window_moments;
  int batches = 0;
  std::string backend;  // "cpu" or "cuda"
};

// `g`: the network after the float passes, before quantisation. `gpu`: run the float network
// on this machine's GPU when there is one (else, and when false, on the CPU backend).
// `window_moments`: also accumulate the input-window moments adaptive rounding needs.
Result<CalibrationRun> calibrate(const Graph& g, CalibrationSource& source, int max_batches,
                                 CalibAlgo algo, double percentile,
                                 const std::function<void(double)>& progress, bool gpu = true,
                                 bool window_moments = true);

// Runs `g` on the CPU backend over the first `batches` batches of `source` and returns, per
// batch, each output binding's values (float32 outputs; in binding order).
using BatchOutputs = std::vector<std::vector<std::vector<float>>>;
Result<BatchOutputs> runOnSamples(const Graph& g, CalibrationSource& source, int batches);

// The smallest cosine similarity between corresponding samples (dim 0) of two runs' outputs.
// Samples whose reference output is (nearly) empty - squared norm under 1e-6 of the median
// sample's, e.g. a text detector's map of a photo without text - are left out: their
// direction is noise, and a thresholded map of them is empty either way.
double minCosine(const Graph& g, const BatchOutputs& a, const BatchOutputs& b);

// The fraction of samples whose first output has its largest value at the same index in both
// runs (a classifier's top-1 agreement), and how many samples that is. A sample whose top
// classes in `a` are tied - within kTop1Tie of `a`'s range of values - agrees whichever of them
// `b` picks: on EfficientNet-Lite0's calibration views one photo's two best logits are 0.0034
// apart (range ~15), a tie that any single INT8 layer breaks, and with a strict arg-max the
// mixed-precision search kept all 50 layers in float for it (43 when the float network's last
// bits happened to favour it).
inline constexpr float kTop1Tie = 0.005f;
std::pair<double, int64_t> top1Agreement(const Graph& g, const BatchOutputs& a,
                                         const BatchOutputs& b);

}  // namespace edgert
