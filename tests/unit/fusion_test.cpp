// Elementwise chain fusion: graphs of elementwise ops built with fusion and without, run
// on the test backend (the CUDA kernel under the `gpu` label, the CPU interpreter here),
// must agree; the chains that should fuse do (one EdgertElementwise layer), and tensors
// that other layers or outputs need are never swallowed.
#include <gtest/gtest.h>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

class Fusion : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

HostTensor scalarConst(float v) {
  HostTensor t = std::move(HostTensor::create(DataType::kFloat32, {}).value());
  t.mutableAs<float>()[0] = v;
  return t;
}

struct Built {
  std::vector<uint8_t> fused, plain;
  int fused_layers = 0;
  size_t layers_fused = 0, layers_plain = 0;
};

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

Built build(OnnxGraph& g) {
  const std::string path = g.save("fusion");
  Built b;
  BuildOptions opt;
  opt.target = testTarget();
  BuildReport r1, r2;
  b.fused = buildEngine(path, opt, &r1).value();
  opt.fuse_elementwise = false;
  b.plain = buildEngine(path, opt, &r2).value();
  b.layers_fused = r1.layers;
  b.layers_plain = r2.layers;
  RuntimeOptions ro;
  ro.backend = Backend::kCpu;
  auto rt = Runtime::create(ro).value();
  BuildOptions cpu;
  const auto bytes = buildEngine(path, cpu).value();
  b.fused_layers = count(rt->deserializeEngine(bytes.data(), bytes.size()).value()->describe(),
                         "EdgertElementwise");
  return b;
}

void expectSame(const Built& b, const std::map<std::string, const HostTensor*>& feeds,
                const std::vector<std::string>& outs) {
  auto f = runEngineBytes(b.fused, feeds);
  auto p = runEngineBytes(b.plain, feeds);
  ASSERT_TRUE(f.ok() && p.ok()) << f.status().toString() << p.status().toString();
  for (const auto& o : outs) {
    const std::string d = compareTensors(f->at(o), p->at(o), 1e-5, 1e-6);
    EXPECT_TRUE(d.empty()) << o << ": " << d;
  }
}

TEST_F(Fusion, HardSwishSpelledOut) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2, 7, 5, 9});
  g.constant("three", scalarConst(3)).constant("zero", scalarConst(0));
  g.constant("six", scalarConst(6));
  g.node("Relu", {"x"}, {"r"});  // a producer, so x is not just the graph input
  g.node("Add", {"r", "three"}, {"a"});
  g.node("Clip", {"a", "zero", "six"}, {"c"});
  g.node("Div", {"c", "six"}, {"d"});
  g.node("Mul", {"r", "d"}, {"y"});
  g.output("y");
  const Built b = build(g);
  EXPECT_EQ(b.fused_layers, 1);
  EXPECT_LT(b.layers_fused, b.layers_plain);
  HostTensor x = randomTensor(DataType::kFloat32, {2, 7, 5, 9}, r, -8, 8);
  expectSame(b, {{"x", &x}}, {"y"});
}

TEST_F(Fusion, BroadcastOperandsAndADag) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {1, 6, 4, 10});
  g.input("s", DataType::kFloat32, {1, 6, 1, 1});  // per channel (an SE gate)
  g.input("k", DataType::kFloat32, {1});           // one value
  g.constant("bias", randomTensor(DataType::kFloat32, {6, 1, 1}, r));
  g.constant("half", scalarConst(0.5f));
  g.node("Mul", {"x", "s"}, {"m"});
  g.node("Add", {"m", "bias"}, {"b"});
  g.node("Tanh", {"b"}, {"t"});
  g.node("Neg", {"t"}, {"n"});
  g.node("Exp", {"n"}, {"e"});
  g.node("Add", {"t", "e"}, {"u"});  // t read twice inside the chain
  g.node("Max", {"u", "k"}, {"mx"});
  g.node("LeakyRelu", {"mx"}, {"l"}, {attrFloat("alpha", 0.2f)});
  g.node("Pow", {"l", "half"}, {"p"});
  g.node("Sigmoid", {"p"}, {"y"});
  g.output("y");
  const Built b = build(g);
  EXPECT_EQ(b.fused_layers, 1);
  HostTensor x = randomTensor(DataType::kFloat32, {1, 6, 4, 10}, r, -3, 3);
  HostTensor s = randomTensor(DataType::kFloat32, {1, 6, 1, 1}, r);
  HostTensor k = randomTensor(DataType::kFloat32, {1}, r, 0.1f, 0.5f);
  expectSame(b, {{"x", &x}, {"s", &s}, {"k", &k}}, {"y"});
}

TEST_F(Fusion, TensorsOthersNeedStayVisible) {
  std::mt19937 r(std::random_device{}());
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {3, 11});
  g.node("Relu", {"x"}, {"t"});
  g.node("Sigmoid", {"t"}, {"y1"});
  g.node("Tanh", {"t"}, {"y2"});
  g.node("Abs", {"x"}, {"a"});
  g.node("Sqrt", {"a"}, {"y3"});
  g.node("Softmax", {"a"}, {"y4"});  // 'a' also feeds a non-elementwise layer
  g.output("y1").output("y2").output("y3").output("y4");
  const Built b = build(g);
  // {Relu, Sigmoid, Tanh} would have two outputs and {Abs, Sqrt} loses 'a': neither fuses.
  EXPECT_EQ(b.fused_layers, 0);
  HostTensor x = randomTensor(DataType::kFloat32, {3, 11}, r);
  expectSame(b, {{"x", &x}}, {"y1", "y2", "y3", "y4"});
}

TEST_F(Fusion, OnnxModelsCannotUseTheInternalOp) {
  // An ONNX model may not use the internal op; the importer lists it as unsupported.
  OnnxGraph g(13);
  g.input("x", DataType::kFloat32, {2});
  g.node("EdgertElementwise", {"x"}, {"y"}, {attrInts("code", {0, 1, 100, -1})});
  g.output("y");
  auto e = buildEngine(g.save("internal"), BuildOptions{});
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("EdgertElementwise"), std::string::npos)
      << e.status().message();
}

}  // namespace
