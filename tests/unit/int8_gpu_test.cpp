// INT8 on the GPU (issue #4, part 5): the CUDA INT8 layers against the CPU reference. Graphs
// of EdgertQConv built by hand (int8 inputs, so both backends see the same integers) must
// give the same int8 outputs exactly, and float outputs within fp16 rounding (the GPU writes
// them in fp16); a calibrated INT8 engine built for the GPU must track the CPU's INT8 engine.
// Runs in ops_cuda; skips on the CPU backend, where it would compare the CPU with itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "../../builder/src/build_graph.h"
#include "edgert/internal/str.h"
#include "onnx_model.h"
#include "test_util.h"

using namespace edgert;
using namespace edgert::test;

namespace {

class Int8Gpu : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = backendUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    if (testBackend() != Backend::kCuda)
      GTEST_SKIP() << "compares the CUDA INT8 layers with the CPU reference (ops_cuda runs it)";
  }
};

std::mt19937& rng() {
  return seededRng("int8_gpu_test");
}

HostTensor randomInt8(const Dims& d) {
  HostTensor t = std::move(HostTensor::create(DataType::kInt8, d).value());
  std::uniform_int_distribution<int> u(-128, 127);
  for (int64_t i = 0; i < t.numel(); ++i) t.mutableAs<int8_t>()[i] = static_cast<int8_t>(u(rng()));
  return t;
}

HostTensor uniformF(const Dims& d, float lo, float hi) {
  return randomTensor(DataType::kFloat32, d, rng(), lo, hi);
}

struct QCase {
  const char* name;
  int64_t n, c, h, w, m, k, stride, pad, group;
  bool linear;
  const char* act;
  float alpha, beta;
  bool int8_out;
  int residual;          // 0 none, 1 int8, 2 float32
  int64_t pad_end = -1;  // bottom/right pads when not `pad` (EfficientNet's "same": 0 and 1)
  int x_pad = 0;         // the input's zero point, read outside it (unsigned activations)
};

int addTensor(Graph& g, const std::string& name, DataType dt, const Dims& d) {
  TensorEntry t;
  t.name = name;
  t.dtype = dt;
  t.dims = d;
  g.tensors.push_back(std::move(t));
  return static_cast<int>(g.tensors.size()) - 1;
}

void bind(Graph& g, int t, bool input) {
  Binding b;
  b.tensor = t;
  b.is_input = input;
  b.model_dims = g.tensors[t].dims;
  g.bindings.push_back(b);
}

int64_t padEnd(const QCase& q) {
  return q.pad_end >= 0 ? q.pad_end : q.pad;
}

Dims outputDims(const QCase& q) {
  if (q.linear) return {q.n, q.m};
  const int64_t oh = (q.h + q.pad + padEnd(q) - q.k) / q.stride + 1;
  const int64_t ow = (q.w + q.pad + padEnd(q) - q.k) / q.stride + 1;
  return {q.n, q.m, oh, ow};
}

// x (int8) [-> EdgertQConv with bias, residual r, activation] -> y; `inputs` gets the feeds.
ImportedModel qconvModel(const QCase& q, std::map<std::string, HostTensor>* inputs) {
  ImportedModel im;
  Graph& g = im.graph;
  g.name = q.name;
  const Dims xd = q.linear ? Dims{q.n, q.c} : Dims{q.n, q.c, q.h, q.w};
  const Dims wd = q.linear ? Dims{q.m, q.c} : Dims{q.m, q.c / q.group, q.k, q.k};
  const int x = addTensor(g, "x", DataType::kInt8, xd);
  bind(g, x, true);
  (*inputs)["x"] = randomInt8(xd);
  const int w = g.addConstant("w", randomInt8(wd));
  const int b = g.addConstant("b", uniformF({q.m}, -2.f, 2.f));
  // Accumulators of about +-sqrt(K) * 127^2 / 3 into reals of about +-10: int8 outputs of
  // scale 0.08 both round and saturate.
  const float k_vol = static_cast<float>(volume(wd) / q.m);
  const float s0 = 10.f / (std::sqrt(k_vol) * 5400.f);
  const int s = g.addConstant("s", uniformF({q.m}, 0.5f * s0, 1.5f * s0));
  const Dims yd = outputDims(q);
  int r = -1;
  if (q.residual) {
    const DataType rt = q.residual == 1 ? DataType::kInt8 : DataType::kFloat32;
    r = addTensor(g, "r", rt, yd);
    bind(g, r, true);
    (*inputs)["r"] = q.residual == 1 ? randomInt8(yd) : uniformF(yd, -8.f, 8.f);
  }
  const int y = addTensor(g, "y", q.int8_out ? DataType::kInt8 : DataType::kFloat32, yd);
  Node n;
  n.op = "EdgertQConv";
  n.name = "qconv";
  n.inputs = {x, w, b, r, s};
  n.outputs = {y};
  if (!q.linear) {
    n.attrs.setInts("pads", {q.pad, q.pad, padEnd(q), padEnd(q)});
    n.attrs.setInts("strides", {q.stride, q.stride});
    n.attrs.setInt("group", q.group);
  }
  if (q.x_pad) n.attrs.setInt("x_pad", q.x_pad);
  if (*q.act) {
    n.attrs.setString("_act", q.act);
    n.attrs.setFloat("_act_alpha", q.alpha);
    n.attrs.setFloat("_act_beta", q.beta);
  }
  const size_t M = static_cast<size_t>(q.m);
  if (q.int8_out) n.attrs.setFloats("y_scales", std::vector<float>(M, 0.08f));
  if (q.residual) {
    std::vector<float> rs(M);
    for (size_t i = 0; i < M; ++i) rs[i] = 0.05f + 0.01f * static_cast<float>(i % 7);
    n.attrs.setFloats("r_scales", rs);
  }
  g.nodes.push_back(std::move(n));
  bind(g, y, false);
  return im;
}

// `im` built for the CPU and for the GPU (no tactic timing; no layer may fall back to the CPU),
// both run on `in`: output "y" of each. The GPU engine runs `gpu_runs` times in one context.
void runOnBoth(ImportedModel im, const char* name, const std::map<std::string, HostTensor>& in,
               int gpu_runs, HostTensor* got, HostTensor* want,
               std::vector<std::string>* gpu_tactics = nullptr, std::string* gpu_engine = nullptr) {
  BuildOptions cpu, gpu;
  cpu.target = "cpu";
  gpu.target = testTarget();
  gpu.tactic_timing = false;
  BuildReport rep;
  auto ce = buildFromGraph(im, name, cpu);
  auto ge = buildFromGraph(std::move(im), name, gpu, &rep);
  ASSERT_TRUE(ce.ok()) << ce.status().toString();
  ASSERT_TRUE(ge.ok()) << ge.status().toString();
  EXPECT_TRUE(rep.cpu_fallback_layers.empty());
  std::map<std::string, const HostTensor*> feeds;
  for (auto& [k, v] : in) feeds[k] = &v;
  auto w = runEngineBytes(ce.value(), feeds, Backend::kCpu);
  auto g = runEngineBytes(ge.value(), feeds, Backend::kCuda, gpu_runs, gpu_tactics, gpu_engine);
  ASSERT_TRUE(w.ok()) << w.status().toString();
  ASSERT_TRUE(g.ok()) << g.status().toString();
  *got = std::move(g->at("y"));
  *want = std::move(w->at("y"));
  ASSERT_EQ(got->dims(), want->dims());
}

// The compute capability an engine was built for ("sm_90" in its description), or 0.
int gpuSm(const std::string& description) {
  const size_t at = description.find("sm_");
  return at == std::string::npos ? 0 : std::atoi(description.c_str() + at + 3);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

TEST_F(Int8Gpu, QConvMatchesTheCpuReference) {
  // The GPU paths: the implicit-GEMM kernel on the tensor as it lies (C % 16, % 8, % 4 == 0),
  // im2col for the rest (C = 3, odd counts), M not a multiple of 16, cuBLASLt's IMMA in the
  // second round; the depthwise kernels (row tiles through shared memory where C % 16 == 0,
  // eight channels per thread, four in the second round), the direct
  // kernel (grouped, depthwise with C % 4 != 0), and fully connected layers (K % 16 == 0 or
  // not); epilogues with and without residuals, four channels at a time or one.
  const QCase cases[] = {
      {"pointwise_c32", 2, 32, 7, 9, 48, 1, 1, 0, 1, false, "Relu", 0, 0, true, 0},
      {"pointwise_c12", 1, 12, 5, 5, 20, 1, 1, 0, 1, false, "", 0, 0, true, 1},
      {"dense3x3_c24", 2, 24, 9, 10, 40, 3, 2, 1, 1, false, "Relu", 0, 0, true, 0},
      {"stem7x7_c3", 2, 3, 20, 18, 64, 7, 2, 3, 1, false, "Relu", 0, 0, true, 0},
      {"dense3x3_c5", 1, 5, 8, 8, 8, 3, 1, 1, 1, false, "", 0, 0, false, 0},
      {"dense3x3", 2, 16, 13, 11, 24, 3, 1, 1, 1, false, "Clip", 0.f, 6.f, true, 0},
      {"strided3x3_c3", 1, 3, 17, 15, 16, 3, 2, 1, 1, false, "Relu", 0, 0, true, 0},
      {"strided1x1", 2, 32, 9, 9, 64, 1, 2, 0, 1, false, "", 0, 0, true, 1},
      {"dense5x5_m13", 1, 8, 12, 12, 13, 5, 1, 2, 1, false, "LeakyRelu", 0.1f, 0, true, 0},
      {"depthwise3x3", 2, 24, 14, 14, 24, 3, 1, 1, 24, false, "Relu", 0, 0, true, 0},
      {"depthwise5x5_s2", 1, 40, 11, 13, 40, 5, 2, 2, 40, false, "HardSwish", 0, 0, true, 0},
      {"grouped", 1, 16, 8, 8, 32, 3, 1, 1, 4, false, "", 0, 0, true, 0},
      {"depthwise_c6", 1, 6, 9, 9, 6, 3, 1, 1, 6, false, "Clip", -1.f, 2.f, true, 1},
      {"float_out", 2, 32, 6, 6, 16, 3, 1, 1, 1, false, "Relu", 0, 0, false, 0},
      {"float_out_residual", 1, 16, 7, 7, 16, 1, 1, 0, 1, false, "", 0, 0, false, 2},
      {"hardsigmoid", 1, 16, 6, 6, 16, 1, 1, 0, 1, false, "HardSigmoid", 0.2f, 0.5f, true, 0},
      {"linear_k64", 3, 64, 1, 1, 40, 1, 1, 0, 1, true, "Relu", 0, 0, true, 0},
      {"linear_k50_float", 2, 50, 1, 1, 10, 1, 1, 0, 1, true, "", 0, 0, false, 2},
      // More than 64 output channels: 128-wide tiles, or two 64-wide ones (the n64 round).
      {"wide1x1_m160_residual", 2, 32, 6, 7, 160, 1, 1, 0, 1, false, "Relu", 0, 0, true, 1},
      {"wide3x3_m136_s2", 1, 48, 9, 8, 136, 3, 2, 1, 1, false, "", 0, 0, true, 0},
      // The 64 x 64 warp tiles (the fifth round): several 128-pixel and 128-channel blocks,
      // a 64-deep reduction step spanning four taps (C = 16), fewer k-tiles than pipeline
      // stages, and more (C = 64, 3x3: nine), a partial last k-tile (K = 432 of 448).
      {"wide3x3_c16_m192", 2, 16, 15, 13, 192, 3, 1, 1, 1, false, "Relu", 0, 0, true, 1},
      {"wide3x3_c64_m256_float", 1, 64, 12, 13, 256, 3, 1, 1, 1, false, "", 0, 0, false, 2},
      {"wide1x1_c128_m198_s2", 2, 128, 23, 21, 198, 1, 2, 0, 1, false, "Clip", 0.f, 6.f, true, 0},
      // More than 64 channels, not a multiple of 16, with int8 residuals; a 32-deep reduction
      // in the big tiles' 64-deep step.
      {"wide1x1_c32_m100_residual", 3, 32, 9, 11, 100, 1, 1, 0, 1, false, "Relu", 0, 0, true, 1},
      // The TMA kernel (the eighth round, 1x1 stride 1): 128-byte steps, more k-tiles than its
      // three stages, int8 residuals; 64-byte steps with a k-tile past C (zeros from the tensor
      // map) and partial pixel and channel tiles; a single 64-byte step and float outputs.
      {"tma1x1_c512_m136_residual", 2, 512, 9, 11, 136, 1, 1, 0, 1, false, "Relu", 0, 0, true, 1},
      {"tma1x1_c96_m256", 3, 96, 10, 10, 256, 1, 1, 0, 1, false, "", 0, 0, true, 0},
      {"tma1x1_c64_m130_float", 1, 64, 12, 12, 130, 1, 1, 0, 1, false, "Relu", 0, 0, false, 2},
      // Through its im2col tensor map (C % 64 == 0): 3x3 with padding, 64-byte steps over nine
      // taps (more than six stages) and int8 residuals; stride 2 over an odd-sized input with
      // 128-byte steps; 5x5 (five taps a row); wide1x1_c128_m198_s2 above: a strided 1x1.
      {"tma3x3_c64_m136_residual", 2, 64, 9, 11, 136, 3, 1, 1, 1, false, "Relu", 0, 0, true, 1},
      {"tma3x3_c128_m256_s2", 2, 128, 13, 12, 256, 3, 2, 1, 1, false, "", 0, 0, true, 0},
      {"tma5x5_c64_m96", 1, 64, 10, 9, 96, 5, 1, 2, 1, false, "Relu", 0, 0, true, 0},
      // 64 output channels or fewer: the TMA kernel's 64-channel tiles (the ninth round).
      {"tma3x3_c64_m64_residual", 2, 64, 14, 13, 64, 3, 1, 1, 1, false, "Relu", 0, 0, true, 1},
      {"tma1x1_c256_m48", 3, 256, 7, 9, 48, 1, 1, 0, 1, false, "", 0, 0, true, 0},
      // Space-to-depth stems (the tenth to twelfth rounds; stem7x7_c3 and strided3x3_c3
      // above too): odd input sizes (a zero row and column in the copy), 8 channels (32 in
      // the copy), a 2x2 patchify stem (a 1x1 convolution over the copy), more than 64
      // output channels with int8 residuals.
      {"s2d5x5_c8_m40", 2, 8, 13, 11, 40, 5, 2, 2, 1, false, "Relu", 0, 0, true, 0},
      {"s2d_patchify2x2_c3", 2, 3, 16, 12, 48, 2, 2, 0, 1, false, "", 0, 0, true, 0},
      {"s2d7x7_c3_m96_residual", 1, 3, 31, 29, 96, 7, 2, 3, 1, false, "Relu", 0, 0, true, 1},
      {"s2d4x4_c1_p1_float", 2, 1, 10, 14, 24, 4, 2, 1, 1, false, "", 0, 0, false, 2},
      // Asymmetric pads (a zero Pad folded into the convolution, EfficientNet's "same" padding
      // of stride-2 layers: none at the top and left, one at the bottom and right).
      {"same_s2d3x3_c3", 2, 3, 16, 18, 32, 3, 2, 0, 1, false, "Clip", 0.f, 6.f, true, 0, 1},
      {"same_depthwise3x3_s2", 2, 96, 14, 12, 96, 3, 2, 0, 96, false, "Clip", 0.f, 6.f, true, 0, 1},
      {"same_depthwise5x5_s2", 1, 40, 13, 14, 40, 5, 2, 1, 40, false, "Clip", 0.f, 6.f, true, 0, 2},
      {"depthwise3x3_c16_float_residual", 2, 16, 9, 11, 16, 3, 1, 1, 16, false, "", 0, 0, false, 2},
      {"depthwise5x5_c32_residual", 1, 32, 10, 7, 32, 5, 1, 2, 32, false, "Relu", 0, 0, true, 1},
      {"same_dense3x3_s2_c24", 2, 24, 11, 12, 40, 3, 2, 0, 1, false, "Relu", 0, 0, true, 0, 1},
      {"same_tma3x3_c64_m128_s2", 2, 64, 14, 13, 128, 3, 2, 0, 1, false, "", 0, 0, true, 0, 1},
      // Inputs with zero point -128 (non-negative activations stored unsigned): the window
      // reads -128 outside the input in the depthwise kernels (eight and four channels) and
      // the direct one; unpadded convolutions of one group take the attribute and ignore it.
      {"zp_depthwise3x3_s1", 2, 32, 9, 10, 32, 3, 1, 1, 32, false, "Clip", -1.f, 2.f, true, 0, -1,
       -128},
      {"zp_same_depthwise5x5_s2", 1, 48, 13, 12, 48, 5, 2, 1, 48, false, "", 0, 0, true, 1, 2,
       -128},
      {"zp_depthwise3x3_c12", 2, 12, 7, 8, 12, 3, 2, 1, 12, false, "Relu", 0, 0, true, 0, -1, -128},
      {"zp_grouped_c6", 1, 6, 7, 7, 6, 3, 1, 1, 6, false, "", 0, 0, false, 2, -1, -128},
      // Stems of 1 to 4 channels (int8-stem in round 15, as strided3x3_c3 and same_s2d3x3_c3).
      {"stem3x3_c1_s2", 2, 1, 15, 13, 8, 3, 2, 1, 1, false, "Relu", 0, 0, true, 0},
      {"stem3x3_c4_residual", 1, 4, 9, 10, 12, 3, 1, 1, 1, false, "Clip", 0.f, 6.f, true, 1},
      {"stem3x3_c2_float", 2, 2, 7, 9, 16, 3, 1, 1, 1, false, "", 0, 0, false, 2},
      {"stem3x3_c3_m40_tall", 1, 3, 41, 9, 40, 3, 1, 1, 1, false, "Relu", 0, 0, true, 0},
      {"zp_pointwise_c64", 2, 64, 7, 9, 96, 1, 1, 0, 1, false, "Relu", 0, 0, true, 1, -1, -128},
      // The short-K pointwise kernel (round 13): each of its channel counts, ReLU6 (Clip),
      // int8 and float residuals, float output, M not a multiple of 8, a fully connected layer.
      {"pw_c16_m96_clip", 3, 16, 11, 13, 96, 1, 1, 0, 1, false, "Clip", 0.f, 6.f, true, 0},
      {"pw_c24_m144_residual", 2, 24, 9, 7, 144, 1, 1, 0, 1, false, "Clip", -0.5f, 3.f, true, 1},
      {"pw_c32_m20_float", 1, 32, 6, 5, 20, 1, 1, 0, 1, false, "", 0, 0, false, 2},
      {"pw_c40_m240_relu", 2, 40, 7, 7, 240, 1, 1, 0, 1, false, "Relu", 0, 0, true, 0},
      {"pw_c48_m12_hardswish", 1, 48, 5, 9, 12, 1, 1, 0, 1, false, "HardSwish", 0, 0, true, 0},
      {"pw_linear_k64", 5, 64, 1, 1, 36, 1, 1, 0, 1, true, "", 0, 0, true, 0},
      // The mma.sync pointwise kernel (round 16) past the dp4a kernel's 64 channels: three and
      // four k32 steps, outputs in 64-channel chunks (200 = 3 x 64 + 8), 126 and 25 pixels (not
      // whole 16-pixel tiles), an int8 residual, a float output.
      {"pw_c80_m200_clip", 2, 80, 7, 9, 200, 1, 1, 0, 1, false, "Clip", 0.f, 6.f, true, 0},
      {"pw_c128_m72_residual", 1, 128, 5, 5, 72, 1, 1, 0, 1, false, "Relu", 0, 0, true, 1},
      {"pw_c100_m40_float", 1, 100, 6, 6, 40, 1, 1, 0, 1, false, "", 0, 0, false, 2},
  };
  // Each case once per path, each path forced (no tactic timing): our tensor-core kernel (sm_80+)
  // with its default tiles (C % 4 != 0: over the input padded to 4 channels), with 64-channel
  // tiles, cuBLASLt's IMMA + epilogue path, over im2col columns where C % 4 != 0, and with
  // 64 x 64 warp tiles where C % 16 == 0 and M > 64 - on Hopper's wgmma where the GPU has it,
  // cp.async-fed or (1x1 stride 1) TMA-fed.
  const char* kRounds[] = {"",
                           " (64-channel tiles)",
                           " (cuBLASLt IMMA)",
                           " (im2col instead of padded channels)",
                           " (64 x 64 warp tiles)",
                           " (wgmma, sm_90)",
                           " (wgmma with 64-channel tiles, sm_90)",
                           " (TMA-fed wgmma, sm_90)",
                           " (TMA-fed wgmma with 64-channel tiles, sm_90)",
                           " (space-to-depth stems)",
                           " (space-to-depth stems on wgmma with 64-channel tiles, sm_90)",
                           " (space-to-depth stems, rows unfolded, on the TMA kernel's 64-channel "
                           "tiles, sm_90)",
                           " (the persistent TMA kernel, 64-channel tiles, stems too, sm_90)",
                           " (the short-K pointwise dp4a kernel where it applies)",
                           " (the eight-channel depthwise kernel instead of the row tiles)",
                           " (the shared-memory stem kernel where it applies)",
                           " (the short-K pointwise mma.sync kernel where it applies)"};
  auto clearForcedPaths = [] {
    for (const char* v :
         {"EDGERT_INT8_IMMA", "EDGERT_INT8_N64", "EDGERT_INT8_IM2COL", "EDGERT_INT8_WIDE",
          "EDGERT_INT8_WGMMA", "EDGERT_INT8_TMA", "EDGERT_INT8_S2D", "EDGERT_INT8_TMA_P",
          "EDGERT_INT8_TMA_P_BLOCKS", "EDGERT_INT8_DW4", "EDGERT_INT8_PW", "EDGERT_INT8_DW8",
          "EDGERT_INT8_STEM", "EDGERT_INT8_PW_MMA"})
      unsetenv(v);
  };
  // EDGERT_TEST_INT8_ROUNDS=4,5,6: only those rounds (the sanitizer runs of scripts/gpu-check.sh).
  const char* only_env = std::getenv("EDGERT_TEST_INT8_ROUNDS");
  const std::string only = only_env ? strCat(",", only_env, ",") : "";
  for (int round = 0; round < 17; ++round)
    for (const QCase& q : cases) {
      if (!only.empty() && only.find(strCat(",", round, ",")) == std::string::npos) continue;
      SCOPED_TRACE(::testing::Message() << q.name << kRounds[round]);
      clearForcedPaths();
      if (round == 1) setenv("EDGERT_INT8_N64", "1", 1);
      if (round == 2) setenv("EDGERT_INT8_IMMA", "1", 1);
      if (round == 2) setenv("EDGERT_INT8_DW4", "1", 1);  // the four-channel depthwise kernel
      if (round == 3) setenv("EDGERT_INT8_IM2COL", "1", 1);
      if (round == 4) setenv("EDGERT_INT8_WIDE", "1", 1);
      if (round == 5 || round == 6) setenv("EDGERT_INT8_WGMMA", "1", 1);
      if (round == 6) setenv("EDGERT_INT8_N64", "1", 1);
      if (round == 7 || round == 8) setenv("EDGERT_INT8_TMA", "1", 1);
      if (round == 8) setenv("EDGERT_INT8_N64", "1", 1);
      if (round >= 9) setenv("EDGERT_INT8_S2D", "1", 1);
      if (round == 10) setenv("EDGERT_INT8_WGMMA", "1", 1);
      if (round >= 10) setenv("EDGERT_INT8_N64", "1", 1);
      if (round == 11 || round == 12) setenv("EDGERT_INT8_TMA", "1", 1);
      if (round == 12) setenv("EDGERT_INT8_TMA_P", "1", 1);
      // Three blocks: each walks several tiles, its pipeline wrapping from tile to tile.
      if (round == 12) setenv("EDGERT_INT8_TMA_P_BLOCKS", "3", 1);
      if (round == 13) setenv("EDGERT_INT8_PW", "1", 1);
      if (round == 14) setenv("EDGERT_INT8_DW8", "1", 1);
      if (round == 15) setenv("EDGERT_INT8_STEM", "1", 1);
      if (round == 16) setenv("EDGERT_INT8_PW_MMA", "1", 1);
      std::map<std::string, HostTensor> in;
      ImportedModel im = qconvModel(q, &in);
      // Twice in one context on the GPU (the second run replays what the first set up).
      HostTensor a, b;
      std::vector<std::string> tactics;
      std::string engine;
      runOnBoth(std::move(im), q.name, in, 2, &a, &b, &tactics, &engine);
      if (HasFatalFailure()) return;
      // The forced pointwise mma.sync kernel must have run where it applies (a path that
      // silently fell back would pass the comparison below).
      if (round == 16 && !q.linear && q.k == 1 && q.stride == 1 && q.pad == 0 && q.pad_end < 0 &&
          q.group == 1 && q.c % 4 == 0 && q.c <= 128 && q.m % 8 == 0 && gpuSm(engine) >= 80) {
        EXPECT_NE(std::find(tactics.begin(), tactics.end(), "int8-pointwise-mma"), tactics.end())
            << "tactics: " << join(tactics, ", ");
      }
      if (q.int8_out) {
        int64_t differ = 0, sat = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
          differ += a.as<int8_t>()[i] != b.as<int8_t>()[i];
          sat += b.as<int8_t>()[i] == 127 || b.as<int8_t>()[i] == -128;
        }
        EXPECT_EQ(differ, 0) << "of " << a.numel();
        // The case exercises rounding, not only saturation.
        EXPECT_LT(sat, a.numel() / 2);
      } else {
        // The GPU's float outputs are fp16: half an fp16 step of values up to ~30.
        const std::string d = compareTensors(a, b, 1e-3, 2e-2);
        EXPECT_TRUE(d.empty()) << d;
      }
    }
  clearForcedPaths();
}

// MaxPool on int8 (between INT8 layers, as the builder leaves it): an EdgertQConv writing int8,
// then the pool, GPU against CPU exactly. 16, 4 and 1 channels per thread; padding, a window
// larger than its stride, ceil mode.
TEST_F(Int8Gpu, MaxPoolOnInt8MatchesTheCpu) {
  struct PoolCase {
    const char* name;
    int64_t m, k, stride, pad;
    bool ceil;
  };
  for (const PoolCase& pc :
       {PoolCase{"m32_3x3_s2_p1", 32, 3, 2, 1, false}, PoolCase{"m12_2x2_s2", 12, 2, 2, 0, false},
        PoolCase{"m5_3x3_s2_ceil", 5, 3, 2, 0, true}}) {
    SCOPED_TRACE(pc.name);
    const QCase q{"pool_src", 2, 8, 11, 13, pc.m, 1, 1, 0, 1, false, "Relu", 0, 0, true, 0};
    std::map<std::string, HostTensor> in;
    ImportedModel im = qconvModel(q, &in);
    Graph& g = im.graph;
    const int conv_out = g.nodes.back().outputs[0];
    g.tensors[conv_out].name = "q";
    auto pooled = [&](int64_t v) {
      const int64_t span = v + 2 * pc.pad - pc.k;
      return (pc.ceil ? (span + pc.stride - 1) / pc.stride : span / pc.stride) + 1;
    };
    const Dims qd = g.tensors[conv_out].dims;
    const int y = addTensor(g, "y", DataType::kInt8, {qd[0], qd[1], pooled(qd[2]), pooled(qd[3])});
    Node n;
    n.op = "MaxPool";
    n.name = "pool";
    n.inputs = {conv_out};
    n.outputs = {y};
    n.attrs.setInts("kernel_shape", {pc.k, pc.k});
    n.attrs.setInts("strides", {pc.stride, pc.stride});
    n.attrs.setInts("pads", {pc.pad, pc.pad, pc.pad, pc.pad});
    n.attrs.setInt("ceil_mode", pc.ceil ? 1 : 0);
    g.nodes.push_back(std::move(n));
    g.bindings.back().tensor = y;
    g.bindings.back().model_dims = g.tensors[y].dims;
    HostTensor a, b;
    runOnBoth(std::move(im), pc.name, in, 1, &a, &b);
    if (HasFatalFailure()) return;
    int64_t differ = 0;
    for (int64_t i = 0; i < a.numel(); ++i) differ += a.as<int8_t>()[i] != b.as<int8_t>()[i];
    EXPECT_EQ(differ, 0) << "of " << a.numel();
  }
}

// A calibrated INT8 engine for the GPU (NHWC int8 between INT8 layers, fp16 around them)
// against the same model's CPU INT8 engine from the same calibration cache.
TEST_F(Int8Gpu, CalibratedEngineTracksTheCpuInt8Engine) {
  OnnxGraph g(13);
  const Dims xd = {2, 3, 24, 24};
  g.input("x", DataType::kFloat32, xd);
  g.constant("w1", uniformF({16, 3, 3, 3}, -0.4f, 0.4f));
  g.constant("b1", uniformF({16}, -0.1f, 0.1f));
  g.constant("w2", uniformF({16, 1, 3, 3}, -0.4f, 0.4f));
  g.constant("w3", uniformF({32, 16, 1, 1}, -0.3f, 0.3f));
  g.constant("w4", uniformF({32, 10}, -0.3f, 0.3f));
  g.node("Conv", {"x", "w1", "b1"}, {"c1"},
         {attrInts("pads", {1, 1, 1, 1}), attrInts("strides", {2, 2})});
  g.node("Relu", {"c1"}, {"r1"});
  g.node("MaxPool", {"r1"}, {"m1"},
         {attrInts("kernel_shape", {3, 3}), attrInts("pads", {1, 1, 1, 1})});
  g.node("Conv", {"m1", "w2"}, {"c2"}, {attrInts("pads", {1, 1, 1, 1}), attrInt("group", 16)});
  g.node("Relu", {"c2"}, {"r2"});
  g.node("Conv", {"r2", "w3"}, {"c3"});
  g.node("GlobalAveragePool", {"c3"}, {"p"});
  g.node("Flatten", {"p"}, {"f"});
  g.node("MatMul", {"f", "w4"}, {"y"});
  g.output("y");
  const std::string path = g.save("int8_gpu_chain");
  const std::string cache = path + ".calib";
  std::vector<HostTensor> samples;
  for (int i = 0; i < 8; ++i) samples.push_back(uniformF({1, 3, 24, 24}, -1.f, 1.f));
  auto src = std::make_shared<MemorySource>(std::move(samples));
  BuildOptions cpu;
  cpu.target = "cpu";
  cpu.precision = "int8";
  cpu.calibration = src;
  cpu.calib_cache = cache;
  BuildReport crep, grep;
  auto ce = buildEngine(path, cpu, &crep);
  ASSERT_TRUE(ce.ok()) << ce.status().toString();
  BuildOptions gpu = cpu;
  gpu.target = testTarget();
  gpu.calibration = nullptr;         // the cache the CPU build wrote
  gpu.int8_timed_precision = false;  // every candidate INT8, as on the CPU
  auto ge = buildEngine(path, gpu, &grep);
  ASSERT_TRUE(ge.ok()) << ge.status().toString();
  EXPECT_EQ(grep.int8_layers, crep.int8_layers);
  EXPECT_GE(grep.int8_layers, 3u);
  EXPECT_EQ(grep.int8_pools, 1u);  // on int8 between the first two convolutions
  EXPECT_TRUE(grep.cpu_fallback_layers.empty());
  for (int i = 0; i < 3; ++i) {
    const HostTensor x = uniformF(xd, -1.f, 1.f);
    auto want = runEngineBytes(ce.value(), {{"x", &x}}, Backend::kCpu);
    auto got = runEngineBytes(ge.value(), {{"x", &x}}, Backend::kCuda);
    ASSERT_TRUE(want.ok() && got.ok());
    // The float layers between INT8 ones run in fp16 on the GPU: a few int8 codes move by
    // one step, nothing more. (The image input itself is quantised from float32 in one pass,
    // straight into NHWC, as the CPU does.)
    EXPECT_LT(relativeL2(got->at("y"), want->at("y")), 0.02);
  }
  std::remove(cache.c_str());
}

}  // namespace
