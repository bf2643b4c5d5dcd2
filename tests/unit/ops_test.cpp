// Op tests with fresh random inputs (seed printed; EDGERT_TEST_SEED reproduces a run)
// against independent naive references, through the real importer, builder and CPU
// runtime. Shapes are deliberately awkward: 1, 7, 13, odd channels, groups.
#include <gtest/gtest.h>

#include <cstring>

#include <cmath>
#include <functional>
#include <numeric>

#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

std::mt19937& rng() {
  return seededRng("ops_test");
}

int rnd(int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng());
}

// Every test skips cleanly when the selected backend (EDGERT_TEST_BACKEND) is not here.
class Ops : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
  }
};

// Builds the graph (inputs named in `feeds`) and returns output "y".
HostTensor runGraph(OnnxGraph& g, const std::map<std::string, const HostTensor*>& feeds,
                    const std::string& out = "y") {
  const std::string path = g.save("op");
  BuildOptions opt;
  opt.target = testTarget();
  for (auto& [k, v] : feeds) opt.shapes[k] = v->dims();
  auto engine = buildEngine(path, opt);
  EXPECT_TRUE(engine.ok()) << engine.status().toString();
  if (!engine.ok()) return {};
  auto outs = runEngineBytes(engine.value(), feeds);
  EXPECT_TRUE(outs.ok()) << outs.status().toString();
  if (!outs.ok()) return {};
  return std::move(outs->at(out));
}

void expectClose(const HostTensor& got, const HostTensor& want, double rtol = 1e-4,
                 double atol = 1e-5) {
  const std::string d = compareTensors(got, want, rtol, atol);
  EXPECT_TRUE(d.empty()) << d;
}

HostTensor zeros(const Dims& d) {
  return std::move(HostTensor::create(DataType::kFloat32, d).value());
}

// ---- Conv -------------------------------------------------------------------------------

HostTensor naiveConv(const HostTensor& x, const HostTensor& w, const HostTensor* b, int groups,
                     Dims stride, Dims dil, Dims pads) {
  const Dims& xd = x.dims();
  const Dims& wd = w.dims();
  const int64_t N = xd[0], C = xd[1], H = xd[2], W = xd[3], M = wd[0], KH = wd[2], KW = wd[3];
  const int64_t OH = (H + pads[0] + pads[2] - dil[0] * (KH - 1) - 1) / stride[0] + 1;
  const int64_t OW = (W + pads[1] + pads[3] - dil[1] * (KW - 1) - 1) / stride[1] + 1;
  HostTensor y = zeros({N, M, OH, OW});
  const int64_t cg = C / groups, mg = M / groups;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double acc = b ? b->as<float>()[m] : 0.0;
          const int64_t g = m / mg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * stride[0] - pads[0] + kh * dil[0];
                const int64_t iw = ow * stride[1] - pads[1] + kw * dil[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc +=
                    static_cast<double>(x.as<float>()[((n * C + g * cg + c) * H + ih) * W + iw]) *
                    w.as<float>()[((m * cg + c) * KH + kh) * KW + kw];
              }
          y.mutableAs<float>()[((n * M + m) * OH + oh) * OW + ow] = static_cast<float>(acc);
        }
  return y;
}

TEST_F(Ops, ConvRandomGeometries) {
  for (int iter = 0; iter < 12; ++iter) {
    const int groups = iter % 4 == 3 ? rnd(2, 3) : (iter % 4 == 2 ? -1 : 1);  // -1: depthwise
    const int64_t C = groups == -1 ? rnd(1, 13) : groups * rnd(1, 5);
    const int g = groups == -1 ? static_cast<int>(C) : groups;
    const int64_t M = groups == -1 ? C : g * rnd(1, 4);
    const int64_t KH = rnd(1, 3) * 2 - 1, KW = rnd(1, 5);
    const Dims stride = {rnd(1, 2), rnd(1, 3)}, dil = {rnd(1, 2), rnd(1, 2)};
    const Dims pads = {rnd(0, 2), rnd(0, 1), rnd(0, 2), rnd(0, 2)};
    const int64_t H = rnd(static_cast<int>(dil[0] * (KH - 1) + 1), 13),
                  W = rnd(static_cast<int>(dil[1] * (KW - 1) + 1), 17);
    const Dims xd = {rnd(1, 2), C, H, W};
    HostTensor x = randomTensor(DataType::kFloat32, xd, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {M, C / g, KH, KW}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {M}, rng());
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, xd).constant("w", w).constant("b", b).output("y");
    gr.node("Conv", {"x", "w", "b"}, {"y"},
            {attrInt("group", g), attrInts("strides", stride), attrInts("dilations", dil),
             attrInts("pads", pads)});
    SCOPED_TRACE(::testing::Message()
                 << "x " << dimsToString(xd) << " w " << dimsToString(w.dims()) << " group " << g);
    expectClose(runGraph(gr, {{"x", &x}}), naiveConv(x, w, &b, g, stride, dil, pads));
  }
}

TEST_F(Ops, ConvAutoPadSameUpper) {
  HostTensor x = randomTensor(DataType::kFloat32, {1, 3, 7, 8}, rng());
  HostTensor w = randomTensor(DataType::kFloat32, {5, 3, 3, 3}, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims()).constant("w", w).output("y");
  gr.node("Conv", {"x", "w"}, {"y"},
          {attrString("auto_pad", "SAME_UPPER"), attrInts("strides", {2, 2})});
  // out = ceil(7/2)=4, ceil(8/2)=4; total pad h = (4-1)*2+3-7 = 2 -> 1,1; w = 1 -> 0,1
  expectClose(runGraph(gr, {{"x", &x}}), naiveConv(x, w, nullptr, 1, {2, 2}, {1, 1}, {1, 0, 1, 1}));
}

// Shapes past one register tile, one depth block and one column block of the packed GEMM
// (cpu/conv_gemm.cpp: 12 x 32 tiles, depth blocks of <= 256, 1024-column blocks), both of its
// ways of splitting the work over threads, ragged edges everywhere, and its fused epilogue.
TEST_F(Ops, ConvAcrossGemmBlocks) {
  struct Case {
    Dims x;
    int64_t M, KH, KW, stride, pad;
    bool residual_relu;
  };
  const Case cases[] = {
      {{1, 70, 40, 33}, 27, 3, 3, 1, 1, true},    // K 630: 3 depth blocks; 1320 columns
      {{2, 300, 20, 61}, 40, 1, 1, 1, 0, false},  // pointwise, K 300, 1220 columns per image
      {{1, 260, 5, 5}, 100, 3, 3, 2, 1, true},    // 9 columns: channels split over threads
      {{1, 3, 67, 45}, 13, 3, 3, 2, 0, false},    // a stem: K 27, stride 2, no pad
      {{1, 33, 9, 200}, 25, 1, 5, 1, 2, false},   // wide rows, a 1 x 5 window
  };
  for (const Case& cs : cases) {
    const int64_t C = cs.x[1];
    const Dims pads = {cs.pad, cs.pad, cs.pad, cs.pad}, stride = {cs.stride, cs.stride};
    HostTensor x = randomTensor(DataType::kFloat32, cs.x, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {cs.M, C, cs.KH, cs.KW}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {cs.M}, rng());
    HostTensor want = naiveConv(x, w, &b, 1, stride, {1, 1}, pads);
    HostTensor r = randomTensor(DataType::kFloat32, want.dims(), rng());
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, cs.x).constant("w", w).constant("b", b).output("y");
    std::map<std::string, const HostTensor*> feeds = {{"x", &x}};
    const std::vector<onnx::AttributeProto> attrs = {attrInts("strides", stride),
                                                     attrInts("pads", pads)};
    if (cs.residual_relu) {
      gr.input("r", DataType::kFloat32, r.dims());
      gr.node("Conv", {"x", "w", "b"}, {"c"}, attrs).node("Add", {"c", "r"}, {"s"});
      gr.node("Relu", {"s"}, {"y"});
      feeds["r"] = &r;
      for (int64_t i = 0; i < want.numel(); ++i)
        want.mutableAs<float>()[i] = std::max(0.f, want.as<float>()[i] + r.as<float>()[i]);
    } else {
      gr.node("Conv", {"x", "w", "b"}, {"y"}, attrs);
    }
    SCOPED_TRACE(::testing::Message() << "x " << dimsToString(cs.x) << " w "
                                      << dimsToString(w.dims()) << " stride " << cs.stride);
    // float32 sums of K = C x kh x kw products drift from the double reference by ~sqrt(K)
    // rounding steps; outputs near zero (the residual cancelling) need that as absolute slack.
    const double k = static_cast<double>(C * cs.KH * cs.KW);
    expectClose(runGraph(gr, feeds), want, 1e-4, 1e-5 * std::sqrt(k));
  }
}

// Depthwise rows wide enough for cpu/depthwise.cpp's vector paths: 32-output blocks with a
// partial last one, and stride 2's 16-column deinterleave (its edges and its scalar tail).
TEST_F(Ops, DepthwiseWideRows) {
  struct Case {
    int64_t C, H, W, k, stride, pad;
  };
  for (const Case& cs : {Case{3, 9, 70, 3, 2, 1}, Case{2, 11, 67, 5, 2, 2}, Case{4, 6, 45, 3, 1, 1},
                         Case{2, 7, 7, 5, 1, 2}, Case{3, 8, 97, 3, 2, 0}}) {
    const Dims xd = {1, cs.C, cs.H, cs.W}, pads = {cs.pad, cs.pad, cs.pad, cs.pad};
    HostTensor x = randomTensor(DataType::kFloat32, xd, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {cs.C, 1, cs.k, cs.k}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {cs.C}, rng());
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, xd).constant("w", w).constant("b", b).output("y");
    gr.node("Conv", {"x", "w", "b"}, {"y"},
            {attrInt("group", cs.C), attrInts("strides", {cs.stride, cs.stride}),
             attrInts("pads", pads)});
    SCOPED_TRACE(::testing::Message()
                 << "x " << dimsToString(xd) << " k " << cs.k << " stride " << cs.stride);
    expectClose(runGraph(gr, {{"x", &x}}),
                naiveConv(x, w, &b, static_cast<int>(cs.C), {cs.stride, cs.stride}, {1, 1}, pads));
  }
}

// ---- Gemm / MatMul ------------------------------------------------------------------------

TEST_F(Ops, MatMulBroadcastBatches) {
  for (int iter = 0; iter < 6; ++iter) {
    const int64_t M = rnd(1, 13), K = rnd(1, 17), N = rnd(1, 11), B1 = rnd(1, 3), B2 = rnd(1, 2);
    const Dims ad = {B1, 1, M, K}, bd = {1, B2, K, N};
    HostTensor a = randomTensor(DataType::kFloat32, ad, rng());
    HostTensor b = randomTensor(DataType::kFloat32, bd, rng());
    OnnxGraph gr;
    gr.input("a", DataType::kFloat32, ad).input("b", DataType::kFloat32, bd).output("y");
    gr.node("MatMul", {"a", "b"}, {"y"});
    HostTensor want = zeros({B1, B2, M, N});
    for (int64_t i = 0; i < B1; ++i)
      for (int64_t j = 0; j < B2; ++j)
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            double acc = 0;
            for (int64_t k = 0; k < K; ++k)
              acc += static_cast<double>(a.as<float>()[(i * M + m) * K + k]) *
                     b.as<float>()[(j * K + k) * N + n];
            want.mutableAs<float>()[((i * B2 + j) * M + m) * N + n] = static_cast<float>(acc);
          }
    expectClose(runGraph(gr, {{"a", &a}, {"b", &b}}), want);
  }
}

TEST_F(Ops, GemmTransposesAlphaBetaBias) {
  const int64_t M = 7, K = 13, N = 5;
  HostTensor a = randomTensor(DataType::kFloat32, {K, M}, rng());  // transA
  HostTensor b = randomTensor(DataType::kFloat32, {N, K}, rng());  // transB
  HostTensor c = randomTensor(DataType::kFloat32, {1, N}, rng());
  OnnxGraph gr;
  gr.input("a", DataType::kFloat32, a.dims()).constant("b", b).constant("c", c).output("y");
  gr.node("Gemm", {"a", "b", "c"}, {"y"},
          {attrInt("transA", 1), attrInt("transB", 1), attrFloat("alpha", 0.5f),
           attrFloat("beta", 2.f)});
  HostTensor want = zeros({M, N});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += static_cast<double>(a.as<float>()[k * M + m]) * b.as<float>()[n * K + k];
      want.mutableAs<float>()[m * N + n] = static_cast<float>(0.5 * acc + 2.0 * c.as<float>()[n]);
    }
  expectClose(runGraph(gr, {{"a", &a}}), want);
}

// ---- Elementwise ---------------------------------------------------------------------------

TEST_F(Ops, BinaryBroadcastAwkwardShapes) {
  const std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
      {"Add", [](float a, float b) { return a + b; }},
      {"Sub", [](float a, float b) { return a - b; }},
      {"Mul", [](float a, float b) { return a * b; }},
      {"Div", [](float a, float b) { return a / b; }},
      {"Max", [](float a, float b) { return std::max(a, b); }},
      {"Min", [](float a, float b) { return std::min(a, b); }}};
  for (const auto& [op, f] : ops) {
    const Dims ad = {7, 1, 13}, bd = {5, 1};
    HostTensor a = randomTensor(DataType::kFloat32, ad, rng());
    HostTensor b = randomTensor(DataType::kFloat32, bd, rng(), 0.5f, 2.f);
    OnnxGraph gr;
    gr.input("a", DataType::kFloat32, ad).input("b", DataType::kFloat32, bd).output("y");
    gr.node(op, {"a", "b"}, {"y"});
    HostTensor want = zeros({7, 5, 13});
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 5; ++j)
        for (int64_t k = 0; k < 13; ++k)
          want.mutableAs<float>()[(i * 5 + j) * 13 + k] =
              f(a.as<float>()[i * 13 + k], b.as<float>()[j]);
    SCOPED_TRACE(op);
    expectClose(runGraph(gr, {{"a", &a}, {"b", &b}}), want, 1e-6, 1e-6);
  }
}

// The shapes the GPU runs four elements per thread: same shape, and one operand per row
// ([N,C,H,W] with [N,C,1,1], either side: the order matters for Sub and Div).
TEST_F(Ops, BinaryPerRowAndSameShape) {
  const std::vector<std::pair<std::string, std::function<float(float, float)>>> ops = {
      {"Sub", [](float a, float b) { return a - b; }},
      {"Div", [](float a, float b) { return a / b; }},
      {"Mul", [](float a, float b) { return a * b; }}};
  const Dims full = {2, 3, 4, 6}, row = {2, 3, 1, 1};
  const std::pair<Dims, Dims> shapes[] = {{full, row}, {row, full}, {full, full}};
  for (const auto& [op, f] : ops)
    for (const auto& [ad, bd] : shapes) {
      HostTensor a = randomTensor(DataType::kFloat32, ad, rng(), 0.5f, 2.f);
      HostTensor b = randomTensor(DataType::kFloat32, bd, rng(), 0.5f, 2.f);
      OnnxGraph gr;
      gr.input("a", DataType::kFloat32, ad).input("b", DataType::kFloat32, bd).output("y");
      gr.node(op, {"a", "b"}, {"y"});
      HostTensor want = zeros(full);
      for (int64_t i = 0; i < 2 * 3 * 4 * 6; ++i) {
        const int64_t r = i / 24;
        want.mutableAs<float>()[i] =
            f(a.as<float>()[ad == full ? i : r], b.as<float>()[bd == full ? i : r]);
      }
      SCOPED_TRACE(op);
      expectClose(runGraph(gr, {{"a", &a}, {"b", &b}}), want, 1e-6, 1e-6);
    }
}

TEST_F(Ops, UnaryActivations) {
  const std::vector<std::pair<std::string, std::function<double(double)>>> ops = {
      {"Relu", [](double x) { return std::max(0.0, x); }},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Tanh", [](double x) { return std::tanh(x); }},
      {"HardSigmoid", [](double x) { return std::clamp(0.2 * x + 0.5, 0.0, 1.0); }},
      {"HardSwish", [](double x) { return x * std::clamp(x / 6 + 0.5, 0.0, 1.0); }},
      {"LeakyRelu", [](double x) { return x >= 0 ? x : 0.01 * x; }},
      {"Elu", [](double x) { return x >= 0 ? x : std::exp(x) - 1; }},
      {"Softplus", [](double x) { return std::log1p(std::exp(x)); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Exp", [](double x) { return std::exp(x); }},
      {"Abs", [](double x) { return std::abs(x); }},
      {"Neg", [](double x) { return -x; }},
      {"Gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }}};
  for (const auto& [op, f] : ops) {
    HostTensor x = randomTensor(DataType::kFloat32, {3, rnd(1, 127)}, rng(), -4.f, 4.f);
    OnnxGraph gr(op == "Gelu" ? 20 : 17);
    gr.input("x", DataType::kFloat32, x.dims()).output("y");
    gr.node(op, {"x"}, {"y"});
    HostTensor want = zeros(x.dims());
    for (int64_t i = 0; i < x.numel(); ++i)
      want.mutableAs<float>()[i] = static_cast<float>(f(x.as<float>()[i]));
    SCOPED_TRACE(op);
    expectClose(runGraph(gr, {{"x", &x}}), want, 1e-5, 1e-6);
  }
}

// ---- Pooling / softmax / resize -------------------------------------------------------------

TEST_F(Ops, MaxAndAveragePoolWithPadsAndCeil) {
  for (int ceil = 0; ceil < 2; ++ceil)
    for (const std::string op : {"MaxPool", "AveragePool"}) {
      const int64_t H = rnd(5, 13), W = rnd(5, 13);
      HostTensor x = randomTensor(DataType::kFloat32, {1, 3, H, W}, rng());
      OnnxGraph gr;
      gr.input("x", DataType::kFloat32, x.dims()).output("y");
      gr.node(op, {"x"}, {"y"},
              {attrInts("kernel_shape", {3, 3}), attrInts("strides", {2, 2}),
               attrInts("pads", {1, 1, 1, 1}), attrInt("ceil_mode", ceil)});
      auto outDim = [&](int64_t n) {
        const int64_t span = n + 2 - 3;
        int64_t o = (ceil ? (span + 1) / 2 : span / 2) + 1;
        if (ceil && (o - 1) * 2 >= n + 1) --o;
        return o;
      };
      const int64_t OH = outDim(H), OW = outDim(W);
      HostTensor want = zeros({1, 3, OH, OW});
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double best = -1e30, sum = 0;
            int cnt = 0;
            for (int kh = 0; kh < 3; ++kh)
              for (int kw = 0; kw < 3; ++kw) {
                const int64_t ih = oh * 2 - 1 + kh, iw = ow * 2 - 1 + kw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const double v = x.as<float>()[(c * H + ih) * W + iw];
                best = std::max(best, v);
                sum += v;
                ++cnt;
              }
            want.mutableAs<float>()[(c * OH + oh) * OW + ow] =
                static_cast<float>(op == "MaxPool" ? best : sum / cnt);
          }
      SCOPED_TRACE(op + " ceil_mode=" + std::to_string(ceil));
      expectClose(runGraph(gr, {{"x", &x}}), want);
    }
}

TEST_F(Ops, SoftmaxOnEveryAxis) {
  const Dims d = {2, 7, 13};
  for (int axis = -3; axis < 3; ++axis) {
    HostTensor x = randomTensor(DataType::kFloat32, d, rng(), -5.f, 5.f);
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, d).output("y");
    gr.node("Softmax", {"x"}, {"y"}, {attrInt("axis", axis)});
    const int ax = axis < 0 ? axis + 3 : axis;
    HostTensor want = zeros(d);
    const int64_t outer = ax == 0 ? 1 : (ax == 1 ? 2 : 14), n = d[ax],
                  inner = ax == 0 ? 91 : (ax == 1 ? 13 : 1);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        double s = 0;
        for (int64_t k = 0; k < n; ++k)
          s += std::exp(static_cast<double>(x.as<float>()[(o * n + k) * inner + i]));
        for (int64_t k = 0; k < n; ++k)
          want.mutableAs<float>()[(o * n + k) * inner + i] = static_cast<float>(
              std::exp(static_cast<double>(x.as<float>()[(o * n + k) * inner + i])) / s);
      }
    SCOPED_TRACE(axis);
    expectClose(runGraph(gr, {{"x", &x}}), want, 1e-5, 1e-7);
  }
}

TEST_F(Ops, ResizeBilinearHalfPixelMatchesNaive) {
  const int64_t H = rnd(3, 9), W = rnd(3, 9), OH = rnd(2, 17), OW = rnd(2, 17);
  HostTensor x = randomTensor(DataType::kFloat32, {1, 2, H, W}, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims()).constant("sizes", ints1d({1, 2, OH, OW})).output("y");
  gr.node("Resize", {"x", "", "", "sizes"}, {"y"}, {attrString("mode", "linear")});
  HostTensor want = zeros({1, 2, OH, OW});
  auto src = [](int64_t o, int64_t in, int64_t out) {
    double s = (o + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5;
    return std::clamp(s, 0.0, static_cast<double>(in - 1));
  };
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const double sy = src(oh, H, OH), sx = src(ow, W, OW);
        const int64_t y0 = static_cast<int64_t>(sy), x0 = static_cast<int64_t>(sx);
        const int64_t y1 = std::min(y0 + 1, H - 1), x1 = std::min(x0 + 1, W - 1);
        const double fy = sy - y0, fx = sx - x0;
        auto at = [&](int64_t yy, int64_t xx) {
          return static_cast<double>(x.as<float>()[(c * H + yy) * W + xx]);
        };
        want.mutableAs<float>()[(c * OH + oh) * OW + ow] =
            static_cast<float>((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                               fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)));
      }
  expectClose(runGraph(gr, {{"x", &x}}), want, 1e-5, 1e-6);
}

// ---- Data movement ---------------------------------------------------------------------------

TEST_F(Ops, TransposeRandomPermutation) {
  const Dims d = {2, 3, 5, 7};
  std::vector<int64_t> perm = {0, 1, 2, 3};
  std::shuffle(perm.begin(), perm.end(), rng());
  HostTensor x = randomTensor(DataType::kFloat32, d, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, d).output("y");
  gr.node("Transpose", {"x"}, {"y"}, {attrInts("perm", perm)});
  Dims od;
  for (int64_t p : perm) od.push_back(d[p]);
  HostTensor want = zeros(od);
  int64_t idx[4];
  for (idx[0] = 0; idx[0] < d[0]; ++idx[0])
    for (idx[1] = 0; idx[1] < d[1]; ++idx[1])
      for (idx[2] = 0; idx[2] < d[2]; ++idx[2])
        for (idx[3] = 0; idx[3] < d[3]; ++idx[3]) {
          const int64_t src = ((idx[0] * d[1] + idx[1]) * d[2] + idx[2]) * d[3] + idx[3];
          const int64_t o0 = idx[perm[0]], o1 = idx[perm[1]], o2 = idx[perm[2]], o3 = idx[perm[3]];
          want.mutableAs<float>()[((o0 * od[1] + o1) * od[2] + o2) * od[3] + o3] =
              x.as<float>()[src];
        }
  expectClose(runGraph(gr, {{"x", &x}}), want, 0, 0);
}

// Batches of matrices bigger than the GPU's 32x32 transpose tile, edges included, in
// 4- and 8-byte elements (YOLOv8's [N,84,A] -> [N,A,84] output transpose is one).
TEST_F(Ops, TransposeBatchedMatricesAcrossTiles) {
  std::uniform_int_distribution<int64_t> dim(33, 90);
  const std::vector<int64_t> perms[] = {{0, 2, 1}, {2, 1, 0}, {1, 0, 2}, {1, 2, 0}};
  for (const auto& perm : perms)
    for (DataType dt : {DataType::kFloat32, DataType::kInt64}) {
      const Dims d = {std::uniform_int_distribution<int64_t>(1, 4)(rng()), dim(rng()), dim(rng())};
      HostTensor x = randomTensor(dt, d, rng());
      OnnxGraph gr;
      gr.input("x", dt, d).output("y");
      gr.node("Transpose", {"x"}, {"y"}, {attrInts("perm", perm)});
      const Dims od = {d[perm[0]], d[perm[1]], d[perm[2]]};
      HostTensor want = HostTensor::create(dt, od).value();
      const size_t es = dataTypeSize(dt);
      int64_t idx[3];
      for (idx[0] = 0; idx[0] < d[0]; ++idx[0])
        for (idx[1] = 0; idx[1] < d[1]; ++idx[1])
          for (idx[2] = 0; idx[2] < d[2]; ++idx[2]) {
            const int64_t src = (idx[0] * d[1] + idx[1]) * d[2] + idx[2];
            const int64_t dst = (idx[perm[0]] * od[1] + idx[perm[1]]) * od[2] + idx[perm[2]];
            std::memcpy(static_cast<uint8_t*>(want.mutableData()) + dst * es,
                        static_cast<const uint8_t*>(x.data()) + src * es, es);
          }
      expectClose(runGraph(gr, {{"x", &x}}), want, 0, 0);
    }
}

TEST_F(Ops, SliceNegativeStepAndClamping) {
  HostTensor x = randomTensor(DataType::kFloat32, {5, 13}, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims())
      .constant("s", ints1d({-1, 100}))
      .constant("e", ints1d({std::numeric_limits<int64_t>::min(), 2}))
      .constant("a", ints1d({0, 1}))
      .constant("st", ints1d({-2, -3}))
      .output("y");
  gr.node("Slice", {"x", "s", "e", "a", "st"}, {"y"});
  // rows 4,2,0 ; cols 12,9,6,3
  HostTensor want = zeros({3, 4});
  const int rows[] = {4, 2, 0}, cols[] = {12, 9, 6, 3};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      want.mutableAs<float>()[i * 4 + j] = x.as<float>()[rows[i] * 13 + cols[j]];
  expectClose(runGraph(gr, {{"x", &x}}), want, 0, 0);
}

TEST_F(Ops, ConcatThenSplitRoundTrips) {
  HostTensor a = randomTensor(DataType::kFloat32, {2, 3, 5}, rng());
  HostTensor b = randomTensor(DataType::kFloat32, {2, 7, 5}, rng());
  OnnxGraph gr;
  gr.input("a", DataType::kFloat32, a.dims())
      .input("b", DataType::kFloat32, b.dims())
      .constant("split", ints1d({3, 7}));
  gr.node("Concat", {"a", "b"}, {"c"}, {attrInt("axis", 1)});
  gr.node("Split", {"c", "split"}, {"y", "z"}, {attrInt("axis", -2)});
  gr.output("y").output("z");
  expectClose(runGraph(gr, {{"a", &a}, {"b", &b}}, "y"), a, 0, 0);
  expectClose(runGraph(gr, {{"a", &a}, {"b", &b}}, "z"), b, 0, 0);
}

TEST_F(Ops, PadReflectEdgeConstant) {
  HostTensor x = randomTensor(DataType::kFloat32, {1, 4, 5}, rng());
  for (const std::string mode : {"constant", "reflect", "edge"}) {
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, x.dims())
        .constant("pads", ints1d({0, 2, 1, 0, 1, 3}))
        .output("y");
    gr.node("Pad", {"x", "pads"}, {"y"}, {attrString("mode", mode)});
    HostTensor want = zeros({1, 7, 9});
    auto src = [&](int64_t o, int64_t n) -> int64_t {
      if (o >= 0 && o < n) return o;
      if (mode == "constant") return -1;
      if (mode == "edge") return o < 0 ? 0 : n - 1;
      return o < 0 ? -o : 2 * (n - 1) - o;
    };
    for (int64_t i = 0; i < 7; ++i)
      for (int64_t j = 0; j < 9; ++j) {
        const int64_t si = src(i - 2, 4), sj = src(j - 1, 5);
        want.mutableAs<float>()[i * 9 + j] = (si < 0 || sj < 0) ? 0.f : x.as<float>()[si * 5 + sj];
      }
    SCOPED_TRACE(mode);
    expectClose(runGraph(gr, {{"x", &x}}), want, 0, 0);
  }
}

TEST_F(Ops, ReduceMeanKeepdimsOverTwoAxes) {
  HostTensor x = randomTensor(DataType::kFloat32, {3, 7, 13}, rng());
  OnnxGraph gr(13);
  gr.input("x", DataType::kFloat32, x.dims()).output("y");
  gr.node("ReduceMean", {"x"}, {"y"}, {attrInts("axes", {0, -1}), attrInt("keepdims", 1)});
  HostTensor want = zeros({1, 7, 1});
  for (int64_t j = 0; j < 7; ++j) {
    double s = 0;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t k = 0; k < 13; ++k) s += x.as<float>()[(i * 7 + j) * 13 + k];
    want.mutableAs<float>()[j] = static_cast<float>(s / 39);
  }
  expectClose(runGraph(gr, {{"x", &x}}), want, 1e-5, 1e-6);
}

TEST_F(Ops, ShapeSubgraphFoldsIntoReshape) {
  // The PyTorch flatten pattern: Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
  HostTensor x = randomTensor(DataType::kFloat32, {2, 3, 4, 5}, rng());
  HostTensor idx = std::move(HostTensor::create(DataType::kInt64, {}).value());
  *idx.mutableAs<int64_t>() = 0;
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims())
      .constant("i0", idx)
      .constant("m1", ints1d({-1}))
      .constant("ax", ints1d({0}));
  gr.node("Shape", {"x"}, {"s"});
  gr.node("Gather", {"s", "i0"}, {"n"}, {attrInt("axis", 0)});
  gr.node("Unsqueeze", {"n", "ax"}, {"n1"});
  gr.node("Concat", {"n1", "m1"}, {"shape"}, {attrInt("axis", 0)});
  gr.node("Reshape", {"x", "shape"}, {"y"});
  gr.output("y");
  HostTensor y = runGraph(gr, {{"x", &x}});
  ASSERT_EQ(y.dims(), (Dims{2, 60}));
  for (int64_t i = 0; i < x.numel(); ++i) ASSERT_EQ(y.as<float>()[i], x.as<float>()[i]);
}

}  // namespace

namespace {

// The builder fuses Conv + residual Add + activation; the fused layer must equal the
// unfused graph computed naively.
TEST_F(Ops, FusedConvResidualAndActivations) {
  for (const std::string act :
       {"Relu", "Clip", "HardSwish", "Silu", "LeakyRelu", "Gelu", "GeluTanh"}) {
    HostTensor x = randomTensor(DataType::kFloat32, {1, 4, 9, 7}, rng());
    HostTensor r = randomTensor(DataType::kFloat32, {1, 6, 9, 7}, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {6, 4, 3, 3}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {6}, rng());
    HostTensor lo = std::move(HostTensor::create(DataType::kFloat32, {}).value());
    HostTensor hi = lo.clone();
    *lo.mutableAs<float>() = 0.f;
    *hi.mutableAs<float>() = 0.5f;
    OnnxGraph gr(act.rfind("Gelu", 0) == 0 ? 20 : 17);  // the Gelu op is opset 20
    gr.input("x", DataType::kFloat32, x.dims()).input("r", DataType::kFloat32, r.dims());
    gr.constant("w", w).constant("b", b).constant("lo", lo).constant("hi", hi).output("y");
    gr.node("Conv", {"x", "w", "b"}, {"c"}, {attrInts("pads", {1, 1, 1, 1})});
    gr.node("Add", {"r", "c"}, {"s"});
    if (act == "Clip")
      gr.node("Clip", {"s", "lo", "hi"}, {"y"});
    else if (act == "Silu")
      gr.node("Sigmoid", {"s"}, {"sg"}).node("Mul", {"s", "sg"}, {"y"});
    else if (act == "GeluTanh")
      gr.node("Gelu", {"s"}, {"y"}, {attrString("approximate", "tanh")});
    else
      gr.node(act, {"s"}, {"y"});
    HostTensor want = naiveConv(x, w, &b, 1, {1, 1}, {1, 1}, {1, 1, 1, 1});
    for (int64_t i = 0; i < want.numel(); ++i) {
      const double v = static_cast<double>(want.as<float>()[i]) + r.as<float>()[i];
      double o = v;
      if (act == "Relu") o = std::max(0.0, v);
      if (act == "Clip") o = std::clamp(v, 0.0, 0.5);
      if (act == "HardSwish") o = v * std::clamp(v / 6 + 0.5, 0.0, 1.0);
      if (act == "Silu") o = v / (1 + std::exp(-v));
      if (act == "LeakyRelu") o = v >= 0 ? v : 0.01 * v;
      if (act == "Gelu") o = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      if (act == "GeluTanh")
        o = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
      want.mutableAs<float>()[i] = static_cast<float>(o);
    }
    SCOPED_TRACE(act);
    expectClose(runGraph(gr, {{"x", &x}, {"r", &r}}), want);
    // And it really was fused into one layer.
    BuildOptions opt;
    opt.target = testTarget();
    opt.shapes = {{"x", x.dims()}, {"r", r.dims()}};
    BuildReport rep;
    ASSERT_TRUE(buildEngine(gr.save("fused"), opt, &rep).ok());
    EXPECT_EQ(rep.layers, 1u) << act;
  }
}

}  // namespace

namespace {

// Gemm (bias in C) + activation: one layer on every backend (a classifier head; a
// transformer MLP with the Gelu op).
TEST_F(Ops, FusedGemmActivations) {
  for (const std::string act : {"Relu", "Sigmoid", "Gelu", "GeluTanh"}) {
    HostTensor x = randomTensor(DataType::kFloat32, {5, 24}, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {13, 24}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {13}, rng());
    OnnxGraph gr(20);
    gr.input("x", DataType::kFloat32, x.dims()).constant("w", w).constant("b", b).output("y");
    gr.node("Gemm", {"x", "w", "b"}, {"g"}, {attrInt("transB", 1)});
    if (act == "GeluTanh")
      gr.node("Gelu", {"g"}, {"y"}, {attrString("approximate", "tanh")});
    else
      gr.node(act, {"g"}, {"y"});
    HostTensor want = std::move(HostTensor::create(DataType::kFloat32, {5, 13}).value());
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 13; ++j) {
        double v = b.as<float>()[j];
        for (int64_t k = 0; k < 24; ++k)
          v += static_cast<double>(x.as<float>()[i * 24 + k]) * w.as<float>()[j * 24 + k];
        double o = v;
        if (act == "Relu") o = std::max(0.0, v);
        if (act == "Sigmoid") o = 1 / (1 + std::exp(-v));
        if (act == "Gelu") o = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
        if (act == "GeluTanh")
          o = 0.5 * v * (1 + std::tanh(std::sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
        want.mutableAs<float>()[i * 13 + j] = static_cast<float>(o);
      }
    SCOPED_TRACE(act);
    expectClose(runGraph(gr, {{"x", &x}}), want);
    BuildOptions opt;
    opt.target = testTarget();
    BuildReport rep;
    ASSERT_TRUE(buildEngine(gr.save("fused_gemm"), opt, &rep).ok());
    EXPECT_EQ(rep.layers, 1u) << act;
  }
}

TEST_F(Ops, BatchNormFoldsIntoConv) {
  HostTensor x = randomTensor(DataType::kFloat32, {2, 3, 8, 6}, rng());
  HostTensor w = randomTensor(DataType::kFloat32, {5, 3, 3, 3}, rng());
  HostTensor scale = randomTensor(DataType::kFloat32, {5}, rng(), 0.5f, 1.5f);
  HostTensor shift = randomTensor(DataType::kFloat32, {5}, rng());
  HostTensor mean = randomTensor(DataType::kFloat32, {5}, rng());
  HostTensor var = randomTensor(DataType::kFloat32, {5}, rng(), 0.5f, 2.f);
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims())
      .constant("w", w)
      .constant("s", scale)
      .constant("b", shift);
  gr.constant("m", mean).constant("v", var).output("y");
  gr.node("Conv", {"x", "w"}, {"c"});
  gr.node("BatchNormalization", {"c", "s", "b", "m", "v"}, {"y"}, {attrFloat("epsilon", 1e-3f)});
  HostTensor want = naiveConv(x, w, nullptr, 1, {1, 1}, {1, 1}, {0, 0, 0, 0});
  const int64_t inner = want.dims()[2] * want.dims()[3];
  for (int64_t i = 0; i < want.numel(); ++i) {
    const int64_t c = (i / inner) % 5;
    const double v = (want.as<float>()[i] - mean.as<float>()[c]) /
                         std::sqrt(var.as<float>()[c] + 1e-3) * scale.as<float>()[c] +
                     shift.as<float>()[c];
    want.mutableAs<float>()[i] = static_cast<float>(v);
  }
  expectClose(runGraph(gr, {{"x", &x}}), want);
  BuildOptions opt;
  opt.target = testTarget();
  opt.shapes = {{"x", x.dims()}};
  BuildReport rep;
  ASSERT_TRUE(buildEngine(gr.save("bnfold"), opt, &rep).ok());
  EXPECT_EQ(rep.layers, 1u);
}

}  // namespace

namespace {

// ConvTranspose against a naive scatter, random geometry (2-D, symmetric pads as exported
// by PyTorch; output_padding below the stride).
TEST_F(Ops, ConvTransposeRandomGeometries) {
  for (int iter = 0; iter < 8; ++iter) {
    const int64_t g = rnd(1, 2), C = g * rnd(1, 3), Mg = rnd(1, 3), KH = rnd(1, 4), KW = rnd(1, 3);
    const int64_t sh = rnd(1, 3), sw = rnd(1, 2), ph = rnd(0, static_cast<int>(KH - 1)),
                  pw = rnd(0, static_cast<int>(KW - 1));
    const int64_t oph = sh > 1 ? rnd(0, static_cast<int>(sh - 1)) : 0;
    const int64_t H = rnd(2, 7), W = rnd(2, 9);
    // Pads may not swallow the whole output.
    if (sh * (H - 1) + oph + KH - 2 * ph < 1 || sw * (W - 1) + KW - 2 * pw < 1) continue;
    HostTensor x = randomTensor(DataType::kFloat32, {1, C, H, W}, rng());
    HostTensor w = randomTensor(DataType::kFloat32, {C, Mg, KH, KW}, rng());
    HostTensor b = randomTensor(DataType::kFloat32, {g * Mg}, rng());
    OnnxGraph gr;
    gr.input("x", DataType::kFloat32, x.dims()).constant("w", w).constant("b", b).output("y");
    gr.node("ConvTranspose", {"x", "w", "b"}, {"y"},
            {attrInt("group", g), attrInts("strides", {sh, sw}), attrInts("pads", {ph, pw, ph, pw}),
             attrInts("output_padding", {oph, 0})});
    const int64_t M = g * Mg, OH = sh * (H - 1) + oph + KH - 2 * ph,
                  OW = sw * (W - 1) + KW - 2 * pw;
    HostTensor want = zeros({1, M, OH, OW});
    float* y = want.mutableAs<float>();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t i = 0; i < OH * OW; ++i) y[m * OH * OW + i] = b.as<float>()[m];
    for (int64_t c = 0; c < C; ++c) {
      const int64_t grp = c / (C / g);
      for (int64_t m = 0; m < Mg; ++m)
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t iw = 0; iw < W; ++iw)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t oh = ih * sh - ph + kh, ow = iw * sw - pw + kw;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                y[((grp * Mg + m) * OH + oh) * OW + ow] +=
                    x.as<float>()[(c * H + ih) * W + iw] *
                    w.as<float>()[((c * Mg + m) * KH + kh) * KW + kw];
              }
    }
    SCOPED_TRACE(::testing::Message()
                 << "x " << dimsToString(x.dims()) << " w " << dimsToString(w.dims()) << " s " << sh
                 << "x" << sw << " p " << ph << "," << pw << " op " << oph);
    expectClose(runGraph(gr, {{"x", &x}}), want);
  }
}

TEST_F(Ops, LayerAndInstanceNormalization) {
  const Dims d = {2, 5, 13};
  HostTensor x = randomTensor(DataType::kFloat32, d, rng(), -3.f, 3.f);
  HostTensor s = randomTensor(DataType::kFloat32, {13}, rng());
  HostTensor b = randomTensor(DataType::kFloat32, {13}, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, d).constant("s", s).constant("b", b).output("y");
  gr.node("LayerNormalization", {"x", "s", "b"}, {"y"},
          {attrInt("axis", -1), attrFloat("epsilon", 1e-5f)});
  HostTensor want = zeros(d);
  for (int64_t r = 0; r < 10; ++r) {
    double mean = 0, var = 0;
    for (int64_t k = 0; k < 13; ++k) mean += x.as<float>()[r * 13 + k];
    mean /= 13;
    for (int64_t k = 0; k < 13; ++k) var += std::pow(x.as<float>()[r * 13 + k] - mean, 2);
    var /= 13;
    for (int64_t k = 0; k < 13; ++k)
      want.mutableAs<float>()[r * 13 + k] = static_cast<float>(
          (x.as<float>()[r * 13 + k] - mean) / std::sqrt(var + 1e-5) * s.as<float>()[k] +
          b.as<float>()[k]);
  }
  expectClose(runGraph(gr, {{"x", &x}}), want, 1e-4, 1e-5);

  HostTensor xi = randomTensor(DataType::kFloat32, {2, 3, 4, 5}, rng());
  HostTensor si = randomTensor(DataType::kFloat32, {3}, rng());
  HostTensor bi = randomTensor(DataType::kFloat32, {3}, rng());
  OnnxGraph gi;
  gi.input("x", DataType::kFloat32, xi.dims()).constant("s", si).constant("b", bi).output("y");
  gi.node("InstanceNormalization", {"x", "s", "b"}, {"y"});
  HostTensor wi = zeros(xi.dims());
  for (int64_t r = 0; r < 6; ++r) {
    const float* xr = xi.as<float>() + r * 20;
    double mean = 0, var = 0;
    for (int k = 0; k < 20; ++k) mean += xr[k];
    mean /= 20;
    for (int k = 0; k < 20; ++k) var += std::pow(xr[k] - mean, 2);
    var /= 20;
    for (int k = 0; k < 20; ++k)
      wi.mutableAs<float>()[r * 20 + k] = static_cast<float>(
          (xr[k] - mean) / std::sqrt(var + 1e-5) * si.as<float>()[r % 3] + bi.as<float>()[r % 3]);
  }
  expectClose(runGraph(gi, {{"x", &xi}}), wi, 1e-4, 1e-5);
}

TEST_F(Ops, TopKArgMaxAndGather) {
  HostTensor x = randomTensor(DataType::kFloat32, {3, 17}, rng());
  HostTensor k = ints1d({5});
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims())
      .constant("k", k)
      .output("v")
      .output("i")
      .output("a")
      .output("y");
  gr.node("TopK", {"x", "k"}, {"v", "i"}, {attrInt("axis", 1)});
  gr.node("ArgMax", {"x"}, {"a"}, {attrInt("axis", 1), attrInt("keepdims", 0)});
  gr.node("Gather", {"x", "i"}, {"y"}, {attrInt("axis", 1)});  // [3, 3, 5]
  const std::string path = gr.save("topk");
  BuildOptions opt;
  opt.target = testTarget();
  opt.shapes = {{"x", x.dims()}};
  auto engine = buildEngine(path, opt);
  ASSERT_TRUE(engine.ok()) << engine.status().toString();
  auto outs = runEngineBytes(engine.value(), {{"x", &x}});
  ASSERT_TRUE(outs.ok()) << outs.status().toString();
  for (int64_t r = 0; r < 3; ++r) {
    std::vector<int64_t> idx(17);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) {
      return x.as<float>()[r * 17 + a] > x.as<float>()[r * 17 + b];
    });
    EXPECT_EQ(outs->at("a").as<int64_t>()[r], idx[0]);
    for (int j = 0; j < 5; ++j) {
      EXPECT_EQ(outs->at("i").as<int64_t>()[r * 5 + j], idx[j]);
      EXPECT_EQ(outs->at("v").as<float>()[r * 5 + j], x.as<float>()[r * 17 + idx[j]]);
      for (int64_t rr = 0; rr < 3; ++rr)  // Gather: y[rr, r, j] = x[rr, i[r, j]]
        EXPECT_EQ(outs->at("y").as<float>()[(rr * 3 + r) * 5 + j], x.as<float>()[rr * 17 + idx[j]]);
    }
  }
}

TEST_F(Ops, DepthToSpaceTileExpandWhereCast) {
  HostTensor x = randomTensor(DataType::kFloat32, {1, 8, 2, 3}, rng());
  HostTensor c = randomTensor(DataType::kBool, {4, 1}, rng());
  OnnxGraph gr;
  gr.input("x", DataType::kFloat32, x.dims()).input("c", DataType::kBool, c.dims());
  gr.constant("rep", ints1d({1, 2, 1, 2})).constant("shp", ints1d({2, 1, 1, 1}));
  gr.node("DepthToSpace", {"x"}, {"d"},
          {attrInt("blocksize", 2), attrString("mode", "CRD")});  // 1x2x4x6
  gr.node("Tile", {"d", "rep"}, {"t"});                           // 1x4x4x12
  gr.node("Expand", {"t", "shp"}, {"e"});                         // 2x4x4x12
  gr.node("Neg", {"e"}, {"n"});
  gr.node("Where", {"c", "e", "n"}, {"w"});  // c [4,1] broadcasts over (h, w)
  gr.node("Cast", {"w"}, {"y"}, {attrInt("to", 7)});
  gr.output("y");
  HostTensor y = runGraph(gr, {{"x", &x}, {"c", &c}});
  ASSERT_EQ(y.dims(), (Dims{2, 4, 4, 12}));
  for (int64_t e = 0; e < 2; ++e)
    for (int64_t ch = 0; ch < 4; ++ch)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 12; ++w) {
          const int64_t dc = ch % 2, dw = w % 6;  // Tile
          // DepthToSpace CRD: out[c, h*2+i, w*2+j] = in[c*4 + i*2 + j, h, w]
          const int64_t src = ((dc * 4 + (h % 2) * 2 + (dw % 2)) * 2 + h / 2) * 3 + dw / 2;
          const float v = x.as<float>()[src];
          const bool cond = c.as<uint8_t>()[h] != 0;
          const float want = cond ? v : -v;
          ASSERT_EQ(y.as<int64_t>()[((e * 4 + ch) * 4 + h) * 12 + w], static_cast<int64_t>(want))
              << e << "," << ch << "," << h << "," << w;
        }
}

}  // namespace
