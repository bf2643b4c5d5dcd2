// Builder graph passes that change the graph's structure but not its function: the pass
// must remove what it claims (layer counts) and the engine must compute what the model says
// (against a model spelled without the redundancy, on the test backend).
#include <gtest/gtest.h>

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
