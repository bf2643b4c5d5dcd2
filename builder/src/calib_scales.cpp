#include "calib_scales.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "edgert/internal/str.h"

namespace edgert {

Result<CalibAlgo> parseCalibAlgo(const std::string& name) {
  if (name == "minmax") return CalibAlgo::kMinMax;
  if (name == "percentile") return CalibAlgo::kPercentile;
  if (name == "entropy") return CalibAlgo::kEntropy;
  return Status(
      StatusCode::kInvalidArgument,
      strCat("calibration algorithm must be entropy, minmax or percentile, got '", name, "'"));
}

void AbsHistogram::grow(double to) {
  if (range_ == 0) {
    range_ = to;
    return;
  }
  // Doubling keeps every old bin inside one new bin: counts merge exactly.
  while (range_ < to) {
    const size_t n = counts_.size();
    for (size_t i = 0; i < n / 2; ++i) counts_[i] = counts_[2 * i] + counts_[2 * i + 1];
    std::fill(counts_.begin() + static_cast<std::ptrdiff_t>(n / 2), counts_.end(), 0);
    range_ *= 2;
  }
}

void AbsHistogram::add(const float* x, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(x[i])) m = std::max(m, std::fabs(x[i]));
  max_abs_ = std::max(max_abs_, static_cast<double>(m));
  // Strictly above the largest value, so it lands in the last bin at most.
  if (m > 0 && (range_ == 0 || m >= range_)) grow(std::nextafter(static_cast<double>(m), 1e300));
  if (range_ == 0) range_ = 1e-30;  // all zeros so far
  const double inv = static_cast<double>(counts_.size()) / range_;
  const size_t last = counts_.size() - 1;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) continue;
    counts_[std::min(last, static_cast<size_t>(std::fabs(x[i]) * inv))] += 1;
    ++total_;
  }
}

namespace {

// KL(p || q) over bins where p > 0; q is zero only where p is (by construction).
double klDivergence(const std::vector<double>& p, const std::vector<double>& q) {
  double ps = 0, qs = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    ps += p[i];
    qs += q[i];
  }
  if (ps <= 0 || qs <= 0) return std::numeric_limits<double>::infinity();
  double kl = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] <= 0) continue;
    if (q[i] <= 0) return std::numeric_limits<double>::infinity();
    kl += p[i] / ps * std::log((p[i] / ps) / (q[i] / qs));
  }
  return kl;
}

double entropyThreshold(const AbsHistogram& h) {
  // Exact zeros (half of every ReLU output) quantise exactly at any threshold, but as a
  // spike in bin 0 they dominate the divergence: every threshold that puts more than bin 0
  // into the lowest level looks terrible, so the search would pick the smallest. Count them
  // like their neighbours (as NVIDIA's pytorch-quantization does).
  std::vector<uint64_t> c = h.counts();
  if (c.size() > 1) c[0] = c[1];
  const size_t bins = c.size(), levels = 128;
  size_t used = bins;  // bins past the last non-empty one change nothing
  while (used > 0 && c[used - 1] == 0) --used;
  if (used <= levels) return static_cast<double>(used) * h.binWidth();
  // A pile of values at the very top is an activation's bound (ReLU6's 6, a saturated
  // sigmoid's 1). KL compares probabilities only: clipping the pile shrinks the step and
  // costs it nothing it can see, however far the piled values move (EfficientNet-Lite0's last
  // blocks: 6 clipped to 3.5). At threshold = max the bound is an exact level; keep it.
  {
    const size_t top = used - 1, span = std::min<size_t>(32, top);
    double around = 0;
    for (size_t k = top - span; k < top; ++k) around += static_cast<double>(c[k]);
    around /= static_cast<double>(std::max<size_t>(span, 1));
    const double pile = static_cast<double>(c[top]);
    if (pile >= 1e-4 * static_cast<double>(h.total()) && pile > 16 * std::max(around, 1.0))
      return h.maxAbs();
  }
  double best_kl = std::numeric_limits<double>::infinity();
  size_t best = used;
  std::vector<double> p, q;
  for (size_t i = levels; i <= used; ++i) {
    // The reference: the first i bins, everything beyond clipped into the last.
    p.assign(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(i));
    double outliers = 0;
    for (size_t k = i; k < bins; ++k) outliers += static_cast<double>(c[k]);
    p[i - 1] += outliers;
    // The candidate: the first i bins (without the clipped outliers) merged into 128 levels,
    // each level's count spread evenly over the bins the reference has values in.
    q.assign(i, 0.0);
    for (size_t l = 0; l < levels; ++l) {
      const size_t b0 = l * i / levels, b1 = (l + 1) * i / levels;
      double sum = 0;
      size_t nonzero = 0;
      for (size_t b = b0; b < b1; ++b) {
        sum += static_cast<double>(c[b]);
        nonzero += p[b] != 0;
      }
      if (!nonzero) continue;
      for (size_t b = b0; b < b1; ++b)
        if (p[b] != 0) q[b] = sum / static_cast<double>(nonzero);
    }
    const double kl = klDivergence(p, q);
    if (kl < best_kl) {
      best_kl = kl;
      best = i;
    }
  }
  return (static_cast<double>(best) + 0.5) * h.binWidth();
}

}  // namespace

double calibThreshold(const AbsHistogram& h, CalibAlgo algo, double percentile) {
  if (h.total() == 0 || h.maxAbs() == 0) return 0;
  switch (algo) {
    case CalibAlgo::kMinMax:
      return h.maxAbs();
    case CalibAlgo::kPercentile: {
      const double want =
          std::clamp(percentile, 0.0, 100.0) / 100.0 * static_cast<double>(h.total());
      double seen = 0;
      const std::vector<uint64_t>& c = h.counts();
      for (size_t i = 0; i < c.size(); ++i) {
        seen += static_cast<double>(c[i]);
        if (seen >= want) return std::min(h.maxAbs(), static_cast<double>(i + 1) * h.binWidth());
      }
      return h.maxAbs();
    }
    case CalibAlgo::kEntropy:
      return std::min(h.maxAbs(), entropyThreshold(h));
  }
  return h.maxAbs();
}

}  // namespace edgert
