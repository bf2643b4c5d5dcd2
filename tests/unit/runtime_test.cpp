// Runtime behaviour on the test backend (CPU, or CUDA with EDGERT_TEST_BACKEND=cuda):
// several execution contexts of one engine running concurrently in threads, repeated
// executions, and caller-bound output memory.
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "edgert/internal/backends.h"
#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

class Runtime_ : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

// The engine of `g` for the test target.
std::vector<uint8_t> buildForTest(OnnxGraph& g, const std::string& name) {
  BuildOptions opt;
  opt.target = testTarget();
  auto e = buildEngine(g.save(name), opt);
  EXPECT_TRUE(e.ok()) << e.status().toString();
  return e.ok() ? e.value() : std::vector<uint8_t>{};
}

// A context of that engine on `backend` (it keeps its engine alive).
std::unique_ptr<ExecutionContext> contextOn(const std::vector<uint8_t>& bytes,
                                            Backend backend = testBackend()) {
  RuntimeOptions ro;
  ro.backend = backend;
  auto rt = Runtime::create(ro).value();
  return rt->deserializeEngine(bytes.data(), bytes.size())
      .value()
      ->createExecutionContext()
      .value();
}

std::vector<uint8_t> smallNet(std::mt19937& r) {
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {2, 3, 16, 16});
  g.constant("w1", randomTensor(DataType::kFloat32, {8, 3, 3, 3}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {10, 8}, r)).output("y");
  g.node("Conv", {"x", "w1"}, {"c"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Relu", {"c"}, {"r"});
  g.node("GlobalAveragePool", {"r"}, {"p"});
  g.node("Flatten", {"p"}, {"f"});
  g.node("Gemm", {"f", "w2"}, {"g"}, {attrInt("transB", 1)});
  g.node("Softmax", {"g"}, {"y"}, {attrInt("axis", 1)});
  return buildForTest(g, "small");
}

// The input must survive a run: the output (same size, written after the input's last
// reader) may not take its memory.
TEST_F(Runtime_, ExecutingAgainOnTheSameInputGivesTheSameOutput) {
  std::mt19937 r(5);
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 4, 8, 8});
  g.constant("w1", randomTensor(DataType::kFloat32, {4, 4, 3, 3}, r));
  g.constant("w2", randomTensor(DataType::kFloat32, {4, 4, 1, 1}, r));
  g.node("Conv", {"x", "w1"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"a", "w2"}, {"y"});
  g.output("y");
  auto ctx = contextOn(buildForTest(g, "again"));
  const HostTensor x = randomTensor(DataType::kFloat32, {1, 4, 8, 8}, r);
  ASSERT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  std::vector<HostTensor> ys;
  for (int run = 0; run < 3; ++run) {  // eager, graph capture, graph replay on CUDA
    ASSERT_TRUE(ctx->execute().ok());
    ys.push_back(HostTensor::create(DataType::kFloat32, {1, 4, 8, 8}).value());
    ASSERT_TRUE(ctx->getOutput("y", ys.back().mutableData(), ys.back().bytes()).ok());
  }
  EXPECT_EQ(compareTensors(ys[1], ys[0], 0, 0), "");
  EXPECT_EQ(compareTensors(ys[2], ys[0], 0, 0), "");
}

// Reshape and its kin are views: the output takes the bytes of an input that dies there,
// so the arena holds x, the Relu's output (reshaped in place) and y: three tensors, not four.
TEST_F(Runtime_, ReshapeIsAViewInTheMemoryPlan) {
  std::mt19937 r(6);
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {1, 8, 16, 16});
  HostTensor shape = HostTensor::create(DataType::kInt64, {2}).value();
  shape.mutableAs<int64_t>()[0] = 1;
  shape.mutableAs<int64_t>()[1] = 2048;
  g.constant("shape", shape);
  g.node("Relu", {"x"}, {"a"});
  g.node("Reshape", {"a", "shape"}, {"f"});
  g.node("Sigmoid", {"f"}, {"y"});
  g.output("y");
  auto ctx = contextOn(buildForTest(g, "view"));
  EXPECT_EQ(ctx->memoryUse().activations, 3u * 8192u);
  const HostTensor x = randomTensor(DataType::kFloat32, {1, 8, 16, 16}, r);
  ASSERT_TRUE(ctx->setInput("x", x.data(), x.bytes()).ok());
  for (int run = 0; run < 2; ++run) {  // eager, then the captured graph on CUDA
    ASSERT_TRUE(ctx->execute().ok());
    HostTensor y = HostTensor::create(DataType::kFloat32, {1, 2048}).value();
    ASSERT_TRUE(ctx->getOutput("y", y.mutableData(), y.bytes()).ok());
    for (int64_t i = 0; i < 2048; ++i) {
      const float v = std::max(x.as<float>()[i], 0.f);
      ASSERT_NEAR(y.as<float>()[i], 1.f / (1.f + std::exp(-v)), 1e-6) << i;
    }
  }
}

// Concat with nothing outer to its axis: the two convolutions write straight into their
// slices of the concatenation (CPU memory plan), which the pool then reads. At batch 2 the
// slices are not contiguous and the copies stay. Checked against the convolutions' own
// outputs from a model that returns them.
TEST_F(Runtime_, ConcatInputsAreComputedInPlace) {
  for (int64_t n : {1, 2}) {
    std::mt19937 r(7);
    const HostTensor w0 = randomTensor(DataType::kFloat32, {4, 3, 3, 3}, r);
    const HostTensor w1 = randomTensor(DataType::kFloat32, {4, 3, 1, 1}, r);
    auto model = [&](bool concat) {
      OnnxGraph g;
      g.input("x", DataType::kFloat32, {n, 3, 8, 8});
      g.constant("w0", w0);
      g.constant("w1", w1);
      g.node("Conv", {"x", "w0"}, {"a"}, {attrInts("pads", {1, 1, 1, 1})});
      g.node("Conv", {"x", "w1"}, {"b"});
      if (concat) {
        g.node("Concat", {"a", "b"}, {"c"}, {attrInt("axis", 1)});
        g.node("GlobalAveragePool", {"c"}, {"y"});
        g.output("y");
      } else {
        g.output("a");
        g.output("b");
      }
      return buildForTest(g, concat ? "concat_in_place" : "concat_parts");
    };
    const HostTensor x = randomTensor(DataType::kFloat32, {n, 3, 8, 8}, r);
    auto got = runEngineBytes(model(true), {{"x", &x}});
    auto parts = runEngineBytes(model(false), {{"x", &x}});
    ASSERT_TRUE(got.ok() && parts.ok()) << got.status().toString() << parts.status().toString();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < 8; ++ch) {
        const HostTensor& src = parts->at(ch < 4 ? "a" : "b");
        double sum = 0;
        for (int64_t p = 0; p < 64; ++p) sum += src.as<float>()[(b * 4 + ch % 4) * 64 + p];
        EXPECT_NEAR(got->at("y").as<float>()[b * 8 + ch], sum / 64, 1e-5) << n << " " << ch;
      }
    if (testBackend() == Backend::kCpu && n == 1) {
      // x (768 bytes), the concatenation holding both convolutions (2048), y (64).
      EXPECT_EQ(contextOn(model(true), Backend::kCpu)->memoryUse().activations, 768u + 2048u + 64u);
    }
  }
}

TEST_F(Runtime_, ConcurrentContextsOnOneEngineAgree) {
  std::mt19937 r(11);
  const auto bytes = smallNet(r);
  RuntimeOptions ro;
  ro.backend = testBackend();
  auto rt = Runtime::create(ro).value();
  auto engine = rt->deserializeEngine(bytes.data(), bytes.size()).value();
  constexpr int kThreads = 4, kRuns = 25;
  std::vector<HostTensor> inputs, expected;
  for (int t = 0; t < kThreads; ++t) {
    inputs.push_back(randomTensor(DataType::kFloat32, {2, 3, 16, 16}, r));
    auto ctx = engine->createExecutionContext().value();
    ASSERT_TRUE(ctx->setInput("x", inputs[t].data(), inputs[t].bytes()).ok());
    ASSERT_TRUE(ctx->execute().ok());
    HostTensor y = std::move(HostTensor::create(DataType::kFloat32, {2, 10}).value());
    ASSERT_TRUE(ctx->getOutput("y", y.mutableData(), y.bytes()).ok());
    expected.push_back(std::move(y));
  }
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = engine->createExecutionContext();
      if (!ctx.ok()) {
        errors[t] = ctx.status().toString();
        return;
      }
      HostTensor y = std::move(HostTensor::create(DataType::kFloat32, {2, 10}).value());
      for (int i = 0; i < kRuns && errors[t].empty(); ++i) {
        Status st = ctx.value()->setInput("x", inputs[t].data(), inputs[t].bytes());
        if (st.ok()) st = ctx.value()->execute();
        if (st.ok()) st = ctx.value()->getOutput("y", y.mutableData(), y.bytes());
        if (!st.ok())
          errors[t] = st.toString();
        else
          errors[t] = compareTensors(y, expected[t], 0, 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(errors[t], "") << "thread " << t;
}

TEST_F(Runtime_, WrongSizedBuffersAreRejected) {
  std::mt19937 r(12);
  auto ctx = contextOn(smallNet(r));
  std::vector<float> small(5);
  Status st = ctx->setInput("x", small.data(), small.size() * 4);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("input 'x': 20 bytes given, the engine expects 6144"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(ctx->getOutput("nope", small.data(), 20).code(), StatusCode::kNotFound);
}

// An engine whose activations cannot fit (512 GiB) fails at context creation with a clear
// out-of-memory error, on the CPU and on the GPU, and the process carries on.
TEST_F(Runtime_, OutOfMemoryAtContextCreationIsAClearError) {
  std::mt19937 r(13);
  OnnxGraph g;
  g.input("x", DataType::kFloat32, {16384, 8, 1024, 1024}).output("y");
  g.node("Relu", {"x"}, {"y"});
  BuildOptions opt;
  opt.target = testTarget();
  auto bytes = buildEngine(g.save("huge"), opt);
  ASSERT_TRUE(bytes.ok()) << bytes.status().toString();
  RuntimeOptions ro;
  ro.backend = testBackend();
  auto rt = Runtime::create(ro).value();
  auto engine = rt->deserializeEngine(bytes->data(), bytes->size()).value();
  auto ctx = engine->createExecutionContext();
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), StatusCode::kOutOfMemory) << ctx.status().toString();
  EXPECT_NE(ctx.status().message().find("activation arena"), std::string::npos)
      << ctx.status().message();
  // A normal engine still works afterwards.
  const auto small = smallNet(r);
  auto e2 = rt->deserializeEngine(small.data(), small.size()).value();
  auto c2 = e2->createExecutionContext();
  ASSERT_TRUE(c2.ok()) << c2.status().toString();
  EXPECT_TRUE(c2.value()->execute().ok());
}

// Contexts created and destroyed many times give every byte back: device memory returns
// to its level after the first context (the engine's weights stay while the engine lives).
TEST_F(Runtime_, ContextChurnReturnsDeviceMemory) {
  if (testBackend() != Backend::kCuda) GTEST_SKIP() << "device memory is a CUDA-backend matter";
  std::mt19937 r(17);
  const auto bytes = smallNet(r);
  RuntimeOptions ro;
  ro.backend = Backend::kCuda;
  auto rt = Runtime::create(ro).value();
  auto engine = rt->deserializeEngine(bytes.data(), bytes.size()).value();
  {
    auto warm = engine->createExecutionContext().value();
    ASSERT_TRUE(warm->execute().ok());
    ASSERT_TRUE(warm->execute().ok());  // the CUDA graph is captured on the second run
  }
  const size_t baseline = cudaFreeDeviceMemory();
  ASSERT_GT(baseline, 0u);
  for (int i = 0; i < 50; ++i) {
    auto ctx = engine->createExecutionContext();
    ASSERT_TRUE(ctx.ok()) << ctx.status().toString();
    ASSERT_TRUE(ctx.value()->execute().ok());
    ASSERT_TRUE(ctx.value()->execute().ok());
  }
  const size_t after = cudaFreeDeviceMemory();
  // The driver allocates in 2 MiB pages: allow one page of noise, not 50 contexts' worth.
  EXPECT_GE(after + (size_t{2} << 20), baseline)
      << "device memory fell from " << baseline << " to " << after << " bytes free";
  std::printf("context churn: %zu bytes free before 50 contexts, %zu after\n", baseline, after);
}

}  // namespace
