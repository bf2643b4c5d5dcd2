// The builder's pick among timed implementations: speed first, then workspace memory.
// Runs without a GPU (the times are given).
#include <gtest/gtest.h>

#include "tactic_choice.h"

using namespace edgert;

namespace {

constexpr size_t kMiB = size_t{1} << 20;

TEST(TacticChoice, FastestWithinTheLimit) {
  const std::vector<TacticTime> t = {{"a", 1.0, 0}, {"b", 0.5, 300 * kMiB}, {"c", 0.7, 10 * kMiB}};
  EXPECT_EQ(chooseTactic(t, 256 * kMiB).tactic, "c");  // b is faster but over the limit
  EXPECT_EQ(chooseTactic(t, 512 * kMiB).tactic, "b");  // c is 40% slower: not worth 290 MiB
}

TEST(TacticChoice, NothingFitsTakesTheLeastWorkspace) {
  const std::vector<TacticTime> t = {{"a", 0.2, 90 * kMiB}, {"b", 0.1, 80 * kMiB}};
  EXPECT_EQ(chooseTactic(t, 64 * kMiB).tactic, "b");
  const std::vector<TacticTime> u = {{"a", 0.1, 90 * kMiB}, {"b", 0.2, 80 * kMiB}};
  EXPECT_EQ(chooseTactic(u, 64 * kMiB).tactic, "b");
}

TEST(TacticChoice, TimingNoiseGoesToTheSmallerWorkspace) {
  const std::vector<TacticTime> t = {{"big", 1.00, 40 * kMiB}, {"small", 1.02, 1 * kMiB}};
  EXPECT_EQ(chooseTactic(t, 256 * kMiB).tactic, "small");
  const std::vector<TacticTime> u = {{"big", 1.00, 40 * kMiB}, {"small", 1.05, 1 * kMiB}};
  EXPECT_EQ(chooseTactic(u, 256 * kMiB).tactic, "big");  // 5% for 39 MiB: no
}

TEST(TacticChoice, UpTo15PercentFor64MiBLess) {
  // ResNet-50's first layer at bs128 on an H200, as timed.
  const std::vector<TacticTime> t = {{"algo1", 0.408, 245 * kMiB},
                                     {"algo1-n64", 0.4385, 122 * kMiB},
                                     {"algo1-n32", 0.4633, 61 * kMiB},
                                     {"graph0", 0.98, 0}};
  EXPECT_EQ(chooseTactic(t, 256 * kMiB).tactic, "algo1-n32");  // 13.6% slower, 184 MiB less
  // Too slow for the memory it saves.
  const std::vector<TacticTime> u = {{"algo1", 0.408, 245 * kMiB}, {"parts", 0.50, 61 * kMiB}};
  EXPECT_EQ(chooseTactic(u, 256 * kMiB).tactic, "algo1");
}

}  // namespace
