// FP16 engines keep activations in NHWC fp16 between convolutions on the GPU. Each case
// puts one op between two convolutions (so it runs in that layout), checks that it did
// (its tactic in the per-layer profile), and compares the FP16 CUDA engine with the FP32
// CPU engine on fresh random inputs. Skips without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

std::string noCudaReason() {
  if (testBackend() != Backend::kCuda) return "FP16 NHWC layers run on the CUDA backend";
  return backendUnavailableReason();
}

struct Case {
  std::string name;
  // Adds nodes reading "a" (N=2, C=16, 12x10, the first convolution's output) and writing
  // "b" (4-D); a 1x1 convolution then reads "b" and writes the output.
  std::function<void(OnnxGraph&, std::mt19937&, int64_t)> body;
  // Ops of which at least one layer must exist, all in NHWC fp16 (as are all convolutions).
  std::vector<std::string> probes;
  int b_channels = 16;
  // Built without tactic timing: the layers take their default implementation (for the
  // depthwise cases our kernels, which timing might replace by cuDNN's).
  bool untimed = false;
  // Ops that must not be layers of the engine (folded into another layer).
  std::vector<std::string> absent = {};
};

HostTensor scalars(const std::vector<float>& v, const Dims& dims) {
  HostTensor t = HostTensor::create(DataType::kFloat32, dims).value();
  std::copy(v.begin(), v.end(), t.mutableAs<float>());
  return t;
}

// Builds the model for a target and precision, runs it on `x` (twice on the GPU: eagerly,
// then as the captured CUDA graph) and returns output "y"; `layers` gets the profile.
HostTensor run(const std::string& path, const char* target, const char* precision, Backend backend,
               const HostTensor& x, std::vector<LayerTiming>* layers, bool untimed = false) {
  BuildOptions opt;
  opt.tactic_timing = !untimed;
  opt.target = target;
  opt.precision = precision;
  auto engine = buildEngine(path, opt);
  EXPECT_TRUE(engine.ok()) << engine.status().toString();
  if (!engine.ok()) return {};
  RuntimeOptions ro;
  ro.backend = backend;
  auto rt = Runtime::create(ro).value();
  auto e = rt->deserializeEngine(engine->data(), engine->size()).value();
  auto ctx = e->createExecutionContext().value();
  EXPECT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  EXPECT_TRUE(ctx->execute().ok());
  EXPECT_TRUE(ctx->execute().ok());
  HostTensor y = HostTensor::create(DataType::kFloat32, e->binding("y")->dims).value();
  EXPECT_TRUE(ctx->getOutput("y", y.mutableData(), y.bytes()).ok());
  if (layers) {
    auto prof = ctx->profileLayers(1);
    EXPECT_TRUE(prof.ok()) << prof.status().toString();
    if (prof.ok()) *layers = prof.value();
  }
  return y;
}

void runCase(const Case& c, int64_t batch) {
  std::mt19937 rng(std::random_device{}());
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {batch, 8, 12, 10});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 8, 3, 3}, rng, -0.3f, 0.3f));
  g.constant("b0", randomTensor(DataType::kFloat32, {16}, rng));
  g.node("Conv", {"x", "w0", "b0"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  c.body(g, rng, batch);
  g.constant("w1", randomTensor(DataType::kFloat32, {6, c.b_channels, 1, 1}, rng, -0.3f, 0.3f));
  g.node("Conv", {"b", "w1"}, {"y"});
  g.output("y");
  const std::string path = g.save(c.name);
  const HostTensor x = randomTensor(DataType::kFloat32, {batch, 8, 12, 10}, rng);

  const HostTensor want = run(path, "cpu", "fp32", Backend::kCpu, x, nullptr);
  std::vector<LayerTiming> layers;
  const HostTensor got = run(path, "cuda", "fp16", Backend::kCuda, x, &layers, c.untimed);
  const double err = relativeL2(got, want);
  EXPECT_LT(err, 1e-2) << c.name << " (cuda fp32: "
                       << relativeL2(run(path, "cuda", "fp32", Backend::kCuda, x, nullptr), want)
                       << ")";
  bool found = false;
  for (const LayerTiming& t : layers) {
    EXPECT_EQ(std::find(c.absent.begin(), c.absent.end(), t.op), c.absent.end())
        << c.name << ": " << t.op << " '" << t.name << "' should have been folded";
    const bool probed = std::find(c.probes.begin(), c.probes.end(), t.op) != c.probes.end();
    found |= probed;
    if (probed || t.op == "Conv") {
      EXPECT_NE(t.tactic.find("nhwc16"), std::string::npos)
          << c.name << ": " << t.op << " '" << t.name << "' ran as " << t.tactic;
    }
  }
  EXPECT_TRUE(found) << c.name << ": no layer of the probed ops in the engine";
  std::printf("%-22s batch %lld fp16 nhwc vs cpu fp32 rel L2 %.3g\n", c.name.c_str(),
              static_cast<long long>(batch), err);
}

std::vector<Case> cases() {
  std::vector<Case> v;
  v.push_back({"maxpool",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.node("MaxPool", {"a"}, {"b"},
                        {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}),
                         attrInts("pads", {1, 1, 1, 1})});
               },
               {"MaxPool"}});
  v.push_back({"averagepool",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.node("AveragePool", {"a"}, {"b"},
                        {attrInts("kernel_shape", {2, 3}), attrInts("strides", {2, 1}),
                         attrInts("pads", {0, 1, 0, 1}), attrInt("count_include_pad", 0)});
               },
               {"AveragePool"}});
  v.push_back(
      {"globalavgpool",
       [](OnnxGraph& g, std::mt19937&, int64_t) { g.node("GlobalAveragePool", {"a"}, {"b"}); },
       {"GlobalAveragePool"}});
  v.push_back({"globalmaxpool",
               [](OnnxGraph& g, std::mt19937&, int64_t) { g.node("GlobalMaxPool", {"a"}, {"b"}); },
               {"GlobalMaxPool"}});
  // Large maps: the pixels are split over several blocks, then combined.
  v.push_back({"globalavgpool_large",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("scales", scalars({1, 1, 5, 6}, {4}));
                 g.node("Resize", {"a", "", "scales"}, {"u"}, {attrString("mode", "nearest")});
                 g.node("GlobalAveragePool", {"u"}, {"b"});
               },
               {"GlobalAveragePool"}});
  v.push_back({"globalmaxpool_large",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("scales", scalars({1, 1, 5, 6}, {4}));
                 g.node("Resize", {"a", "", "scales"}, {"u"}, {attrString("mode", "linear")});
                 g.node("GlobalMaxPool", {"u"}, {"b"});
               },
               {"GlobalMaxPool"}});
  v.push_back({"concat",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("wc", randomTensor(DataType::kFloat32, {5, 16, 1, 1}, rng));
                 g.node("Conv", {"a", "wc"}, {"a2"});
                 g.node("Concat", {"a", "a2"}, {"b"}, {attrInt("axis", 1)});
               },
               {"Concat"},
               21});
  v.push_back({"split",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("sizes", ints1d({6, 10}));
                 g.node("Split", {"a", "sizes"}, {"s0", "s1"}, {attrInt("axis", 1)});
                 g.node("Concat", {"s1", "s0"}, {"b"}, {attrInt("axis", 1)});
               },
               {"Split"}});
  v.push_back({"slice",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("st", ints1d({2, 1}));
                 g.constant("en", ints1d({15, 9}));
                 g.constant("ax", ints1d({1, 3}));
                 g.constant("sp", ints1d({3, 1}));
                 g.node("Slice", {"a", "st", "en", "ax", "sp"}, {"b"});
               },
               {"Slice"},
               5});
  // A zero Pad read by something else than a convolution (which would take it as its own pads).
  v.push_back({"pad",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("pads", ints1d({0, 0, 1, 2, 0, 0, 2, 1}));
                 g.node("Pad", {"a", "pads"}, {"p"});
                 g.node("Relu", {"p"}, {"b"});
               },
               {"Pad"}});
  v.push_back({"resize_nearest",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.constant("scales", scalars({1, 1, 2, 2}, {4}));
                 g.node("Resize", {"a", "", "scales"}, {"b"}, {attrString("mode", "nearest")});
               },
               {"Resize"}});
  v.push_back({"resize_linear",
               [](OnnxGraph& g, std::mt19937&, int64_t batch) {
                 g.constant("sizes", ints1d({batch, 16, 17, 23}));
                 g.node("Resize", {"a", "", "", "sizes"}, {"b"},
                        {attrString("mode", "linear"),
                         attrString("coordinate_transformation_mode", "half_pixel")});
               },
               {"Resize"}});
  // Squeeze-and-excitation: a per-(image, channel) gate, broadcast over the pixels.
  v.push_back({"se_gate",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.node("GlobalAveragePool", {"a"}, {"p"});
                 g.node("Sigmoid", {"p"}, {"s"});
                 g.node("Mul", {"a", "s"}, {"b"});
               },
               {"Mul", "EdgertElementwise"}});
  v.push_back({"channel_affine",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("k", randomTensor(DataType::kFloat32, {16, 1, 1}, rng));
                 g.node("Mul", {"a", "k"}, {"m"});
                 g.node("Tanh", {"m"}, {"b"});
               },
               {"Mul", "Tanh", "EdgertElementwise"}});
  v.push_back({"spatial_broadcast",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("k", randomTensor(DataType::kFloat32, {1, 1, 12, 10}, rng));
                 g.node("Sub", {"a", "k"}, {"b"});
               },
               {"Sub", "EdgertElementwise"}});
  v.push_back({"residual_relu",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("wr", randomTensor(DataType::kFloat32, {16, 16, 3, 3}, rng, -.2f, .2f));
                 g.node("Conv", {"a", "wr"}, {"r"}, {attrInts("pads", {1, 1, 1, 1})});
                 g.node("Add", {"r", "a"}, {"s"});
                 g.node("Relu", {"s"}, {"b"});
               },
               {"Conv"}});
  v.push_back({"depthwise_odd",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("wd", randomTensor(DataType::kFloat32, {16, 1, 3, 3}, rng));
                 g.node("Conv", {"a", "wd"}, {"d"},
                        {attrInts("pads", {1, 1, 1, 1}), attrInt("group", 16),
                         attrInts("strides", {2, 2})});
                 g.constant("wo", randomTensor(DataType::kFloat32, {7, 16, 1, 1}, rng));
                 g.constant("bo", randomTensor(DataType::kFloat32, {7}, rng));
                 g.node("Conv", {"d", "wo", "bo"}, {"c"});
                 g.node("HardSwish", {"c"}, {"b"});
               },
               {"Conv"},
               7});
  // The unrolled four-channel kernels (k3/k5, stride 1/2) with each fused activation kind
  // (clamp: ReLU / Clip; SiLU; HardSwish) and a residual; the 10-pixel-wide map leaves a
  // partial group of four output pixels.
  for (int k : {3, 5})
    for (int s : {1, 2})
      v.push_back({"depthwise_h4_k" + std::to_string(k) + "s" + std::to_string(s),
                   [k, s](OnnxGraph& g, std::mt19937& rng, int64_t) {
                     g.constant("wd", randomTensor(DataType::kFloat32, {16, 1, k, k}, rng));
                     g.constant("bd", randomTensor(DataType::kFloat32, {16}, rng));
                     const int64_t p = k / 2;
                     g.node("Conv", {"a", "wd", "bd"}, {"d"},
                            {attrInts("pads", {p, p, p, p}), attrInt("group", 16),
                             attrInts("strides", {s, s})});
                     if (k == 3 && s == 1) {
                       g.node("Add", {"d", "a"}, {"r"});
                       g.node("Relu", {"r"}, {"b"});
                     } else if (k == 3) {
                       g.node("HardSwish", {"d"}, {"b"});
                     } else if (s == 1) {
                       g.node("Sigmoid", {"d"}, {"sg"});
                       g.node("Mul", {"d", "sg"}, {"b"});
                     } else {
                       g.constant("lo", scalars({0.f}, {}));
                       g.constant("hi", scalars({1.5f}, {}));
                       g.node("Clip", {"d", "lo", "hi"}, {"b"});
                     }
                   },
                   {"Conv"},
                   16,
                   true});
  // TensorFlow's "same" padding at stride 2 (EfficientNet-Lite): a zero Pad after the end only,
  // folded into the convolution as asymmetric pads; timed (the fastest layer that pads
  // asymmetrically) and untimed (depthwise: our kernel; otherwise cuDNN's graph API, as the
  // legacy API pads symmetrically only).
  for (const bool untimed : {false, true})
    for (const int64_t group : {1, 16}) {
      const std::string name = std::string("same_pad_s2_") + (group == 1 ? "conv" : "depthwise") +
                               (untimed ? "_untimed" : "");
      v.push_back({name,
                   [group](OnnxGraph& g, std::mt19937& rng, int64_t) {
                     g.constant("pads", ints1d({0, 0, 0, 0, 0, 0, 1, 2}));
                     g.node("Pad", {"a", "pads"}, {"p"});
                     g.constant("wp", randomTensor(DataType::kFloat32, {16, 16 / group, 3, 3}, rng,
                                                   -0.3f, 0.3f));
                     g.constant("bp", randomTensor(DataType::kFloat32, {16}, rng));
                     g.node("Conv", {"p", "wp", "bp"}, {"d"},
                            {attrInt("group", group), attrInts("strides", {2, 2})});
                     g.node("Relu", {"d"}, {"b"});
                   },
                   {"Conv"},
                   16,
                   untimed,
                   {"Pad"}});
    }
  v.push_back(
      {"depthwise_c5",
       [](OnnxGraph& g, std::mt19937& rng, int64_t) {
         g.constant("w5", randomTensor(DataType::kFloat32, {5, 16, 1, 1}, rng));
         g.node("Conv", {"a", "w5"}, {"f"});
         g.constant("wd", randomTensor(DataType::kFloat32, {5, 1, 5, 5}, rng));
         g.node("Conv", {"f", "wd"}, {"d"}, {attrInts("pads", {2, 1, 2, 1}), attrInt("group", 5)});
         g.node("Relu", {"d"}, {"b"});
       },
       {"Conv"},
       5});
  // Six channels: the channel-pair gate and the one-channel-per-thread pool partials.
  v.push_back({"se_gate_c6",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("w6", randomTensor(DataType::kFloat32, {6, 16, 1, 1}, rng));
                 g.node("Conv", {"a", "w6"}, {"f"});
                 g.node("GlobalAveragePool", {"f"}, {"p"});
                 g.node("Sigmoid", {"p"}, {"s"});
                 g.node("Mul", {"f", "s"}, {"b"});
               },
               {"Mul", "EdgertElementwise", "GlobalAveragePool"},
               6});
  v.push_back({"maxpool_c5",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("w5", randomTensor(DataType::kFloat32, {5, 16, 1, 1}, rng));
                 g.node("Conv", {"a", "w5"}, {"f"});
                 g.node("MaxPool", {"f"}, {"b"},
                        {attrInts("kernel_shape", {2, 2}), attrInts("strides", {2, 2})});
               },
               {"MaxPool"},
               5});
  v.push_back({"channel_sub_left",
               [](OnnxGraph& g, std::mt19937& rng, int64_t) {
                 g.constant("k", randomTensor(DataType::kFloat32, {1, 16, 1, 1}, rng));
                 g.node("Sub", {"k", "a"}, {"b"});
               },
               {"Sub", "EdgertElementwise"}});
  v.push_back({"silu_chain",
               [](OnnxGraph& g, std::mt19937&, int64_t) {
                 g.node("Sigmoid", {"a"}, {"s"});
                 g.node("Mul", {"a", "s"}, {"m"});
                 g.node("MaxPool", {"m"}, {"b"},
                        {attrInts("kernel_shape", {5, 5}), attrInts("pads", {2, 2, 2, 2})});
               },
               {"MaxPool"}});
  return v;
}

class NhwcFp16 : public ::testing::TestWithParam<Case> {};

TEST_P(NhwcFp16, MatchesCpuFp32) {
  if (const std::string why = noCudaReason(); !why.empty()) GTEST_SKIP() << why;
  for (int64_t batch : {1, 2}) runCase(GetParam(), batch);
}

INSTANTIATE_TEST_SUITE_P(Ops, NhwcFp16, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
