// The calibration cache's text format: round trip, and a clear error for every kind of bad
// file (the parser is also fuzzed: tests/fuzz/fuzz_calib_cache.cpp).
#include <gtest/gtest.h>

#include "calib_cache.h"

using namespace edgert;

TEST(CalibCache, RoundTripsNamesWithAnyCharacters) {
  CalibrationCache c;
  c.model = "9f86d081884c7d65";
  c.algorithm = "percentile";
  c.percentile = 99.9;
  c.thresholds = {{"/stem/conv/Conv_output_0", 2.8731},
                  {"a name with spaces\tand a tab", 1e-3},
                  {"line\nbreak and back\\slash", 12345.678}};
  const auto back = parseCalibrationCache(formatCalibrationCache(c), "x.calib");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->model, c.model);
  EXPECT_EQ(back->algorithm, c.algorithm);
  EXPECT_DOUBLE_EQ(back->percentile, 99.9);
  ASSERT_EQ(back->thresholds.size(), 3u);
  for (const auto& [name, t] : c.thresholds) EXPECT_NEAR(back->thresholds.at(name), t, t * 1e-8);
}

TEST(CalibCache, RoundTripsPerChannelMeansExactly) {
  CalibrationCache c;
  c.model = "ab12";
  c.algorithm = "entropy";
  c.thresholds = {{"x y", 1.5}};
  c.means = {{"x y", {0.1, -2.5e-7, 3.0, 1.0 / 3.0}}, {"other\\name", {42.0}}};
  c.clipped_means = {{"x y", {0.1, -2.5e-7, 2.5, 1.0 / 3.0}}};
  const std::string text = formatCalibrationCache(c);
  EXPECT_EQ(text.rfind("edgert-calibration 3\n", 0), 0u) << text;
  const auto back = parseCalibrationCache(text, "x.calib");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->means, c.means);  // %.17g: bit for bit
  EXPECT_EQ(back->clipped_means, c.clipped_means);
}

TEST(CalibCache, RoundTripsAdaptiveRoundingBitForBit) {
  CalibrationCache c;
  c.model = "ab12";
  c.algorithm = "entropy";
  std::vector<uint8_t> bits(77);  // not a multiple of 8: the last byte is padded
  for (size_t i = 0; i < bits.size(); ++i) bits[i] = (i * 7 + i / 3) % 5 < 2;
  c.rounding = {{"/blocks.0/dw/Conv", bits}, {"one", {1}}, {"a b\\c", {0, 0, 0, 0, 0, 0, 0, 0, 1}}};
  const std::string text = formatCalibrationCache(c);
  EXPECT_NE(text.find("\nrounding 1 01 one\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nrounding 9 0001 a b\\\\c\n"), std::string::npos) << text;
  const auto back = parseCalibrationCache(text, "x.calib");
  ASSERT_TRUE(back.ok()) << back.status().toString();
  EXPECT_EQ(back->version, 3);
  EXPECT_EQ(back->rounding, c.rounding);
}

TEST(CalibCache, VersionOneFilesHaveNoMeans) {
  const auto r = parseCalibrationCache(
      "edgert-calibration 1\nmodel ab12\nalgorithm entropy 99.99\n1.5 a\n", "old.calib");
  ASSERT_TRUE(r.ok()) << r.status().toString();
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(r->thresholds.at("a"), 1.5);
  EXPECT_TRUE(r->means.empty());
  const auto v2 = parseCalibrationCache(
      "edgert-calibration 2\nmodel ab12\nalgorithm entropy 99.99\n1.5 a\nmean 1 0.5 a\n",
      "old.calib");
  ASSERT_TRUE(v2.ok()) << v2.status().toString();
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->means.at("a"), std::vector<double>{0.5});
  EXPECT_TRUE(v2->rounding.empty());
}

TEST(CalibCache, BadFilesNameFileAndLine) {
  const std::string head = "edgert-calibration 1\nmodel ab12\nalgorithm entropy 99.99\n";
  const std::pair<std::string, std::string> cases[] = {
      {"", "x.calib:0: empty file"},
      {"edgert timing cache v1\n", "x.calib:1: expected 'edgert-calibration 3'"},
      {head + "rounding 9 ff a\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 9 ff0g a\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 9 ff02 a\n", "x.calib:4: expected 'rounding <weights> <hex"},  // padding
      {head + "rounding 0  a\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 1e12 00 a\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 8 FF a\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 8 ff\n", "x.calib:4: expected 'rounding <weights> <hex"},
      {head + "rounding 8 ff a\nrounding 8 00 a\n", "x.calib:5: rounding of layer 'a' twice"},
      {"edgert-calibration 1\nrounding 8 ff a\n",
       "x.calib:2: 'model' and 'algorithm' come before rounding"},
      {head + "mean 2 0.5 a\n", "x.calib:4: expected 'mean <channels> <one value per channel>"},
      {head + "mean 0 a\n", "x.calib:4: expected 'mean <channels>"},
      {head + "mean 1.5 2 a\n", "x.calib:4: expected 'mean <channels>"},
      {head + "mean 1 inf a\n", "x.calib:4: expected 'mean <channels>"},
      {head + "mean 1 2\n", "x.calib:4: expected 'mean <channels>"},
      {head + "mean 1 2 a\nmean 1 3 a\n", "x.calib:5: means of tensor 'a' twice"},
      {head + "clipped-mean 2 1 a\n", "x.calib:4: expected 'clipped-mean <channels>"},
      {"edgert-calibration 1\nmean 1 2 a\n",
       "x.calib:2: 'model' and 'algorithm' come before means"},
      {head + "nan conv\n", "x.calib:4: 'nan' is not a positive threshold"},
      {head + "-1 conv\n", "x.calib:4: '-1' is not a positive threshold"},
      {head + "1.5 a\n2 a\n", "x.calib:5: tensor 'a' twice"},
      {head + "1.5 bad\\q\n", "x.calib:4: bad tensor name"},
      {"edgert-calibration 1\nmodel ab\nalgorithm kl 99\n", "x.calib:3: unknown algorithm 'kl'"},
      {"edgert-calibration 1\nmodel ab\nalgorithm entropy 0\n", "x.calib:3: expected 'algorithm"},
      {"edgert-calibration 1\n1.0 a\n", "x.calib:2: 'model' and 'algorithm' come before"},
      {"edgert-calibration 1\nmodel ab\n", "missing 'model' or 'algorithm' line"},
  };
  for (const auto& [text, want] : cases) {
    const auto r = parseCalibrationCache(text, "x.calib");
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status().message();
  }
}

TEST(CalibCache, ACacheFromAnotherModelIsRefused) {
  CalibrationCache c;
  c.model = "aaaa";
  EXPECT_TRUE(checkCalibrationModel(c, "aaaa", "m.calib").ok());
  const Status st = checkCalibrationModel(c, "bbbb", "m.calib");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(
      st.message().find("m.calib: calibration cache made for another model (fingerprint aaaa, "
                        "this model's is bbbb)"),
      std::string::npos)
      << st.message();
}
