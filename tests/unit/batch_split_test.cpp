// Batch splitting (builder/src/batch_split.cpp) and the byte ranges the CUDA context shares
// instead of copying (Slice / Split views, Concat in place): the split engine must compute
// what the whole-batch engine computes, in less activation memory, also when the caller
// points the bindings the views and the in-place Concat touch at its own buffers.
#include <gtest/gtest.h>

#include <random>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

class BatchSplit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

// x [N,4,24,24] -> 3x3 conv to 32 channels + Relu -> Pad -> 3x3 depthwise -> 1x1 to 8 -> global
// average pool -> y: per-sample layers from the input binding to the output binding, whose
// largest tensors (32 channels at 24x24) are the ones splitting keeps small.
std::string chainModel(int64_t n, std::mt19937& rng) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {n, 4, 24, 24});
  g.constant("w0", randomTensor(DataType::kFloat32, {32, 4, 3, 3}, rng, -0.3f, 0.3f));
  g.constant("b0", randomTensor(DataType::kFloat32, {32}, rng));
  g.node("Conv", {"x", "w0", "b0"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"a"}, {"ar"});
  g.constant("w1", randomTensor(DataType::kFloat32, {32, 1, 3, 3}, rng, -0.3f, 0.3f));
  g.constant("pads", ints1d({0, 0, 1, 1, 0, 0, 1, 1}));  // EfficientNet-Lite's explicit padding
  g.node("Pad", {"ar", "pads"}, {"arp"});
  g.node("Conv", {"arp", "w1"}, {"b"}, {attrInt("group", 32)});
  g.constant("w2", randomTensor(DataType::kFloat32, {8, 32, 1, 1}, rng, -0.3f, 0.3f));
  g.node("Conv", {"b", "w2"}, {"c"});
  g.node("GlobalAveragePool", {"c"}, {"y"});
  g.output("y");
  return g.save("batch_split_chain");
}

struct Built {
  std::shared_ptr<const edgert::Engine> engine;
  BuildReport report;
};

Built build(const std::string& path, const char* precision, int batch_split) {
  BuildOptions opt;
  opt.target = testTarget();
  opt.precision = precision;
  opt.batch_split = batch_split;
  Built e;
  auto bytes = buildEngine(path, opt, &e.report);
  EXPECT_TRUE(bytes.ok()) << bytes.status().toString();
  if (!bytes.ok()) return e;
  RuntimeOptions ro;
  ro.backend = testBackend();
  auto rt = Runtime::create(ro);
  EXPECT_TRUE(rt.ok()) << rt.status().toString();
  auto loaded = rt.value()->deserializeEngine(bytes->data(), bytes->size());
  EXPECT_TRUE(loaded.ok()) << loaded.status().toString();
  if (loaded.ok()) e.engine = loaded.value();
  return e;
}

struct Outcome {
  HostTensor y;
  size_t activation_bytes = 0;
};

// Runs twice (on the CUDA backend: eagerly, then the captured graph) and reads "y".
Outcome run(const edgert::Engine& e, const HostTensor& x) {
  Outcome r;
  auto ctx = e.createExecutionContext();
  EXPECT_TRUE(ctx.ok()) << ctx.status().toString();
  if (!ctx.ok()) return r;
  EXPECT_TRUE(ctx.value()->setInput("x", x.data(), x.bytes()).ok());
  EXPECT_TRUE(ctx.value()->execute().ok());
  EXPECT_TRUE(ctx.value()->execute().ok());
  r.y = HostTensor::create(DataType::kFloat32, e.binding("y")->dims).value();
  EXPECT_TRUE(ctx.value()->getOutput("y", r.y.mutableData(), r.y.bytes()).ok());
  r.activation_bytes = ctx.value()->memoryUse().activations;
  return r;
}

TEST_F(BatchSplit, ChainRunsInPartsWithTheSameOutputInLessMemory) {
  std::mt19937 rng(std::random_device{}());
  const std::string path = chainModel(64, rng);
  const HostTensor x = randomTensor(DataType::kFloat32, {64, 4, 24, 24}, rng);
  const Built whole = build(path, "fp32", 0);
  const Built parts = build(path, "fp32", 16);
  ASSERT_TRUE(whole.engine && parts.engine);
  EXPECT_EQ(whole.report.split_chains, 0u);
  EXPECT_EQ(parts.report.split_chains, 1u);
  EXPECT_GE(parts.report.split_layers, 4u);  // the three convolutions and the pad
  EXPECT_LT(parts.report.arena_bytes, whole.report.arena_bytes);
  EXPECT_EQ(parts.report.arena_unsplit_bytes, whole.report.arena_bytes);
  const Outcome a = run(*whole.engine, x), b = run(*parts.engine, x);
  // The parts may take other convolution algorithms than the whole batch on the GPU.
  EXPECT_EQ(compareTensors(b.y, a.y, 1e-5, 1e-6), "");
  // Whole: 64 images of 32 channels twice (10 MB); in parts: a quarter of that, the input
  // and the output.
  EXPECT_LT(b.activation_bytes, a.activation_bytes / 2);
  std::printf("batch 64, parts of 16: activations %zu -> %zu bytes\n", a.activation_bytes,
              b.activation_bytes);
}

TEST_F(BatchSplit, BatchBelowThePartSizeStaysWhole) {
  std::mt19937 rng(1);
  const Built e = build(chainModel(16, rng), "fp32", 16);
  EXPECT_EQ(e.report.split_chains, 0u);
}

TEST_F(BatchSplit, CallerBuffersForTheViewedInputAndTheConcatenatedOutput) {
  // The views of "x" and the in-place Concat into "y" live in the context's arena; a caller
  // that binds its own buffers must still get the right result (the copies then happen).
  std::mt19937 rng(std::random_device{}());
  const std::string path = chainModel(64, rng);
  const Built parts = build(path, "fp32", 16);
  ASSERT_TRUE(parts.engine);
  const HostTensor x = randomTensor(DataType::kFloat32, {64, 4, 24, 24}, rng);
  const Outcome want = run(*parts.engine, x);
  // Another context's bindings serve as the caller's memory (device memory on CUDA).
  auto holder = parts.engine->createExecutionContext().value();
  auto ctx = parts.engine->createExecutionContext().value();
  ASSERT_TRUE(holder->setInput("x", x.data(), x.bytes()).ok());
  ASSERT_TRUE(ctx->execute().ok());  // a first run on its own buffers (and captured graph)
  ASSERT_TRUE(ctx->execute().ok());
  ASSERT_TRUE(ctx->setTensorAddress("x", holder->tensorData("x")).ok());
  ASSERT_TRUE(ctx->setTensorAddress("y", holder->tensorData("y")).ok());
  ASSERT_TRUE(ctx->execute().ok());
  ASSERT_TRUE(ctx->execute().ok());
  HostTensor y = HostTensor::create(DataType::kFloat32, want.y.dims()).value();
  ASSERT_TRUE(holder->getOutput("y", y.mutableData(), y.bytes()).ok());
  EXPECT_EQ(compareTensors(y, want.y, 0, 0), "");
}

TEST_F(BatchSplit, Fp16PartsMatchTheWholeBatch) {
  if (testBackend() != Backend::kCuda) GTEST_SKIP() << "fp16 engines run on the CUDA backend";
  std::mt19937 rng(std::random_device{}());
  const std::string path = chainModel(64, rng);
  const HostTensor x = randomTensor(DataType::kFloat32, {64, 4, 24, 24}, rng);
  const Built whole = build(path, "fp16", 0);
  const Built parts = build(path, "fp16", 16);
  ASSERT_TRUE(whole.engine && parts.engine);
  EXPECT_EQ(parts.report.split_chains, 1u);
  const Outcome a = run(*whole.engine, x), b = run(*parts.engine, x);
  EXPECT_LT(relativeL2(b.y, a.y), 1e-2);
  EXPECT_LT(b.activation_bytes, a.activation_bytes);
  std::printf("fp16 batch 64, parts of 16: activations %zu -> %zu bytes, rel L2 %.3g\n",
              a.activation_bytes, b.activation_bytes, relativeL2(b.y, a.y));
}

TEST_F(BatchSplit, SplitAndConcatAlongChannelsAtBatchOne) {
  // At batch 1 in NCHW the channel axis is outermost: Split gives views and Concat is
  // produced in place on the CUDA backend (float32 engines). Checked against the CPU.
  std::mt19937 rng(std::random_device{}());
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 8, 16, 16});
  g.constant("w0", randomTensor(DataType::kFloat32, {16, 8, 3, 3}, rng, -0.3f, 0.3f));
  g.node("Conv", {"x", "w0"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  g.constant("sizes", ints1d({8, 8}));
  g.node("Split", {"a", "sizes"}, {"s0", "s1"}, {attrInt("axis", 1)});
  g.constant("w1", randomTensor(DataType::kFloat32, {8, 8, 3, 3}, rng, -0.3f, 0.3f));
  g.node("Conv", {"s1", "w1"}, {"c1"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Sigmoid", {"s0"}, {"g0"});
  g.node("Concat", {"s0", "c1", "g0"}, {"cat"}, {attrInt("axis", 1)});
  g.constant("w2", randomTensor(DataType::kFloat32, {4, 24, 1, 1}, rng, -0.3f, 0.3f));
  g.node("Conv", {"cat", "w2"}, {"y"});
  g.output("y");
  const std::string path = g.save("split_concat_channels");
  const HostTensor x = randomTensor(DataType::kFloat32, {1, 8, 16, 16}, rng);
  const Built e = build(path, "fp32", 0);
  ASSERT_TRUE(e.engine);
  const Outcome got = run(*e.engine, x);
  BuildOptions opt;  // the CPU reference
  auto ref_bytes = buildEngine(path, opt);
  ASSERT_TRUE(ref_bytes.ok()) << ref_bytes.status().toString();
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto ref = Runtime::create(ro).value()->deserializeEngine(ref_bytes->data(), ref_bytes->size());
  ASSERT_TRUE(ref.ok()) << ref.status().toString();
  EXPECT_EQ(compareTensors(got.y, run(*ref.value(), x).y, 1e-4, 1e-5), "");
}

}  // namespace
