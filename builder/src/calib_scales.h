// INT8 calibration's per-tensor statistics and clipping thresholds (issue #4): a histogram of
// |x| that grows as batches arrive, and the threshold T each algorithm picks from it (the
// tensor's scale is then T / 127).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "edgert/status.h"

namespace edgert {

enum class CalibAlgo { kMinMax, kPercentile, kEntropy };
// "minmax", "percentile", "entropy".
Result<CalibAlgo> parseCalibAlgo(const std::string& name);

class AbsHistogram {
 public:
  // `bins` bins over [0, range); the range doubles (merging bin pairs) whenever a value
  // beyond it arrives, so the first batch need not contain the largest value.
  explicit AbsHistogram(size_t bins = 2048) : counts_(bins, 0) {}
  void add(const float* x, size_t n);
  const std::vector<uint64_t>& counts() const { return counts_; }
  double range() const { return range_; }
  double maxAbs() const { return max_abs_; }
  uint64_t total() const { return total_; }
  double binWidth() const { return range_ / static_cast<double>(counts_.size()); }

 private:
  void grow(double to);
  std::vector<uint64_t> counts_;
  double range_ = 0, max_abs_ = 0;
  uint64_t total_ = 0;
};

// The clipping threshold: kMinMax the largest |x|; kPercentile the `percentile`-th percentile
// of |x| (at a bin's upper edge); kEntropy the threshold whose 128-level quantisation of the
// clipped distribution has the least KL divergence from it (TensorRT's EntropyCalibrator2).
double calibThreshold(const AbsHistogram& h, CalibAlgo algo, double percentile = 99.99);

}  // namespace edgert
