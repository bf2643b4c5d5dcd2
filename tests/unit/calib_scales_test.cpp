// INT8 calibration thresholds on synthetic distributions whose answers are known.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "calib_scales.h"

using namespace edgert;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 r(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = d(r);
  return v;
}

std::vector<float> uniform(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(r);
  return v;
}

TEST(CalibScales, MinMaxIsTheLargestMagnitude) {
  AbsHistogram h;
  const std::vector<float> a = {0.5f, -3.25f, 1.f}, b = {2.f, -0.1f};
  h.add(a.data(), a.size());
  h.add(b.data(), b.size());
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kMinMax), 3.25);
}

TEST(CalibScales, HistogramGrowsWithoutLosingCounts) {
  // A later batch with a larger range re-bins the earlier counts.
  AbsHistogram h(64);
  const std::vector<float> small(1000, 0.25f), large = {100.f};
  h.add(small.data(), small.size());
  h.add(large.data(), large.size());
  uint64_t sum = 0;
  for (uint64_t c : h.counts()) sum += c;
  EXPECT_EQ(sum, 1001u);
  EXPECT_GT(h.range(), 100.0);
  EXPECT_EQ(h.counts()[0], 1000u);  // 0.25 is in the first bin of the wider range
}

TEST(CalibScales, PercentileOfAUniformDistribution) {
  // |x| uniform on [0, 1): the 99th percentile is 0.99, within a bin.
  const std::vector<float> v = uniform(400000, 1, -1.f, 1.f);
  AbsHistogram h;
  h.add(v.data(), v.size());
  EXPECT_NEAR(calibThreshold(h, CalibAlgo::kPercentile, 99.0), 0.99, 2 * h.binWidth() + 2e-3);
  EXPECT_NEAR(calibThreshold(h, CalibAlgo::kPercentile, 50.0), 0.50, 2 * h.binWidth() + 2e-3);
}

TEST(CalibScales, EntropyClipsRareOutliers) {
  // A standard normal plus a few values at 40: min-max would spend 127 levels on [0, 40];
  // the entropy threshold stays a few sigma out, as TensorRT's does.
  std::vector<float> v = gaussian(200000, 2);
  for (int i = 0; i < 5; ++i) v[static_cast<size_t>(i) * 997] = 40.f;
  AbsHistogram h;
  h.add(v.data(), v.size());
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kMinMax), 40.0);
  const double t = calibThreshold(h, CalibAlgo::kEntropy);
  EXPECT_GT(t, 2.0);
  EXPECT_LT(t, 8.0);
}

TEST(CalibScales, EntropyKeepsAUniformRange) {
  // Nothing to clip: every bin is as full as the next, so the threshold stays near the max.
  const std::vector<float> v = uniform(200000, 3, -1.f, 1.f);
  AbsHistogram h;
  h.add(v.data(), v.size());
  EXPECT_GT(calibThreshold(h, CalibAlgo::kEntropy), 0.9);
}

TEST(CalibScales, EntropyIsNotFooledByTheZerosOfARelu) {
  // ReLU outputs: half exact zeros, half |N(0,1)|. The zero spike must not pull the threshold
  // down to the smallest candidate (128 of 2048 bins); it stays where it is without zeros.
  std::vector<float> v = gaussian(200000, 4);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::max(v[i], 0.f);
  std::vector<float> pos;
  for (float x : v)
    if (x > 0) pos.push_back(x);
  AbsHistogram with_zeros, without;
  with_zeros.add(v.data(), v.size());
  without.add(pos.data(), pos.size());
  const double t = calibThreshold(with_zeros, CalibAlgo::kEntropy);
  EXPECT_GT(t, 2.5);
  EXPECT_NEAR(t, calibThreshold(without, CalibAlgo::kEntropy), 0.25);
}

TEST(CalibScales, EntropyKeepsASaturatedRelu6Range) {
  // ReLU6 outputs: zeros, a spread, and a spike at 6 (a third of the values): clipping below
  // 6 would move that whole spike, so the threshold stays at 6.
  std::vector<float> v = uniform(300000, 5, -3.f, 9.f);
  for (float& x : v) x = std::min(6.f, std::max(0.f, x));
  AbsHistogram h;
  h.add(v.data(), v.size());
  EXPECT_GT(calibThreshold(h, CalibAlgo::kEntropy), 5.5);
}

TEST(CalibScales, EntropyKeepsTheBoundOfAThinPileOfSaturatedValues) {
  // ReLU6 of a heavy-tailed spread (half zeros), 0.1% of the values piled at the bound 6: KL
  // alone clips at about 1.4, moving the pile to it, as it clipped EfficientNet-Lite0's last
  // blocks (it weighs probabilities, not how far values move). The pile keeps the bound; the
  // same spread without the pile is still clipped.
  std::mt19937 r(6);
  std::normal_distribution<float> n(0.f, 0.2f);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::vector<float> spread, piled;
  for (int i = 0; i < 400000; ++i) {
    const float a = u(r);
    const float v = a < 0.5f ? 0.f : std::min(6.f, std::fabs(n(r)) * std::fabs(n(r)) / 0.2f);
    piled.push_back(a >= 0.5f && a < 0.501f ? 6.f : v);
    if (piled.back() < 6.f) spread.push_back(v);
  }
  AbsHistogram hs, h6;
  hs.add(spread.data(), spread.size());
  h6.add(piled.data(), piled.size());
  EXPECT_LT(calibThreshold(hs, CalibAlgo::kEntropy), 0.8 * hs.maxAbs());
  EXPECT_EQ(calibThreshold(h6, CalibAlgo::kEntropy), 6.0);
}

TEST(CalibScales, EmptyAndAllZeroTensors) {
  AbsHistogram h;
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kEntropy), 0.0);
  const std::vector<float> z(100, 0.f);
  h.add(z.data(), z.size());
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kEntropy), 0.0);
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kMinMax), 0.0);
}

TEST(CalibScales, NonFiniteValuesAreIgnored) {
  AbsHistogram h;
  const std::vector<float> v = {1.f, NAN, INFINITY, -2.f};
  h.add(v.data(), v.size());
  EXPECT_EQ(h.total(), 2u);
  EXPECT_EQ(calibThreshold(h, CalibAlgo::kMinMax), 2.0);
}

TEST(CalibScales, AlgorithmNames) {
  EXPECT_EQ(parseCalibAlgo("entropy").value(), CalibAlgo::kEntropy);
  EXPECT_EQ(parseCalibAlgo("minmax").value(), CalibAlgo::kMinMax);
  EXPECT_EQ(parseCalibAlgo("percentile").value(), CalibAlgo::kPercentile);
  EXPECT_FALSE(parseCalibAlgo("kl").ok());
}

}  // namespace
