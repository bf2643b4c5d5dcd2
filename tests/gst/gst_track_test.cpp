// edgerttrack under GstHarness on synthetic boxes with known trajectories: two objects
// crossing, an occlusion shorter than max-age, objects entering and leaving (a newcomer where
// an old object vanished gets a new id), region filtering by producer. Identity switches are
// counted per ground-truth object. Also the assignment solver against brute force.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/gstvideometa.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "edgert/vision/tracker.h"
#include "gst_plugin_loader.h"

namespace {

struct Object {
  float x, y, w, h, vx, vy;
  int first, last;                          // frames it is in view
  std::vector<std::pair<int, int>> hidden;  // occluded frame ranges [a, b]
  guint producer = 7;
  bool visible(int f) const {
    if (f < first || f > last) return false;
    for (auto [a, b] : hidden)
      if (f >= a && f <= b) return false;
    return true;
  }
};

struct TrackRun {
  std::vector<std::vector<int64_t>> ids;  // per object: the id on each frame it was seen (-1: none)
};

class EdgertTrack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { edgert::test::loadEdgertPlugin("edgerttrack"); }

  // Pushes `frames` frames, the visible objects' boxes as edgertinfer would attach them (in
  // a shuffled order), and reads back each object's track id.
  static TrackRun run(const std::string& desc, const std::vector<Object>& objects, int frames) {
    GstHarness* h = gst_harness_new_parse(desc.c_str());
    gst_harness_set_src_caps_str(h, "video/x-raw,format=GRAY8,width=640,height=480,framerate=30/1");
    std::mt19937 rng(3);
    TrackRun r;
    r.ids.resize(objects.size());
    for (int f = 0; f < frames; ++f) {
      GstBuffer* buf = gst_buffer_new_allocate(nullptr, 640 * 480, nullptr);
      std::vector<size_t> order(objects.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      for (size_t k : order) {
        const Object& o = objects[k];
        if (!o.visible(f)) continue;
        const float x = o.x + o.vx * (f - o.first), y = o.y + o.vy * (f - o.first);
        GstVideoRegionOfInterestMeta* roi = gst_buffer_add_video_region_of_interest_meta(
            buf, ("gt" + std::to_string(k)).c_str(), static_cast<guint>(x), static_cast<guint>(y),
            static_cast<guint>(o.w), static_cast<guint>(o.h));
        gst_video_region_of_interest_meta_add_param(
            roi, gst_structure_new("edgert/detection", "class-id", G_TYPE_INT, 0, "label",
                                   G_TYPE_STRING, "person", "confidence", G_TYPE_DOUBLE, 0.9,
                                   "producer-id", G_TYPE_UINT, o.producer, nullptr));
      }
      EXPECT_EQ(gst_harness_push(h, buf), GST_FLOW_OK);
      GstBuffer* out = gst_harness_pull(h);
      gpointer state = nullptr;
      GstMeta* meta;
      while ((meta = gst_buffer_iterate_meta_filtered(
                  out, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
        auto* roi = reinterpret_cast<GstVideoRegionOfInterestMeta*>(meta);
        const size_t k = std::stoul(g_quark_to_string(roi->roi_type) + 2);
        gint64 id = -1;
        if (const GstStructure* t =
                gst_video_region_of_interest_meta_get_param(roi, "edgert/track")) {
          EXPECT_TRUE(gst_structure_get_int64(t, "track-id", &id));
          EXPECT_EQ(roi->id, static_cast<gint>(id));
        }
        r.ids[k].push_back(id);
      }
      gst_buffer_unref(out);
    }
    gst_harness_teardown(h);
    return r;
  }

  // Changes of id along an object's life, ignoring frames before its first id.
  static int switches(const std::vector<int64_t>& ids) {
    int n = 0;
    int64_t cur = -1;
    for (int64_t id : ids) {
      if (id < 0) continue;
      if (cur >= 0 && id != cur) ++n;
      cur = id;
    }
    return n;
  }
  static int64_t firstId(const std::vector<int64_t>& ids) {
    for (int64_t id : ids)
      if (id >= 0) return id;
    return -1;
  }
};

TEST_F(EdgertTrack, CrossingObjectsKeepTheirIds) {
  // Two pedestrians walking towards each other, passing with their boxes overlapping.
  const std::vector<Object> objs = {{40, 200, 60, 120, 5, 0, 0, 99, {}},
                                    {540, 212, 60, 120, -5, 0, 0, 99, {}}};
  const TrackRun r = run("edgerttrack", objs, 100);
  for (size_t k = 0; k < objs.size(); ++k) {
    EXPECT_EQ(switches(r.ids[k]), 0) << "object " << k;
    EXPECT_EQ(r.ids[k].size(), 100u);
    // Every frame after the first min-hits ones carries an id.
    EXPECT_EQ(std::count(r.ids[k].begin() + 3, r.ids[k].end(), -1), 0) << "object " << k;
  }
  EXPECT_NE(firstId(r.ids[0]), firstId(r.ids[1]));
}

TEST_F(EdgertTrack, ShortOcclusionKeepsTheIdAndNewcomersGetNewOnes) {
  const std::vector<Object> objs = {
      {20, 100, 50, 50, 4, 1, 0, 119, {{40, 55}}},  // hidden 16 frames (< max-age 30)
      {300, 300, 80, 60, 0, 0, 10, 50, {}},         // leaves at 50 ...
      {300, 300, 80, 60, 0, 0, 90, 119, {}},        // ... a new one there 40 frames later
      {500, 50, 40, 90, -2, 2, 60, 119, {}}};       // enters mid-stream
  const TrackRun r = run("edgerttrack max-age=30", objs, 120);
  for (size_t k = 0; k < objs.size(); ++k) EXPECT_EQ(switches(r.ids[k]), 0) << "object " << k;
  std::set<int64_t> distinct;
  for (const auto& ids : r.ids) distinct.insert(firstId(ids));
  EXPECT_EQ(distinct.size(), objs.size()) << "ids must not be reused";
  EXPECT_EQ(distinct.count(-1), 0u) << "every object got an id";
  // After the occlusion the same id comes back on the first frame it is seen again.
  const size_t before = 40, after = before;  // frames 0..39 seen, then 56.. seen
  EXPECT_GE(r.ids[0][after], 0);
  EXPECT_EQ(r.ids[0][after], r.ids[0][before - 1]);
}

TEST_F(EdgertTrack, LongerOcclusionThanMaxAgeStartsANewTrack) {
  const std::vector<Object> objs = {{20, 100, 50, 50, 3, 0, 0, 79, {{20, 40}}}};
  const TrackRun r = run("edgerttrack max-age=5 min-hits=2", objs, 80);
  EXPECT_EQ(switches(r.ids[0]), 1);  // the same object, but its track expired
}

TEST_F(EdgertTrack, TracksOnlyTheChosenProducer) {
  std::vector<Object> objs = {{40, 40, 50, 50, 2, 0, 0, 29, {}},
                              {300, 300, 50, 50, -2, 0, 0, 29, {}}};
  objs[1].producer = 9;
  const TrackRun r = run("edgerttrack producer-id=9", objs, 30);
  EXPECT_EQ(firstId(r.ids[0]), -1);
  EXPECT_GE(firstId(r.ids[1]), 0);
}

TEST(Assignment, MatchesBruteForceOnRandomCosts) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> u(-1, 1);
  for (int trial = 0; trial < 200; ++trial) {
    const size_t rows = 1 + rng() % 6, cols = 1 + rng() % 6;
    std::vector<std::vector<double>> cost(rows, std::vector<double>(cols));
    for (auto& row : cost)
      for (double& c : row) c = u(rng);
    const std::vector<int> got = edgert::vision::assignMinCost(cost);
    double got_cost = 0;
    std::set<int> used;
    for (size_t r = 0; r < rows; ++r) {
      if (got[r] < 0) continue;
      EXPECT_TRUE(used.insert(got[r]).second);
      got_cost += cost[r][static_cast<size_t>(got[r])];
    }
    EXPECT_EQ(used.size(), std::min(rows, cols));
    // Brute force: every injection of the smaller side into the larger.
    std::vector<int> perm(std::max(rows, cols));
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {
      double c = 0;
      for (size_t i = 0; i < std::min(rows, cols); ++i)
        c += rows <= cols ? cost[i][static_cast<size_t>(perm[i])]
                          : cost[static_cast<size_t>(perm[i])][i];
      best = std::min(best, c);
    } while (std::next_permutation(perm.begin(), perm.end()));
    EXPECT_NEAR(got_cost, best, 1e-9) << rows << "x" << cols;
  }
}

}  // namespace
