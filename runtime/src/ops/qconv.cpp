// EdgertQConv: the INT8 convolution / fully connected layer the builder's quantisation pass
// makes from Conv, Gemm and MatMul with constant weights. Symmetric int8 activations and
// per-output-channel int8 weights, exact int32 accumulation, then the float epilogue of
// kernels/int8_math.h (scale, bias, residual, activation, requantise). This CPU kernel is the
// reference the CUDA kernels must reproduce integer for integer.
//
// Inputs: 0 x int8 ([N, C, spatial...], or [N, K] for a fully connected layer), 1 w int8
// constant ([M, C/group, kernel...] or [M, K]), 2 bias float32 [M] (optional), 3 residual
// (optional, the output's shape: int8 with scale `r_scale`, or float32), 4 acc_scale float32
// [M] constant (the input's and the weights' scales folded together). Attributes: Conv's, the
// fused activation (`_act`...), `y_scales` (per output channel; present: int8 output with
// those scales, absent: float32 output), `r_scales` (per channel, the residual's scales;
// absent: 1) and `x_pad` (the int8 value the window reads outside the input: the input's zero
// point, whose other contributions the builder folded into the bias; absent: 0).
#include "../../../kernels/int8_math.h"
#include "conv_common.h"

namespace edgert::ops {
namespace {

static_assert(static_cast<int>(Act::kClip) == 2 && static_cast<int>(Act::kHardSwish) == 4 &&
                  static_cast<int>(Act::kGeluTanh) == 9,
              "int8Act's codes follow ops::Act");

struct QConvParams {
  ConvParams conv;
  bool linear = false;         // [N, K] x [M, K]^T
  int64_t K = 0;               // linear: inner dim
  std::vector<float> inv_y;    // 1 / y_scales[m]; empty: float output
  std::vector<float> r_scale;  // per channel
  bool int8_residual = false;
  int8_t x_pad = 0;
};

Result<QConvParams> parseQConv(const NodeContext& c) {
  QConvParams p;
  if (c.dtype(0) != DataType::kInt8 || c.dtype(1) != DataType::kInt8)
    return c.invalid("input and weights must be int8, got ", dataTypeName(c.dtype(0)), " and ",
                     dataTypeName(c.dtype(1)));
  if (!c.has(4) || c.dtype(4) != DataType::kFloat32)
    return c.invalid("input 4 (accumulator scales, float32) is required");
  if (c.has(2) && c.dtype(2) != DataType::kFloat32) return c.invalid("bias must be float32");
  std::vector<float> y_scales, r_scales;
  EDGERT_TRY_ATTR(y_scales, attrFloats(c, "y_scales"));
  EDGERT_TRY_ATTR(r_scales, attrFloats(c, "r_scales"));
  const Dims& x = c.dims(0);
  const Dims& w = c.dims(1);
  if (x.size() == 2) {
    p.linear = true;
    if (w.size() != 2 || w[1] != x[1])
      return c.invalid("fully connected weights ", dimsToString(w), " do not match input ",
                       dimsToString(x));
    p.conv.N = x[0];
    p.K = x[1];
    p.conv.M = w[0];
    EDGERT_TRY_ATTR(p.conv.epi, parseEpilogue(c));
    if (c.has(2) && (c.dims(2).size() != 1 || c.dims(2)[0] != p.conv.M))
      return c.invalid("bias must have shape [", p.conv.M, "], got ", dimsToString(c.dims(2)));
  } else {
    EDGERT_TRY_ATTR(p.conv, parseConv(c));
  }
  if (c.dims(4) != Dims{p.conv.M})
    return c.invalid("accumulator scales must have shape [", p.conv.M, "], got ",
                     dimsToString(c.dims(4)));
  const size_t M = static_cast<size_t>(p.conv.M);
  if ((!y_scales.empty() && y_scales.size() != M) || (!r_scales.empty() && r_scales.size() != M))
    return c.invalid("y_scales and r_scales need one value per output channel (", M, ")");
  for (float v : y_scales)
    if (!(v > 0.f) || !std::isfinite(v)) return c.invalid("y_scales must be positive and finite");
  for (float v : r_scales)
    if (!std::isfinite(v)) return c.invalid("r_scales must be finite");
  EDGERT_TRY_ATTR(p.x_pad, parseXPad(c));
  for (float v : y_scales) p.inv_y.push_back(1.f / v);
  p.r_scale = r_scales.empty() ? std::vector<float>(M, 1.f) : r_scales;
  if (c.has(3)) {
    p.int8_residual = c.dtype(3) == DataType::kInt8;
    if (!p.int8_residual && c.dtype(3) != DataType::kFloat32)
      return c.invalid("residual must be int8 or float32, got ", dataTypeName(c.dtype(3)));
  }
  return p;
}

Dims outputDims(const QConvParams& p) {
  if (p.linear) return {p.conv.N, p.conv.M};
  Dims out = {p.conv.N, p.conv.M};
  for (int i = 3 - p.conv.g.nsp; i < 3; ++i) out.push_back(p.conv.g.out[i]);
  return out;
}

Status inferQConv(NodeContext& c) {
  QConvParams p;
  EDGERT_TRY_ATTR(p, parseQConv(c));
  const Dims out = outputDims(p);
  if (c.has(3) && c.dims(3) != out)
    return c.invalid("fused residual ", dimsToString(c.dims(3)), " does not match the output ",
                     dimsToString(out));
  c.setOutput(0, p.inv_y.empty() ? DataType::kFloat32 : DataType::kInt8, out);
  return Status::Ok();
}

constexpr int64_t kRun = 256;  // outputs per accumulator run (1 KiB of int32)

// The epilogue over a run of outputs of one channel (see kernels/int8_math.h for the order).
struct Epi {
  const QConvParams& p;
  const float* scale;
  const float* bias;
  const void* residual;
  void* y;
  void storeRun(int64_t base, int64_t m, const int32_t* acc, int64_t n) const {
    float v[kRun];
    const float s = scale[m], b = bias ? bias[m] : 0.f;
    for (int64_t i = 0; i < n; ++i) v[i] = requantReal(acc[i], s, b);
    if (residual) {
      if (p.int8_residual) {
        const int8_t* r = static_cast<const int8_t*>(residual) + base;
        const float rs = p.r_scale[m];
        for (int64_t i = 0; i < n; ++i) v[i] = addRn(v[i], mulRn(float(r[i]), rs));
      } else {
        const float* r = static_cast<const float*>(residual) + base;
        const float rs = p.r_scale[m];
        for (int64_t i = 0; i < n; ++i) v[i] = addRn(v[i], mulRn(r[i], rs));
      }
    }
    const Epilogue& e = p.conv.epi;
    // int8Act with a constant code in each loop, so the common ones vectorise.
    if (e.act == Act::kRelu) {
      for (int64_t i = 0; i < n; ++i) v[i] = int8Act(1, v[i], e.alpha, e.beta);
    } else if (e.act == Act::kClip) {
      for (int64_t i = 0; i < n; ++i) v[i] = int8Act(2, v[i], e.alpha, e.beta);
    } else if (e.act != Act::kNone) {
      for (int64_t i = 0; i < n; ++i)
        v[i] = int8Act(static_cast<int>(e.act), v[i], e.alpha, e.beta);
    }
    if (!p.inv_y.empty()) {
      int8_t* o = static_cast<int8_t*>(y) + base;
      const float iy = p.inv_y[m];
      for (int64_t i = 0; i < n; ++i) o[i] = saturateToInt8(mulRn(v[i], iy));
    } else {
      std::copy(v, v + n, static_cast<float*>(y) + base);
    }
  }
};

// Dot products along the reduction dim, both operands contiguous: the compiler turns this
// into widening multiply-adds (vpmaddwd on x86, sdot/smlal on Arm).
inline int32_t dotInt8(const int8_t* a, const int8_t* b, int64_t n) {
  int32_t acc = 0;
  for (int64_t k = 0; k < n; ++k) acc += int32_t{a[k]} * int32_t{b[k]};
  return acc;
}

Status runQConv(const QConvParams& p, const KernelArgs& a) {
  const ConvParams& cp = p.conv;
  const int8_t* x = a.in[0].as<int8_t>();
  const int8_t* w = a.in[1].as<int8_t>();
  const Epi epi{p, a.in[4].as<float>(), a.in[2].data ? a.in[2].as<float>() : nullptr,
                a.in.size() > 3 ? a.in[3].data : nullptr, a.out[0].data};
  int32_t acc[kRun];
  if (p.linear) {
    for (int64_t n = 0; n < cp.N; ++n)
      for (int64_t m0 = 0; m0 < cp.M; m0 += kRun) {
        const int64_t nm = std::min(kRun, cp.M - m0);
        // One output row: consecutive channels, each with its own scale.
        for (int64_t i = 0; i < nm; ++i) {
          acc[0] = dotInt8(x + n * p.K, w + (m0 + i) * p.K, p.K);
          epi.storeRun(n * cp.M + m0 + i, m0 + i, acc, 1);
        }
      }
    return Status::Ok();
  }
  const Geometry& g = cp.g;
  const int64_t cg = cp.C / cp.G, mg = cp.M / cp.G, kdim = cg * g.kVol(), ov = g.outVol();
  int8_t* cols = static_cast<int8_t*>(a.scratch);
  for (int64_t n = 0; n < cp.N; ++n)
    for (int64_t grp = 0; grp < cp.G; ++grp) {
      const int8_t* xg = x + (n * cp.C + grp * cg) * g.inVol();
      const int8_t* b = xg;
      if (!cp.pointwise) {
        im2col3d<int8_t>(g, cg, xg, cols, p.x_pad);
        b = cols;
      }
      // Outer products over a run of output pixels: no horizontal sums, and each int8 x int8
      // product fits int16 (|127 * -128| < 2^15), so the multiply is a 16-bit one.
      for (int64_t p0 = 0; p0 < ov; p0 += kRun) {
        const int64_t np = std::min(kRun, ov - p0);
        for (int64_t mm = 0; mm < mg; ++mm) {
          const int64_t m = grp * mg + mm;
          const int8_t* wr = w + m * kdim;
          std::fill(acc, acc + np, 0);
          for (int64_t k = 0; k < kdim; ++k) {
            const int16_t wv = wr[k];
            const int8_t* br = b + k * ov + p0;
            for (int64_t q = 0; q < np; ++q) acc[q] += static_cast<int16_t>(wv * br[q]);
          }
          epi.storeRun((n * cp.M + m) * ov + p0, m, acc, np);
        }
      }
    }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createQConv(const NodeContext& c) {
  QConvParams p;
  EDGERT_TRY_ATTR(p, parseQConv(c));
  size_t scratch = 0;
  if (!p.linear && !p.conv.pointwise)  // one group's columns
    scratch = static_cast<size_t>(p.conv.C / p.conv.G * p.conv.g.kVol() * p.conv.g.outVol());
  return makeKernel(std::move(p), &runQConv, scratch);
}

}  // namespace

// Weights and accumulator scales are constants: the builder quantised them.
extern const OpDef kOpEdgertQConv = {"EdgertQConv",         2,          5,          1, 1,
                                     (1u << 1) | (1u << 4), inferQConv, createQConv};

}  // namespace edgert::ops
