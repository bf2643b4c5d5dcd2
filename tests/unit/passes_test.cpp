// Builder graph passes that change the graph's structure but not its function: the pass
// must remove what it claims (layer counts) and the engine must compute what the model says
// (against a model spelled without the redundancy, on the test backend).
#include <gtest/gtest.h>

#include "edgert/internal/half.h"
#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

class Passes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

std::string tensorName(size_t i) {
  std::string s = "t";
  s += std::to_string(i);
  return s;
}

struct Built {
  std::vector<uint8_t> bytes;
  size_t layers = 0;
};

// x -> Relu -> transposes... -> Sigmoid -> y, built without elementwise fusion so the layer
// count shows what remains.
Built build(const Dims& x, const std::vector<std::vector<int64_t>>& perms, const char* name) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, x);
  g.node("Relu", {"x"}, {"t0"});
  for (size_t i = 0; i < perms.size(); ++i)
    g.node("Transpose", {tensorName(i)}, {tensorName(i + 1)}, {attrInts("perm", perms[i])});
  g.node("Sigmoid", {tensorName(perms.size())}, {"y"});
  g.output("y");
  BuildOptions opt;
  opt.target = testTarget();
  opt.fuse_elementwise = false;
  BuildReport rep;
  auto bytes = buildEngine(g.save(name), opt, &rep);
  EXPECT_TRUE(bytes.ok()) << bytes.status().toString();
  return {bytes.ok() ? bytes.value() : std::vector<uint8_t>{}, rep.layers};
}

void expectSameOutputs(const Built& a, const Built& b, const Dims& x) {
  std::mt19937 r(std::random_device{}());
  const HostTensor in = randomTensor(DataType::kFloat32, x, r);
  auto ya = runEngineBytes(a.bytes, {{"x", &in}});
  auto yb = runEngineBytes(b.bytes, {{"x", &in}});
  ASSERT_TRUE(ya.ok() && yb.ok()) << ya.status().toString() << yb.status().toString();
  EXPECT_EQ(compareTensors(ya->at("y"), yb->at("y"), 0, 0), "");
}

TEST_F(Passes, TransposePairsThatCancelDisappear) {
  const Dims x = {2, 3, 4, 5};
  const Built pair = build(x, {{0, 2, 3, 1}, {0, 3, 1, 2}}, "transpose_cancel");
  const Built none = build(x, {}, "transpose_none");
  EXPECT_EQ(pair.layers, 2u);  // Relu, Sigmoid
  expectSameOutputs(pair, none, x);
}

TEST_F(Passes, TransposeChainsComposeIntoOne) {
  const Dims x = {2, 3, 4, 5};
  // (0,2,3,1) then (0,2,1,3) equals (0,3,2,1).
  const Built chain = build(x, {{0, 2, 3, 1}, {0, 2, 1, 3}}, "transpose_chain");
  const Built one = build(x, {{0, 3, 2, 1}}, "transpose_one");
  EXPECT_EQ(chain.layers, 3u);
  EXPECT_EQ(one.layers, 3u);
  expectSameOutputs(chain, one, x);
  // Three in a row, the default (reversing) perm among them.
  const Built three = build(x, {{1, 0, 2, 3}, {}, {0, 1, 3, 2}}, "transpose_three");
  const Built direct = build(x, {{3, 2, 1, 0}}, "transpose_direct");
  EXPECT_EQ(three.layers, 3u);
  expectSameOutputs(three, direct, x);
}

TEST_F(Passes, TransposeMovingOnlyUnitDimsIsAView) {
  // [2,1,4,5] -> [2,4,1,5]: the bytes stay where they are.
  const Dims x = {2, 1, 4, 5};
  const Built t = build(x, {{0, 2, 1, 3}}, "transpose_unit");
  EXPECT_EQ(t.layers, 3u);  // Relu, the Transpose as a Reshape (a view), Sigmoid
  RuntimeOptions ro;
  ro.backend = testBackend();  // a CUDA-target engine loads on the CUDA runtime only
  auto rt = Runtime::create(ro);
  ASSERT_TRUE(rt.ok()) << rt.status().toString();
  auto engine = rt.value()->deserializeEngine(t.bytes.data(), t.bytes.size());
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  EXPECT_NE(engine.value()->describe().find("Reshape"), std::string::npos);
  std::mt19937 r(3);
  const HostTensor in = randomTensor(DataType::kFloat32, x, r);
  auto y = runEngineBytes(t.bytes, {{"x", &in}});
  ASSERT_TRUE(y.ok()) << y.status().toString();
  ASSERT_EQ(y->at("y").dims(), (Dims{2, 4, 1, 5}));
  for (int64_t i = 0; i < 40; ++i) {
    const float v = std::max(in.as<float>()[i], 0.f);
    EXPECT_NEAR(y->at("y").as<float>()[i], 1.f / (1.f + std::exp(-v)), 1e-6);
  }
}

}  // namespace

namespace {

// x [2,C,16,16] -> 3x3 conv + Relu -> 1x1 conv -> y, saved once per channel count.
std::string smallConvNet(int64_t c, std::mt19937& rng) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {2, c, 16, 16});
  g.constant("w0", randomTensor(DataType::kFloat32, {8, c, 3, 3}, rng, -0.3f, 0.3f));
  g.node("Conv", {"x", "w0"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"a"}, {"r"});
  g.constant("w1", randomTensor(DataType::kFloat32, {4, 8, 1, 1}, rng, -0.3f, 0.3f));
  g.node("Conv", {"r", "w1"}, {"y"});
  g.output("y");
  return g.save("fp16_input_c" + std::to_string(c));
}

struct Ran {
  HostTensor y;
  DataType input_dtype = DataType::kUndefined;
  size_t activations = 0;
};

// Builds with the given input format and precision, feeds `x` (as halves to an fp16 input)
// and runs twice (eagerly, then the captured CUDA graph on the GPU).
Ran runWithInputFormat(const std::string& path, const char* format, const char* precision,
                       const HostTensor& x) {
  BuildOptions opt;
  opt.target = testTarget();
  opt.precision = precision;
  opt.input_format = format;
  auto bytes = buildEngine(path, opt);
  EXPECT_TRUE(bytes.ok()) << bytes.status().toString();
  RuntimeOptions ro;
  ro.backend = testBackend();
  auto engine = Runtime::create(ro).value()->deserializeEngine(bytes->data(), bytes->size());
  EXPECT_TRUE(engine.ok()) << engine.status().toString();
  auto ctx = engine.value()->createExecutionContext().value();
  Ran r;
  r.input_dtype = engine.value()->binding("x")->dtype;
  if (r.input_dtype == DataType::kFloat16) {
    std::vector<uint16_t> h(static_cast<size_t>(x.numel()));
    for (size_t i = 0; i < h.size(); ++i) h[i] = floatToHalf(x.as<float>()[i]);
    EXPECT_TRUE(ctx->setInput("x", h.data(), h.size() * 2).ok());
  } else {
    EXPECT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  }
  EXPECT_TRUE(ctx->execute().ok());
  EXPECT_TRUE(ctx->execute().ok());
  r.y = HostTensor::create(DataType::kFloat32, engine.value()->binding("y")->dims).value();
  EXPECT_TRUE(ctx->getOutput("y", r.y.mutableData(), r.y.bytes()).ok());
  r.activations = ctx->memoryUse().activations;
  return r;
}

}  // namespace

TEST_F(Passes, Fp16InputBindingComputesWhatFloat32InputsOfTheSameValuesDo) {
  // Three channels (an image: the few-channel kernel on the GPU) and twelve (a transpose).
  for (int64_t c : {3, 12}) {
    std::mt19937 rng(std::random_device{}());
    const std::string path = smallConvNet(c, rng);
    HostTensor x = randomTensor(DataType::kFloat32, {2, c, 16, 16}, rng);
    for (int64_t i = 0; i < x.numel(); ++i)  // values an fp16 binding holds exactly
      x.mutableAs<float>()[i] = halfToFloat(floatToHalf(x.as<float>()[i]));
    const Ran f32 = runWithInputFormat(path, "fp32", "fp32", x);
    const Ran f16 = runWithInputFormat(path, "fp16", "fp32", x);
    EXPECT_EQ(f32.input_dtype, DataType::kFloat32);
    EXPECT_EQ(f16.input_dtype, DataType::kFloat16);
    EXPECT_EQ(compareTensors(f16.y, f32.y, 1e-5, 1e-6), "") << "C=" << c;
    if (testBackend() != Backend::kCuda) continue;
    // FP16 engines: the binding is transposed straight into the NHWC fp16 the convolutions
    // read, with no float32 copy of the input.
    const Ran h32 = runWithInputFormat(path, "fp32", "fp16", x);
    const Ran h16 = runWithInputFormat(path, "fp16", "fp16", x);
    EXPECT_LT(relativeL2(h16.y, h32.y), 1e-3) << "C=" << c;
    EXPECT_LT(h16.activations, h32.activations) << "C=" << c;
  }
}

TEST_F(Passes, Fp16InputIsNoImageInput) {
  std::mt19937 rng(5);
  BuildOptions opt;
  opt.target = testTarget();
  opt.input_format = "fp16";
  auto bytes = buildEngine(smallConvNet(3, rng), opt);
  ASSERT_TRUE(bytes.ok()) << bytes.status().toString();
  RuntimeOptions ro;
  ro.backend = testBackend();
  auto engine = Runtime::create(ro).value()->deserializeEngine(bytes->data(), bytes->size());
  ASSERT_TRUE(engine.ok());
  auto ctx = engine.value()->createExecutionContext().value();
  std::vector<uint8_t> rgb(16 * 16 * 3, 100);
  ImageFrame f;
  f.format = ImageFormat::kRGB;
  f.width = f.height = 16;
  f.planes[0] = rgb.data();
  f.strides[0] = 48;
  const Status st = ctx->setImageInput("x", 0, f, stretch(16, 16));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--input-format fp16"), std::string::npos) << st.message();
}

namespace {

Built buildModel(OnnxGraph& g, const char* name, const std::string& target) {
  BuildOptions opt;
  opt.target = target;
  BuildReport rep;
  auto bytes = buildEngine(g.save(name), opt, &rep);
  EXPECT_TRUE(bytes.ok()) << bytes.status().toString();
  return {bytes.ok() ? bytes.value() : std::vector<uint8_t>{}, rep.layers};
}

// x -> Pad(pads) -> Conv(conv_pads, stride) -> y, or the Conv alone with `conv_pads`.
OnnxGraph padConv(const HostTensor& w, const std::vector<int64_t>* pad,
                  const std::vector<int64_t>& conv_pads, int64_t stride) {
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {1, 3, 10, 10});
  g.constant("w", w);
  std::string in = "x";
  if (pad) {
    g.constant("pads", ints1d(*pad));
    g.node("Pad", {"x", "pads"}, {"p"});
    in = "p";
  }
  g.node("Conv", {in, "w"}, {"y"},
         {attrInts("pads", conv_pads), attrInts("strides", {stride, stride})});
  g.output("y");
  return g;
}

}  // namespace

TEST_F(Passes, ZeroPadFoldsIntoTheConvolution) {
  std::mt19937 r(std::random_device{}());
  const HostTensor w = randomTensor(DataType::kFloat32, {4, 3, 3, 3}, r);
  const std::vector<int64_t> pad = {0, 0, 1, 1, 0, 0, 1, 1};
  OnnxGraph a = padConv(w, &pad, {0, 0, 0, 0}, 1), b = padConv(w, nullptr, {1, 1, 1, 1}, 1);
  const Built fa = buildModel(a, "padconv_a", testTarget()),
              fb = buildModel(b, "padconv_b", testTarget());
  EXPECT_EQ(fa.layers, 1u);
  expectSameOutputs(fa, fb, {1, 3, 10, 10});
}

TEST_F(Passes, AsymmetricZeroPadFoldsWhereTheLayerPadsAsymmetrically) {
  // TensorFlow-style "same" padding at stride 2: one row and column more at the end, which
  // the CPU convolution and the GPU's NHWC fp16 / INT8 ones take as their own pads; an FP32
  // GPU engine runs cuDNN's legacy convolution, which pads symmetrically: the Pad stays.
  std::mt19937 r(std::random_device{}());
  const HostTensor w = randomTensor(DataType::kFloat32, {4, 3, 3, 3}, r);
  const std::vector<int64_t> pad = {0, 0, 0, 0, 0, 0, 1, 1};
  OnnxGraph a = padConv(w, &pad, {0, 0, 0, 0}, 2), b = padConv(w, nullptr, {0, 0, 1, 1}, 2);
  const Built fa = buildModel(a, "apadconv_a", "cpu"), fb = buildModel(b, "apadconv_b", "cpu");
  EXPECT_EQ(fa.layers, 1u);
  std::mt19937 rr(std::random_device{}());
  const HostTensor in = randomTensor(DataType::kFloat32, {1, 3, 10, 10}, rr);
  auto ya = runEngineBytes(fa.bytes, {{"x", &in}}, Backend::kCpu);
  auto yb = runEngineBytes(fb.bytes, {{"x", &in}}, Backend::kCpu);
  ASSERT_TRUE(ya.ok() && yb.ok());
  EXPECT_EQ(compareTensors(ya->at("y"), yb->at("y"), 0, 0), "");
  for (const char* precision : {"fp32", "fp16"}) {
    BuildOptions opt;
    opt.target = "cuda";
    opt.precision = precision;
    opt.tactic_timing = false;
    BuildReport rep;
    auto bytes = buildEngine(a.save("apadconv_cuda"), opt, &rep);
    if (!bytes.ok() && bytes.status().code() == StatusCode::kUnavailable)
      GTEST_SKIP() << "the CPU part passed; " << bytes.status().message();
    ASSERT_TRUE(bytes.ok()) << bytes.status().toString();
    EXPECT_EQ(rep.layers, std::string(precision) == "fp16" ? 1u : 2u) << precision;
  }
}
