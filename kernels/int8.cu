// INT8 kernels (issue #4): quantise / dequantise, and EdgertQConv's pieces - columns for the
// cuBLASLt IMMA GEMM, the epilogue after it, and a direct convolution for what the GEMM does
// not cover (depthwise, grouped). Every value goes through kernels/int8_math.h in the order
// the CPU reference uses, so integer outputs match it exactly (bar exp/erf/tanh activations,
// whose last float bit may differ between libm and CUDA).
#include <cuda_fp16.h>

#include <type_traits>

#include "int8_math.h"
#include "kernel_params.h"
#include "sm80_copy.h"
#include "sm90_tma.h"

namespace {

// A kernel-side residual kind beside EdgertQRes's: int8 residuals the kernel's producer has
// already copied into shared memory.
constexpr int kQResS8Smem = 16;

template <class T>
__device__ __forceinline__ float int8SourceToFloat(T v) {
  return static_cast<float>(v);
}
template <>
__device__ __forceinline__ float int8SourceToFloat<__half>(__half v) {
  return __half2float(v);
}

template <class D>
__device__ __forceinline__ D saturateTo(float v);
template <>
__device__ __forceinline__ int8_t saturateTo<int8_t>(float v) {
  return saturateToInt8(v);
}
template <>
__device__ __forceinline__ uint8_t saturateTo<uint8_t>(float v) {
  return saturateToUInt8(v);
}

// y[i] = sat(round(x[i] / scale[ch]) + zp[ch]), ch = (i / inner) % channels (NHWC per-channel:
// inner 1, channels C). `zp` may be null.
template <class S, class D>
__device__ void quantize(D* y, const S* x, long long n, long long channels, long long inner,
                         const float* scale, const float* zp) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ch = (i / inner) % channels;
    y[i] = saturateTo<D>(quantizedValue(int8SourceToFloat(x[i]), scale[ch], zp ? zp[ch] : 0.f));
  }
}

// y[i] = (x[i] - zp[ch]) * scale[ch], the subtraction in int64 as the CPU does.
template <class S, class D>
__device__ void dequantize(D* y, const S* x, long long n, long long channels, long long inner,
                           const float* scale, const long long* zp) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ch = (i / inner) % channels;
    const float v =
        __fmul_rn(static_cast<float>(static_cast<long long>(x[i]) - (zp ? zp[ch] : 0)), scale[ch]);
    if constexpr (sizeof(D) == 2)
      y[i] = __float2half_rn(v);
    else
      y[i] = v;
  }
}

// Output element i (row i / m, channel i % m) from its int32 accumulator.
__device__ __forceinline__ void storeQ(const EdgertQEpi& e, long long i, int m, int acc, void* y) {
  const float* scale = reinterpret_cast<const float*>(e.acc_scale);
  const float* bias = reinterpret_cast<const float*>(e.bias);
  float v = requantReal(acc, scale[m], bias ? bias[m] : 0.f);
  if (e.res_kind != kQResNone) {
    const float rs = reinterpret_cast<const float*>(e.r_scale)[m];
    float r;
    if (e.res_kind == kQResS8)
      r = static_cast<float>(reinterpret_cast<const int8_t*>(e.res)[i]);
    else if (e.res_kind == kQResF16)
      r = __half2float(reinterpret_cast<const __half*>(e.res)[i]);
    else
      r = reinterpret_cast<const float*>(e.res)[i];
    v = addRn(v, mulRn(r, rs));
  }
  v = int8Act(e.act, v, e.alpha, e.beta);
  if (e.out_kind == kQOutS8)
    static_cast<int8_t*>(y)[i] =
        saturateToInt8(mulRn(v, reinterpret_cast<const float*>(e.inv_y)[m]));
  else if (e.out_kind == kQOutF16)
    static_cast<__half*>(y)[i] = __float2half_rn(v);
  else
    static_cast<float*>(y)[i] = v;
}

// The residuals of output elements i..i+3 as floats (kind RK, i % 4 == 0).
template <int RK>
__device__ __forceinline__ void loadRes4(const EdgertQEpi& e, long long i, float (&r)[4]) {
  if constexpr (RK == kQResS8) {
    const char4 q = *reinterpret_cast<const char4*>(reinterpret_cast<const int8_t*>(e.res) + i);
    r[0] = q.x, r[1] = q.y, r[2] = q.z, r[3] = q.w;
  } else if constexpr (RK == kQResF16) {
    const uint2 h = *reinterpret_cast<const uint2*>(reinterpret_cast<const __half*>(e.res) + i);
    const float2 lo = __half22float2(*reinterpret_cast<const __half2*>(&h.x));
    const float2 hi = __half22float2(*reinterpret_cast<const __half2*>(&h.y));
    r[0] = lo.x, r[1] = lo.y, r[2] = hi.x, r[3] = hi.y;
  } else if constexpr (RK == kQResF32) {
    const float4 f = *reinterpret_cast<const float4*>(reinterpret_cast<const float*>(e.res) + i);
    r[0] = f.x, r[1] = f.y, r[2] = f.z, r[3] = f.w;
  }
}

// The layer's activation: ACT 0 (none) and 2 (Clip(alpha, beta), which is also how Relu runs:
// the host gives a Relu layer alpha 0 and beta +inf, the same results bit for bit) known at
// compile time, saving the per-element dispatch of int8Act, and -1 for any. Relu as its own
// instance once left the unsigned (zero point -128) outputs, whose Relu is a shifted Clip, on
// the generic path: ResNet-50 INT8 bs128 4.68 ms against 2.50 with symmetric activations.
template <int ACT>
__device__ __forceinline__ float actOf(const EdgertQEpi& e, float v) {
  if constexpr (ACT == 0)
    return v;
  else if constexpr (ACT == 2)
    return int8Act(2, v, e.alpha, e.beta);
  else
    return int8Act(e.act, v, e.alpha, e.beta);
}

// Calls f(std::integral_constant<int, ACT>) with the layer's activation class.
template <class F>
__device__ __forceinline__ void withAct(const EdgertQEpi& e, F&& f) {
  if (e.act == 0)
    f(std::integral_constant<int, 0>{});
  else if (e.act == 1 || e.act == 2)
    f(std::integral_constant<int, 2>{});
  else
    f(std::integral_constant<int, -1>{});
}

// Activation and store of four consecutive channels (m % 4 == 0) of output element i..i+3;
// `iy` holds their output scale inverses when the output is int8.
template <int ACT = -1>
__device__ __forceinline__ void finishQ4(const EdgertQEpi& e, long long i, float (&v)[4],
                                         const float4& iy, void* y) {
#pragma unroll
  for (int j = 0; j < 4; ++j) v[j] = actOf<ACT>(e, v[j]);
  if (e.out_kind == kQOutS8) {
    char4 q;
    q.x = saturateToInt8(mulRn(v[0], iy.x));
    q.y = saturateToInt8(mulRn(v[1], iy.y));
    q.z = saturateToInt8(mulRn(v[2], iy.z));
    q.w = saturateToInt8(mulRn(v[3], iy.w));
    *reinterpret_cast<char4*>(static_cast<int8_t*>(y) + i) = q;
  } else if (e.out_kind == kQOutF16) {
    uint2 h;
    *reinterpret_cast<__half2*>(&h.x) = __floats2half2_rn(v[0], v[1]);
    *reinterpret_cast<__half2*>(&h.y) = __floats2half2_rn(v[2], v[3]);
    *reinterpret_cast<uint2*>(static_cast<__half*>(y) + i) = h;
  } else {
    *reinterpret_cast<float4*>(static_cast<float*>(y) + i) = make_float4(v[0], v[1], v[2], v[3]);
  }
}

__device__ __forceinline__ float4 channelConst4(unsigned long long p, int m) {
  return p ? *reinterpret_cast<const float4*>(reinterpret_cast<const float*>(p) + m)
           : make_float4(0.f, 0.f, 0.f, 0.f);
}

// The int8 store of four consecutive channels with no residual, their constants (acc_scale,
// bias, inv_y) already in registers: for the dp4a kernels, which load them once for many pixels
// (storeQ4 loads them per call, and finishQ4's output-kind branches in a pixel loop made the
// pointwise kernel's blocks.1 layer 0.184 -> 0.250 ms).
template <int ACT>
__device__ __forceinline__ void storeS8Q4(const EdgertQEpi& e, const int* acc, const float4& s,
                                          const float4& b, const float4& iy, int8_t* dst) {
  char4 q;
  q.x = saturateToInt8(mulRn(actOf<ACT>(e, requantReal(acc[0], s.x, b.x)), iy.x));
  q.y = saturateToInt8(mulRn(actOf<ACT>(e, requantReal(acc[1], s.y, b.y)), iy.y));
  q.z = saturateToInt8(mulRn(actOf<ACT>(e, requantReal(acc[2], s.z, b.z)), iy.z));
  q.w = saturateToInt8(mulRn(actOf<ACT>(e, requantReal(acc[3], s.w, b.w)), iy.w));
  *reinterpret_cast<char4*>(dst) = q;
}

// Four consecutive channels m..m+3 of output element i..i+3 (m % 4 == 0 and the channel count a
// multiple of 4, so every vector access is aligned): the same arithmetic as storeQ, with
// 16-byte constant loads and one store.
template <int ACT = -1>
__device__ __forceinline__ void storeQ4(const EdgertQEpi& e, long long i, int m, const int* acc,
                                        void* y) {
  const float4 s = channelConst4(e.acc_scale, m), b = channelConst4(e.bias, m);
  float v[4] = {requantReal(acc[0], s.x, b.x), requantReal(acc[1], s.y, b.y),
                requantReal(acc[2], s.z, b.z), requantReal(acc[3], s.w, b.w)};
  if (e.res_kind != kQResNone) {
    const float4 rs = channelConst4(e.r_scale, m);
    float r[4];
    if (e.res_kind == kQResS8)
      loadRes4<kQResS8>(e, i, r);
    else if (e.res_kind == kQResF16)
      loadRes4<kQResF16>(e, i, r);
    else
      loadRes4<kQResF32>(e, i, r);
    v[0] = addRn(v[0], mulRn(r[0], rs.x));
    v[1] = addRn(v[1], mulRn(r[1], rs.y));
    v[2] = addRn(v[2], mulRn(r[2], rs.z));
    v[3] = addRn(v[3], mulRn(r[3], rs.w));
  }
  finishQ4<ACT>(e, i, v, e.out_kind == kQOutS8 ? channelConst4(e.inv_y, m) : float4{}, y);
}

// Byte K of w (a signed int8), sign-extended by one byte permute.
template <int K>
__device__ __forceinline__ int s8ToInt(unsigned w) {
  int v;
  asm("prmt.b32 %0, %1, 0, %2;" : "=r"(v) : "r"(w), "n"(0x8880 + K * 0x1111));
  return v;
}

// Byte K of w as a float: the permute, then a 32-bit integer conversion (I2FP, an ALU-rate
// instruction). A char's own conversion is I2F.S8, which shares the quarter-rate conversion
// unit with the output's F2I; per output the residual epilogues needed that unit twice. The
// asm keeps ptxas from folding the permute back into I2F.S8.
template <int K>
__device__ __forceinline__ float s8ToFloat(unsigned w) {
  return __int2float_rn(s8ToInt<K>(w));
}

// The fused epilogue of a ROWS x COLS accumulator tile staged in shared memory (`ld` ints per
// row) by NW warps: COLS / 4 lanes take a row, each four consecutive channels, so loads and
// stores are whole vectors. Once the accumulators are in shared memory their registers are
// free, so the lane's channel constants are loaded once and the residuals of 8 rows are
// requested before the first is used: one memory latency per 8 rows, not per row (storeQ4 per
// row waited on each).
// RK kQResS8Smem: the int8 residual tile is in shared memory at `rsm` (ROWS x COLS bytes, the
// tile's rows and columns), loaded there by the kernel's producer.
template <int ROWS, int COLS, int NW, int RK, int ACT>
__device__ __forceinline__ void epilogueTile(const int* cs, int ld, const EdgertQEpi& e,
                                             long long p0, int n0, long long rows, long long row0,
                                             void* y, const int8_t* rsm = nullptr) {
  constexpr int kLanesPerRow = COLS / 4, kRowsPerStep = 32 / kLanesPerRow * NW;
  static_assert(32 % kLanesPerRow == 0 && ROWS % kRowsPerStep == 0, "whole rows per step");
  // The warp's index among the NW that share the tile (a warpgroup's four, or the block's).
  const int lane = threadIdx.x & 31, warp = (threadIdx.x >> 5) % NW;
  const int col = lane % kLanesPerRow * 4,
            r_first = warp * (32 / kLanesPerRow) + lane / kLanesPerRow;
  const int m = n0 + col;
  if (m >= e.m) return;
  if (e.m % 4 != 0) {
    for (int r = r_first; r < ROWS && p0 + r < rows; r += kRowsPerStep)
      for (int k = 0; k < 4 && m + k < e.m; ++k)
        storeQ(e, (row0 + p0 + r) * e.m + m + k, m + k, cs[r * ld + col + k], y);
    return;
  }
  const float4 s = channelConst4(e.acc_scale, m), b = channelConst4(e.bias, m);
  const float4 rs = RK != kQResNone ? channelConst4(e.r_scale, m) : float4{};
  const float4 iy = e.out_kind == kQOutS8 ? channelConst4(e.inv_y, m) : float4{};
  constexpr int kSteps = ROWS / kRowsPerStep;
  if (ACT != -1 && e.out_kind == kQOutS8 && p0 + ROWS <= rows) {
    // The common case - int8 out, every row of the tile in range - without a bound check or a
    // 64-bit index per row: pointers step by whole row steps, and with no per-row `break` (as
    // below) the compiler batches the rows' shared-memory loads. ncu on ResNet-50's layer1 1x1
    // convolutions: 15.5 -> 13 instructions per output.
    const long long step = static_cast<long long>(kRowsPerStep) * e.m;
    int8_t* yq = static_cast<int8_t*>(y) + (row0 + p0 + r_first) * e.m + m;
    unsigned raw[RK == kQResS8 ? kSteps : 1];
    if constexpr (RK == kQResS8) {
      const int8_t* rq = reinterpret_cast<const int8_t*>(e.res) + (row0 + p0 + r_first) * e.m + m;
#pragma unroll
      for (int u = 0; u < kSteps; ++u, rq += step) raw[u] = *reinterpret_cast<const unsigned*>(rq);
    }
#pragma unroll
    for (int u = 0; u < kSteps; ++u, yq += step) {
      const int r = r_first + u * kRowsPerStep;
      const int4 a = *reinterpret_cast<const int4*>(cs + r * ld + col);
      float res[4];
      if constexpr (RK == kQResF16 || RK == kQResF32)
        loadRes4<RK>(e, (row0 + p0 + r_first + u * kRowsPerStep) * e.m + m, res);
      float v[4] = {requantReal(a.x, s.x, b.x), requantReal(a.y, s.y, b.y),
                    requantReal(a.z, s.z, b.z), requantReal(a.w, s.w, b.w)};
      if constexpr (RK == kQResS8 || RK == kQResS8Smem) {
        const unsigned q =
            RK == kQResS8 ? raw[u] : *reinterpret_cast<const unsigned*>(rsm + r * COLS + col);
        v[0] = addRn(v[0], mulRn(s8ToFloat<0>(q), rs.x));
        v[1] = addRn(v[1], mulRn(s8ToFloat<1>(q), rs.y));
        v[2] = addRn(v[2], mulRn(s8ToFloat<2>(q), rs.z));
        v[3] = addRn(v[3], mulRn(s8ToFloat<3>(q), rs.w));
      } else if constexpr (RK != kQResNone) {
        v[0] = addRn(v[0], mulRn(res[0], rs.x));
        v[1] = addRn(v[1], mulRn(res[1], rs.y));
        v[2] = addRn(v[2], mulRn(res[2], rs.z));
        v[3] = addRn(v[3], mulRn(res[3], rs.w));
      }
      char4 q;
      q.x = saturateToInt8(mulRn(actOf<ACT>(e, v[0]), iy.x));
      q.y = saturateToInt8(mulRn(actOf<ACT>(e, v[1]), iy.y));
      q.z = saturateToInt8(mulRn(actOf<ACT>(e, v[2]), iy.z));
      q.w = saturateToInt8(mulRn(actOf<ACT>(e, v[3]), iy.w));
      *reinterpret_cast<char4*>(yq) = q;
    }
    return;
  }
  // int8 residuals are requested for all of the lane's rows at once and kept as raw words
  // (one register a row, converted at use): one memory latency per tile, not one per 8 rows.
  constexpr int U = RK == kQResS8 ? kSteps : kSteps < 8 ? kSteps : 8;
  for (int rb = r_first; rb < ROWS; rb += U * kRowsPerStep) {
    float res[RK == kQResS8 || RK == kQResNone ? 1 : U][4];
    unsigned raw[RK == kQResS8 ? U : 1];
    if constexpr (RK == kQResS8) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const long long p = p0 + rb + u * kRowsPerStep;
        if (p < rows)
          raw[u] = *reinterpret_cast<const unsigned*>(reinterpret_cast<const int8_t*>(e.res) +
                                                      (row0 + p) * e.m + m);
      }
    } else if constexpr (RK != kQResNone) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const long long p = p0 + rb + u * kRowsPerStep;
        if (p < rows) loadRes4<RK>(e, (row0 + p) * e.m + m, res[u]);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int r = rb + u * kRowsPerStep;
      const long long p = p0 + r;
      if (p >= rows) break;
      const int4 a = *reinterpret_cast<const int4*>(cs + r * ld + col);
      float v[4] = {requantReal(a.x, s.x, b.x), requantReal(a.y, s.y, b.y),
                    requantReal(a.z, s.z, b.z), requantReal(a.w, s.w, b.w)};
      if constexpr (RK == kQResS8 || RK == kQResS8Smem) {
        const char4 q = RK == kQResS8 ? *reinterpret_cast<const char4*>(&raw[u])
                                      : *reinterpret_cast<const char4*>(rsm + r * COLS + col);
        v[0] = addRn(v[0], mulRn(static_cast<float>(q.x), rs.x));
        v[1] = addRn(v[1], mulRn(static_cast<float>(q.y), rs.y));
        v[2] = addRn(v[2], mulRn(static_cast<float>(q.z), rs.z));
        v[3] = addRn(v[3], mulRn(static_cast<float>(q.w), rs.w));
      } else if constexpr (RK != kQResNone) {
        v[0] = addRn(v[0], mulRn(res[u][0], rs.x));
        v[1] = addRn(v[1], mulRn(res[u][1], rs.y));
        v[2] = addRn(v[2], mulRn(res[u][2], rs.z));
        v[3] = addRn(v[3], mulRn(res[u][3], rs.w));
      }
      finishQ4<ACT>(e, (row0 + p) * e.m + m, v, iy, y);
    }
  }
}

template <int ROWS, int COLS, int NW>
__device__ __forceinline__ void epilogueTile(const int* cs, int ld, const EdgertQEpi& e,
                                             long long p0, int n0, long long rows, long long row0,
                                             void* y) {
  withAct(e, [&](auto act) {
    constexpr int A = decltype(act)::value;
    switch (e.res_kind) {
      case kQResS8:
        return epilogueTile<ROWS, COLS, NW, kQResS8, A>(cs, ld, e, p0, n0, rows, row0, y);
      case kQResF16:
        return epilogueTile<ROWS, COLS, NW, kQResF16, A>(cs, ld, e, p0, n0, rows, row0, y);
      case kQResF32:
        return epilogueTile<ROWS, COLS, NW, kQResF32, A>(cs, ld, e, p0, n0, rows, row0, y);
      default:
        return epilogueTile<ROWS, COLS, NW, kQResNone, A>(cs, ld, e, p0, n0, rows, row0, y);
    }
  });
}

}  // namespace

#define EDGERT_QUANTIZE(NAME, S, D)                                                       \
  extern "C" __global__ void NAME(D* y, const S* x, long long n, long long channels,      \
                                  long long inner, const float* scale, const float* zp) { \
    quantize<S, D>(y, x, n, channels, inner, scale, zp);                                  \
  }
EDGERT_QUANTIZE(edgert_quantize_f32_s8, float, int8_t)
EDGERT_QUANTIZE(edgert_quantize_f32_u8, float, uint8_t)
EDGERT_QUANTIZE(edgert_quantize_f16_s8, __half, int8_t)
EDGERT_QUANTIZE(edgert_quantize_f16_u8, __half, uint8_t)

// One scale for the whole tensor (what calibration gives activations), fp16 in, n % 8 == 0:
// eight values per thread, 16-byte loads and 8-byte stores. The kernel above divides its
// 64-bit index per element to find the channel; on ResNet-50's 25.7M-value tensors at batch 128
// it ran at a fifth of memory bandwidth (0.125 ms on an H100).
template <class D>
__device__ void quantizeTensor8(D* y, const __half* x, long long n8, const float* scale,
                                const float* zp) {
  const float s = scale[0], z = zp ? zp[0] : 0.f;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n8;
       i += (long long)gridDim.x * blockDim.x) {
    const uint4 h = reinterpret_cast<const uint4*>(x)[i];
    const __half* hv = reinterpret_cast<const __half*>(&h);
    union {
      D q[8];
      uint2 u;
    } out;
#pragma unroll
    for (int j = 0; j < 8; ++j) out.q[j] = saturateTo<D>(quantizedValue(__half2float(hv[j]), s, z));
    reinterpret_cast<uint2*>(y)[i] = out.u;
  }
}
extern "C" __global__ void edgert_quantize8_f16_s8(int8_t* y, const __half* x, long long n8,
                                                   const float* scale, const float* zp) {
  quantizeTensor8(y, x, n8, scale, zp);
}
extern "C" __global__ void edgert_quantize8_f16_u8(uint8_t* y, const __half* x, long long n8,
                                                   const float* scale, const float* zp) {
  quantizeTensor8(y, x, n8, scale, zp);
}

// QuantizeLinear of an NCHW float32 image (C <= 4 planes of hw pixels, hw % 4 == 0) straight
// into NHWC: four pixels a thread, one scale. The float32 values themselves are quantised, as
// the CPU reference does (the NHWC fp16 route rounded them to fp16 first).
template <int C, class D>
__device__ void quantizeImage(D* y, const float* x, long long n, long long hw, const float* scale,
                              const float* zp) {
  const float s = scale[0], z = zp ? zp[0] : 0.f;
  const long long quads = hw / 4, total = n * quads;
  // A plane's four pixels as one 16-byte load where the input allows (hw % 4 == 0 keeps every
  // plane's quads aligned with it).
  const bool vec = (reinterpret_cast<unsigned long long>(x) & 15) == 0;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long img = i / quads, p = (i - img * quads) * 4;
    const float* src = x + img * C * hw + p;
    union {
      D q[4 * C];
      unsigned w[C];
    } out;
#pragma unroll
    for (int k = 0; k < C; ++k) {
      float v[4];
      if (vec) {
        const float4 f = *reinterpret_cast<const float4*>(src + k * hw);
        v[0] = f.x, v[1] = f.y, v[2] = f.z, v[3] = f.w;
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) v[j] = src[k * hw + j];
      }
#pragma unroll
      for (int j = 0; j < 4; ++j) out.q[j * C + k] = saturateTo<D>(quantizedValue(v[j], s, z));
    }
    unsigned* dst = reinterpret_cast<unsigned*>(y + (img * hw + p) * C);  // 4 C bytes: aligned
#pragma unroll
    for (int k = 0; k < C; ++k) dst[k] = out.w[k];
  }
}
template <class D>
__device__ void quantizeImageAnyC(D* y, const float* x, long long n, int c, long long hw,
                                  const float* scale, const float* zp) {
  switch (c) {
    case 1:
      return quantizeImage<1>(y, x, n, hw, scale, zp);
    case 2:
      return quantizeImage<2>(y, x, n, hw, scale, zp);
    case 3:
      return quantizeImage<3>(y, x, n, hw, scale, zp);
    default:
      return quantizeImage<4>(y, x, n, hw, scale, zp);
  }
}
extern "C" __global__ void edgert_quantize_image_s8(int8_t* y, const float* x, long long n, int c,
                                                    long long hw, const float* scale,
                                                    const float* zp) {
  quantizeImageAnyC(y, x, n, c, hw, scale, zp);
}
extern "C" __global__ void edgert_quantize_image_u8(uint8_t* y, const float* x, long long n, int c,
                                                    long long hw, const float* scale,
                                                    const float* zp) {
  quantizeImageAnyC(y, x, n, c, hw, scale, zp);
}

#define EDGERT_DEQUANTIZE(NAME, S, D)                                                         \
  extern "C" __global__ void NAME(D* y, const S* x, long long n, long long channels,          \
                                  long long inner, const float* scale, const long long* zp) { \
    dequantize<S, D>(y, x, n, channels, inner, scale, zp);                                    \
  }
EDGERT_DEQUANTIZE(edgert_dequantize_s8_f32, int8_t, float)
EDGERT_DEQUANTIZE(edgert_dequantize_u8_f32, uint8_t, float)
EDGERT_DEQUANTIZE(edgert_dequantize_s32_f32, int, float)
EDGERT_DEQUANTIZE(edgert_dequantize_s8_f16, int8_t, __half)

// The kernels below split flat indices into coordinates with 32-bit division when the index
// space fits (I = unsigned; 64-bit division is a long software sequence, and it dominated these
// kernels at batch 128), else 64-bit (I = unsigned long long). The kernels pick by a uniform
// branch on the total.
namespace {

// Columns of one group-1 convolution (EdgertIm2col), four bytes (one int) per thread: when C
// is a multiple of 4 the four are one tap's consecutive channels, read as one int.
template <class I>
__device__ void im2col(int* cols, const int8_t* x, const EdgertIm2col& p, I total) {
  const EdgertQConvGeom& g = p.g;
  const I kq = static_cast<I>(p.kp / 4), C = static_cast<I>(g.c), OW = static_cast<I>(g.ow),
          OH = static_cast<I>(g.oh), KW = static_cast<I>(g.kw);
  const I K = static_cast<I>(g.kh) * KW * C;
  // Each column's (kh * dh, kw * dw, c) from a table the block fills once: the per-byte
  // divisions made this kernel compute-bound on 3-channel stems (ncu: 72% SM, 4% DRAM).
  constexpr int kTab = 2048;
  __shared__ short4 tab[kTab];
  const bool use_tab = K <= static_cast<I>(kTab) && g.kh * g.dh < 32768 && g.kw * g.dw < 32768;
  if (use_tab) {
    for (I k = threadIdx.x; k < K; k += blockDim.x) {
      const I tap = k / C, c = k - tap * C, kh = tap / KW, kw = tap - kh * KW;
      tab[k] = make_short4(static_cast<short>(kh * g.dh), static_cast<short>(kw * g.dw),
                           static_cast<short>(c), 0);
    }
    __syncthreads();
  }
  for (I t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const I rl = t / kq;
    const I k0 = (t - rl * kq) * 4;
    const I row = static_cast<I>(p.row0) + rl;
    const I orow = row / OW, ow = row - orow * OW, n = orow / OH, oh = orow - n * OH;
    const long long ih0 = static_cast<long long>(oh) * g.sh - g.ph;
    const long long iw0 = static_cast<long long>(ow) * g.sw - g.pw;
    int word = 0;
    for (I b = 0; b < 4; ++b) {
      const I k = k0 + b;
      if (k >= K) break;
      long long ih, iw;
      I c;
      if (use_tab) {
        const short4 e = tab[k];
        ih = ih0 + e.x;
        iw = iw0 + e.y;
        c = static_cast<I>(e.z);
      } else {
        const I tap = k / C, kh = tap / KW, kw = tap - kh * KW;
        c = k - tap * C;
        ih = ih0 + static_cast<long long>(kh) * g.dh;
        iw = iw0 + static_cast<long long>(kw) * g.dw;
      }
      if (ih < 0 || ih >= g.ih || iw < 0 || iw >= g.iw) {
        if (C % 4 == 0) break;  // the whole word is one tap: all padding
        continue;
      }
      const long long at = ((static_cast<long long>(n) * g.ih + ih) * g.iw + iw) * g.c + c;
      if (C % 4 == 0) {
        word = *reinterpret_cast<const int*>(x + at);
        break;
      }
      word |= static_cast<int>(static_cast<unsigned char>(x[at])) << (8 * b);
    }
    cols[t] = word;
  }
}

template <class I>
__device__ void epilogue(void* y, const int* acc, const EdgertQEpi& e, long long row0, I total,
                         bool four) {
  const I per = static_cast<I>(four ? e.m / 4 : e.m);
  for (I t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const I r = t / per;
    const int m = static_cast<int>(t - r * per) * (four ? 4 : 1);
    const long long i = (row0 + static_cast<long long>(r)) * e.m + m;
    const int* a = acc + static_cast<long long>(r) * e.ld + m;
    if (four) {
      const int4 v = *reinterpret_cast<const int4*>(a);
      const int vv[4] = {v.x, v.y, v.z, v.w};
      storeQ4(e, i, m, vv, y);
    } else {
      storeQ(e, i, m, *a, y);
    }
  }
}

template <class I>
__device__ void qconvDirect(void* y, const int8_t* x, const int8_t* w, const EdgertQConvGeom& g,
                            const EdgertQEpi& e, I total) {
  const I M = static_cast<I>(g.m), OW = static_cast<I>(g.ow), OH = static_cast<I>(g.oh);
  for (I t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const I pix = t / M;
    const int m = static_cast<int>(t - pix * M);
    const I orow = pix / OW, ow = pix - orow * OW, n = orow / OH, oh = orow - n * OH;
    const int c0 = (m / g.mg) * g.cg;
    const int8_t* wm = w + static_cast<long long>(m) * g.kh * g.kw * g.cg;
    int acc = 0;
    for (int kh = 0; kh < g.kh; ++kh) {
      const long long ih = static_cast<long long>(oh) * g.sh - g.ph + kh * g.dh;
      const bool row_in = ih >= 0 && ih < g.ih;
      for (int kw = 0; kw < g.kw; ++kw) {
        const long long iw = static_cast<long long>(ow) * g.sw - g.pw + kw * g.dw;
        const int8_t* wp = wm + (kh * g.kw + kw) * g.cg;
        if (!row_in || iw < 0 || iw >= g.iw) {
          if (g.xpad)
            for (int c = 0; c < g.cg; ++c) acc += g.xpad * static_cast<int>(wp[c]);
          continue;
        }
        const int8_t* xp = x + ((static_cast<long long>(n) * g.ih + ih) * g.iw + iw) * g.c + c0;
        for (int c = 0; c < g.cg; ++c) acc += static_cast<int>(xp[c]) * static_cast<int>(wp[c]);
      }
    }
    storeQ(e, static_cast<long long>(t), m, acc, y);
  }
}

template <class I>
__device__ void qconvDw4(void* y, const int8_t* x, const int8_t* w, const EdgertQConvGeom& g,
                         const EdgertQEpi& e, I total) {
  const I c4 = static_cast<I>(g.c / 4), OW = static_cast<I>(g.ow), OH = static_cast<I>(g.oh);
  for (I t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const I pix = t / c4;
    const int c = static_cast<int>(t - pix * c4) * 4;
    const I orow = pix / OW, ow = pix - orow * OW, n = orow / OH, oh = orow - n * OH;
    int acc[4] = {0, 0, 0, 0};
    const signed char pad = static_cast<signed char>(g.xpad);
    for (int kh = 0; kh < g.kh; ++kh) {
      const long long ih = static_cast<long long>(oh) * g.sh - g.ph + kh * g.dh;
      const bool row_in = ih >= 0 && ih < g.ih;
      if (!row_in && !pad) continue;
      for (int kw = 0; kw < g.kw; ++kw) {
        const long long iw = static_cast<long long>(ow) * g.sw - g.pw + kw * g.dw;
        const bool in = row_in && iw >= 0 && iw < g.iw;
        if (!in && !pad) continue;
        const char4 xv =
            in ? *reinterpret_cast<const char4*>(
                     x + ((static_cast<long long>(n) * g.ih + ih) * g.iw + iw) * g.c + c)
               : make_char4(pad, pad, pad, pad);
        const char4 wv = *reinterpret_cast<const char4*>(w + (kh * g.kw + kw) * g.c + c);
        acc[0] += xv.x * wv.x;
        acc[1] += xv.y * wv.y;
        acc[2] += xv.z * wv.z;
        acc[3] += xv.w * wv.w;
      }
    }
    storeQ4(e, static_cast<long long>(pix) * g.c + c, c, acc, y);
  }
}

constexpr unsigned long long kU32 = 0xffffffffull - 1024ull * 1024ull;  // + grid-stride slack

// Runs `body` with the index type the work needs: 32-bit when `total` (and `also`, any other
// bound the indices reach) fits, where division is several times cheaper, else 64-bit.
template <class F>
__device__ __forceinline__ void withIndexType(unsigned long long total, F&& body,
                                              unsigned long long also = 0) {
  if (total < kU32 && also < kU32)
    body(static_cast<unsigned>(total));
  else
    body(total);
}

}  // namespace

extern "C" __global__ void edgert_im2col_s8(int* cols, const int8_t* x, EdgertIm2col p) {
  withIndexType(
      static_cast<unsigned long long>(p.rows) * (p.kp / 4),
      [&](auto total) { im2col<decltype(total)>(cols, x, p, total); }, p.row0 + p.rows);
}

// NHWC int8 with c channels -> c4 (a multiple of 4, zero-filled): a stem's input for the
// implicit-GEMM kernel's 4-byte runs instead of im2col (ResNet-50's conv1: C = 3).
extern "C" __global__ void edgert_pad_channels_s8(int8_t* y, const int8_t* x, long long pixels,
                                                  int c, int c4) {
  for (long long p = blockIdx.x * (long long)blockDim.x + threadIdx.x; p < pixels;
       p += (long long)gridDim.x * blockDim.x) {
    const int8_t* s = x + p * c;
    for (int j = 0; j < c4; j += 4) {
      char4 v;
      v.x = j < c ? s[j] : 0;
      v.y = j + 1 < c ? s[j + 1] : 0;
      v.z = j + 2 < c ? s[j + 2] : 0;
      v.w = j + 3 < c ? s[j + 3] : 0;
      *reinterpret_cast<char4*>(y + p * c4 + j) = v;
    }
  }
}

// MaxPool over NHWC int8 with V (uint4, unsigned, int8_t) holding 16, 4 or 1 channels: byte-wise
// signed maxima (__vmaxs4). The host checks 32-bit sizes and that every window holds an input
// pixel. Scales need no care: the builder gives the pool's input and output one scale.
namespace {
__device__ __forceinline__ uint4 maxS8(uint4 a, uint4 b) {
  return make_uint4(__vmaxs4(a.x, b.x), __vmaxs4(a.y, b.y), __vmaxs4(a.z, b.z), __vmaxs4(a.w, b.w));
}
__device__ __forceinline__ unsigned maxS8(unsigned a, unsigned b) {
  return __vmaxs4(a, b);
}
__device__ __forceinline__ int8_t maxS8(int8_t a, int8_t b) {
  return a > b ? a : b;
}
template <class V>
__device__ __forceinline__ V lowestS8();
template <>
__device__ __forceinline__ uint4 lowestS8<uint4>() {
  return make_uint4(0x80808080u, 0x80808080u, 0x80808080u, 0x80808080u);
}
template <>
__device__ __forceinline__ unsigned lowestS8<unsigned>() {
  return 0x80808080u;
}
template <>
__device__ __forceinline__ int8_t lowestS8<int8_t>() {
  return -128;
}

template <class V>
__device__ __forceinline__ void maxPoolS8(V* y, const V* x, const EdgertPool& p, long long c) {
  const unsigned cv = static_cast<unsigned>(c / (sizeof(V) == 16  ? 16
                                                 : sizeof(V) == 4 ? 4
                                                                  : 1)),
                 ow = static_cast<unsigned>(p.ow), oh = static_cast<unsigned>(p.oh);
  const int ih = static_cast<int>(p.ih), iw = static_cast<int>(p.iw);
  const unsigned total = static_cast<unsigned>(p.nc) * oh * ow * cv;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % cv, pix = i / cv, ox = pix % ow, rest = pix / ow, oy = rest % oh,
                   b = rest / oh;
    const V* xb = x + static_cast<size_t>(b) * ih * iw * cv + ch;
    V best = lowestS8<V>();
    for (int kh = 0; kh < p.kh; ++kh) {
      const int yy = static_cast<int>(oy) * p.sh - p.ph + kh * p.dh;
      if (yy < 0 || yy >= ih) continue;
      for (int kw = 0; kw < p.kw; ++kw) {
        const int xx = static_cast<int>(ox) * p.sw - p.pw + kw * p.dw;
        if (xx < 0 || xx >= iw) continue;
        best = maxS8(best, xb[static_cast<unsigned>(yy * iw + xx) * cv]);
      }
    }
    y[i] = best;
  }
}
}  // namespace

extern "C" __global__ void edgert_maxpool2d_nhwc_s8x16(uint4* y, const uint4* x, EdgertPool p,
                                                       long long c) {
  maxPoolS8(y, x, p, c);
}
extern "C" __global__ void edgert_maxpool2d_nhwc_s8x4(unsigned* y, const unsigned* x, EdgertPool p,
                                                      long long c) {
  maxPoolS8(y, x, p, c);
}
extern "C" __global__ void edgert_maxpool2d_nhwc_s8(int8_t* y, const int8_t* x, EdgertPool p,
                                                    long long c) {
  maxPoolS8(y, x, p, c);
}

// NHWC int8 -> its space-to-depth copy (EdgertS2dCopy, kernel_params.h; c_out % 16 == 0):
// a stride-2 stem then runs as a stride-1 convolution of 16-byte channel runs (s2dGeom in
// cuda_int8_ops.cpp). A thread per 16 bytes of the copy, four channels per word.
extern "C" __global__ void edgert_space_to_depth2_s8(int8_t* y, const int8_t* x, EdgertS2dCopy p) {
  const int chunks = p.c_out / 16, per_tap = 4 * p.c4;
  const long long total = p.pixels * chunks;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long pix = i / chunks, X = pix % p.w, t = pix / p.w, Y = t % p.h2, n = t / p.h2;
    const int j = static_cast<int>(i % chunks);
    unsigned v[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const int byte = (j * 4 + k) * 4, tap = byte / per_tap, within = byte % per_tap;
      const int quad = within / p.c4, c0 = within % p.c4;
      const long long iy = 2 * Y + (quad >> 1), ix = 2 * (X - p.pad + tap) + (quad & 1);
      unsigned b = 0;
      if (tap < p.taps && iy < p.ih && ix >= 0 && ix < p.iw) {
        const int8_t* s = x + ((n * p.ih + iy) * p.iw + ix) * p.c;
        for (int e = 0; e < 4; ++e)
          if (c0 + e < p.c) b |= static_cast<unsigned>(static_cast<uint8_t>(s[c0 + e])) << (8 * e);
      }
      v[k] = b;
    }
    reinterpret_cast<int4*>(y)[i] = make_int4(static_cast<int>(v[0]), static_cast<int>(v[1]),
                                              static_cast<int>(v[2]), static_cast<int>(v[3]));
  }
}

// After the cuBLASLt GEMM: acc rows [e.rows][e.ld] (int32) -> y rows [e.rows][e.m]. `row0`
// offsets the output and residual rows (the GEMM runs in chunks of rows).
extern "C" __global__ void edgert_qconv_epilogue(void* y, const int* acc, EdgertQEpi e,
                                                 long long row0) {
  withIndexType(static_cast<unsigned long long>(e.rows) * e.m,
                [&](auto total) { epilogue<decltype(total)>(y, acc, e, row0, total, false); });
}

// The same four channels per thread (m % 4 == 0): 16-byte accumulator loads, vector stores.
extern "C" __global__ void edgert_qconv_epilogue4(void* y, const int* acc, EdgertQEpi e,
                                                  long long row0) {
  withIndexType(static_cast<unsigned long long>(e.rows) * (e.m / 4),
                [&](auto total) { epilogue<decltype(total)>(y, acc, e, row0, total, true); });
}

// Any 2-D convolution over NHWC int8, one output per thread (channels innermost, so a warp
// reads consecutive channels). Weights [M][KH][KW][C/groups].
extern "C" __global__ void edgert_qconv_direct(void* y, const int8_t* x, const int8_t* w,
                                               EdgertQConvGeom g, EdgertQEpi e) {
  withIndexType(static_cast<unsigned long long>(g.n * g.oh * g.ow) * g.m,
                [&](auto total) { qconvDirect<decltype(total)>(y, x, w, g, e, total); });
}

// Depthwise convolution over NHWC int8, four channels per thread (C % 4 == 0): one 4-byte load
// of input and of weights ([KH][KW][C]) per tap.
extern "C" __global__ void edgert_qconv_dw4(void* y, const int8_t* x, const int8_t* w,
                                            EdgertQConvGeom g, EdgertQEpi e) {
  withIndexType(static_cast<unsigned long long>(g.n * g.oh * g.ow) * (g.c / 4),
                [&](auto total) { qconvDw4<decltype(total)>(y, x, w, g, e, total); });
}

// Depthwise K x K, stride S over NHWC int8: EDGERT_QCONV_DW8_CHANNELS channels (one vector
// load) and EDGERT_QCONV_DW8_PIXELS consecutive output pixels of one row per thread, so each
// input column loaded serves every output whose window covers it, a tap row's weights are
// loaded once for them, the taps are unrolled and the index arithmetic is shared
// (edgert_qconv_dw4 took 0.42 ms on EfficientNet-Lite0's 144-channel 56 x 56 layer at batch 128,
// ten times its memory time). The products are summed in int32, the same integers as qconvDw4
// and the CPU in any order; the epilogue is storeQ4's.
namespace {

// CH bytes as one vector load (the kernel is instantiated for CH = 8 only).
template <int CH>
struct S8Vec;
template <>
struct S8Vec<8> {
  using T = uint2;
  static __device__ __forceinline__ void words(T v, unsigned (&w)[2]) {
    w[0] = v.x;
    w[1] = v.y;
  }
};

template <int CH>
__device__ __forceinline__ void unpackS8(typename S8Vec<CH>::T v, int (&o)[CH]) {
  unsigned w[CH / 4];
  S8Vec<CH>::words(v, w);
#pragma unroll
  for (int i = 0; i < CH / 4; ++i) {
    o[4 * i + 0] = s8ToInt<0>(w[i]);
    o[4 * i + 1] = s8ToInt<1>(w[i]);
    o[4 * i + 2] = s8ToInt<2>(w[i]);
    o[4 * i + 3] = s8ToInt<3>(w[i]);
  }
}

// CH channels (one CH-byte load) and OUT consecutive output pixels per thread.
template <int K, int S, int CH, int OUT>
__device__ __forceinline__ void qconvDwTile(void* y, const int8_t* x, const int8_t* w,
                                            const EdgertQConvGeom& g, const EdgertQEpi& e,
                                            unsigned total) {
  constexpr int kCols = (OUT - 1) * S + K;
  using V = typename S8Vec<CH>::T;
  const unsigned cv = static_cast<unsigned>(g.c / CH), ow = static_cast<unsigned>(g.ow),
                 oh = static_cast<unsigned>(g.oh), owq = (ow + OUT - 1) / OUT;
  const int ih = static_cast<int>(g.ih), iw = static_cast<int>(g.iw);
  const V* xv = reinterpret_cast<const V*>(x);
  const V* wv = reinterpret_cast<const V*>(w);
  for (unsigned t = blockIdx.x * blockDim.x + threadIdx.x; t < total; t += gridDim.x * blockDim.x) {
    const unsigned ch = t % cv, q = t / cv, oxq = q % owq, r = q / owq, oy = r % oh, n = r / oh;
    const int ox0 = static_cast<int>(oxq) * OUT, ix0 = ox0 * S - g.pw;
    int acc[OUT][CH];
#pragma unroll
    for (int j = 0; j < OUT; ++j)
#pragma unroll
      for (int k = 0; k < CH; ++k) acc[j][k] = 0;
    const V* xb = xv + static_cast<size_t>(n) * ih * iw * cv + ch;
    // Taps outside the input read the zero point (g.xpad); with 0 they are skipped.
    const int pad = g.xpad;
#pragma unroll
    for (int ky = 0; ky < K; ++ky) {
      const int iy = static_cast<int>(oy) * S - g.ph + ky;
      const bool row_in = iy >= 0 && iy < ih;
      if (!row_in && !pad) continue;
      int wk[K][CH];
#pragma unroll
      for (int kx = 0; kx < K; ++kx) unpackS8<CH>(wv[(ky * K + kx) * cv + ch], wk[kx]);
      const V* row = xb + static_cast<size_t>(row_in ? iy : 0) * iw * cv;
#pragma unroll
      for (int col = 0; col < kCols; ++col) {
        const int ix = ix0 + col;
        const bool in = row_in && ix >= 0 && ix < iw;
        if (!in && !pad) continue;
        int v[CH];
        if (in) {
          unpackS8<CH>(row[static_cast<unsigned>(ix) * cv], v);
        } else {
#pragma unroll
          for (int k = 0; k < CH; ++k) v[k] = pad;
        }
#pragma unroll
        for (int j = 0; j < OUT; ++j) {
          const int kx = col - j * S;
          if (kx < 0 || kx >= K) continue;
#pragma unroll
          for (int k = 0; k < CH; ++k) acc[j][k] += v[k] * wk[kx][k];
        }
      }
    }
    const int m = static_cast<int>(ch) * CH;
    withAct(e, [&](auto act) {
      constexpr int A = decltype(act)::value;
#pragma unroll
      for (int j = 0; j < OUT; ++j) {
        if (ox0 + j >= static_cast<int>(ow)) break;
        const long long i = ((static_cast<long long>(n) * oh + oy) * ow + ox0 + j) * g.c + m;
#pragma unroll
        for (int k = 0; k < CH; k += 4) storeQ4<A>(e, i + k, m + k, acc[j] + k, y);
      }
    });
  }
}

}  // namespace

// The host picks these for depthwise layers with C % 8 == 0, square kernels of 3 or 5, equal
// strides of 1 or 2, no dilation, and N * OH * ceil(OW / 2) * C / 8 below 2^32 - 2^20. Eight
// channels and two pixels per thread: of 4 / 8 / 16 channels and 2 / 4 / 8 pixels (and a
// 64-register bound) measured on EfficientNet-Lite0 at batch 1 and 128, the fastest at both.
#define EDGERT_QCONV_DW8(K, S)                                                                   \
  extern "C" __global__ void __launch_bounds__(256)                                              \
      edgert_qconv_dw8_k##K##s##S(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g,  \
                                  EdgertQEpi e, unsigned total) {                                \
    qconvDwTile<K, S, EDGERT_QCONV_DW8_CHANNELS, EDGERT_QCONV_DW8_PIXELS>(y, x, w, g, e, total); \
  }
EDGERT_QCONV_DW8(3, 1)
EDGERT_QCONV_DW8(3, 2)
EDGERT_QCONV_DW8(5, 1)
EDGERT_QCONV_DW8(5, 2)
#undef EDGERT_QCONV_DW8

// ---- Depthwise through shared memory, dp4a over the taps ----------------------------------------
// edgert_qconv_dw8 reads its inputs straight from global memory, eight bytes per tap, and
// unpacks every byte to an int for a multiply-add per tap: latency-bound at its register-limited
// occupancy (ncu on EfficientNet-Lite0's 480-channel 14 x 14 layer: 11.2 cycles per issued
// instruction, 33% of memory bandwidth). Here a block copies the input rows it needs (16
// channels, whole rows) into shared memory once, transposed so that each channel's row is
// contiguous bytes; a window row of up to 4 taps is then one 4-byte word (a funnel shift of two
// words), and one dp4a multiplies it by the packed taps: 3 dp4a per output for 3 x 3, 10 for 5 x
// 5, instead of 9 or 25 multiply-adds and their unpacking. Same integers as the CPU (exact int32
// sums); the epilogue is storeQ4's. Windows that leave the input read g.xpad from the copy.
namespace {

// 4 x 4 byte transpose: out[i] = byte i of a, b, c, d.
__device__ __forceinline__ void transpose4(unsigned a, unsigned b, unsigned c, unsigned d,
                                           unsigned (&o)[4]) {
  const unsigned t0 = __byte_perm(a, b, 0x5140), t1 = __byte_perm(a, b, 0x7362);
  const unsigned t2 = __byte_perm(c, d, 0x5140), t3 = __byte_perm(c, d, 0x7362);
  o[0] = __byte_perm(t0, t2, 0x5410);
  o[1] = __byte_perm(t0, t2, 0x7632);
  o[2] = __byte_perm(t1, t3, 0x5410);
  o[3] = __byte_perm(t1, t3, 0x7632);
}

template <int K, int S>
__device__ __forceinline__ void qconvDwShared(void* y, const int8_t* x, const int8_t* w,
                                              const EdgertQConvGeom& g, const EdgertQEpi& e,
                                              const EdgertDwTile& t) {
  constexpr int CT = EDGERT_QCONV_DWT_CHANNELS, KW4 = (K + 3) / 4;
  // Words a thread reads per channel row for its four outputs: bytes 0 .. 3S + 4 KW4 - 1.
  constexpr int NW = (3 * S + 4 * KW4 + 3) / 4;
  extern __shared__ unsigned smem[];
  const int rows = (t.th - 1) * S + K, cww = t.cww;
  unsigned* in = smem;                    // [rows][CT][cww]
  unsigned* wt = smem + rows * CT * cww;  // [CT][K][KW4]
  const int cblocks = static_cast<int>(g.c / CT);
  const int cb = static_cast<int>(blockIdx.x % cblocks),
            rest = static_cast<int>(blockIdx.x / cblocks);
  const int ot = rest % t.oht, n = rest / t.oht;
  const int ch0 = cb * CT, oy0 = ot * t.th;
  const int ih = static_cast<int>(g.ih), iw = static_cast<int>(g.iw), C = static_cast<int>(g.c);
  const unsigned pad = static_cast<unsigned>(static_cast<uint8_t>(g.xpad)) * 0x01010101u;
  // The weights, [KH][KW][C] in memory: each channel's tap row packed into KW4 words.
  for (int i = threadIdx.x; i < CT * K * KW4; i += blockDim.x) {
    const int part = i % KW4, ky = (i / KW4) % K, c = i / (KW4 * K);
    unsigned v = 0;
#pragma unroll
    for (int b = 0; b < 4; ++b) {
      const int kx = part * 4 + b;
      if (kx < K)
        v |= static_cast<unsigned>(static_cast<uint8_t>(w[(ky * K + kx) * C + ch0 + c])) << (8 * b);
    }
    wt[i] = v;
  }
  // The input rows: four pixels x 16 channels per step (four 16-byte loads), transposed.
  const int quads = cww, iy0 = oy0 * S - g.ph;
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  for (int i = threadIdx.x; i < rows * quads; i += blockDim.x) {
    const int q = i % quads, r = i / quads, iy = iy0 + r;
    uint4 px[4];
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const int ix = q * 4 + p - g.pw;
      if (iy >= 0 && iy < ih && ix >= 0 && ix < iw)
        px[p] = xv[((static_cast<long long>(n) * ih + iy) * iw + ix) * (C / CT) + cb];
      else
        px[p] = make_uint4(pad, pad, pad, pad);
    }
    unsigned o[4];
    unsigned* dst = in + r * CT * cww + q;
    transpose4(px[0].x, px[1].x, px[2].x, px[3].x, o);
#pragma unroll
    for (int k = 0; k < 4; ++k) dst[k * cww] = o[k];
    transpose4(px[0].y, px[1].y, px[2].y, px[3].y, o);
#pragma unroll
    for (int k = 0; k < 4; ++k) dst[(4 + k) * cww] = o[k];
    transpose4(px[0].z, px[1].z, px[2].z, px[3].z, o);
#pragma unroll
    for (int k = 0; k < 4; ++k) dst[(8 + k) * cww] = o[k];
    transpose4(px[0].w, px[1].w, px[2].w, px[3].w, o);
#pragma unroll
    for (int k = 0; k < 4; ++k) dst[(12 + k) * cww] = o[k];
  }
  __syncthreads();
  const int oh = static_cast<int>(g.oh), ow = static_cast<int>(g.ow);
  const int tasks = t.th * t.owg * (CT / 4);
  for (int task = threadIdx.x; task < tasks; task += blockDim.x) {
    // Channel group fastest: four threads store one pixel's 16 channels together.
    const int cg = task % (CT / 4), xg = (task / (CT / 4)) % t.owg, rr = task / (CT / 4 * t.owg);
    const int oy = oy0 + rr;
    if (oy >= oh) continue;
    int acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int p = 0; p < 4; ++p) acc[p][i] = 0;
#pragma unroll
    for (int ky = 0; ky < K; ++ky) {
      const int srow = rr * S + ky;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int c = cg * 4 + i;
        const unsigned* src = in + (srow * CT + c) * cww + xg * S;
        unsigned v[NW + 1];
#pragma unroll
        for (int k = 0; k < NW; ++k) v[k] = src[k];
        v[NW] = 0;
        const unsigned* wr = wt + (c * K + ky) * KW4;
#pragma unroll
        for (int part = 0; part < KW4; ++part) {
          const int wp = static_cast<int>(wr[part]);
#pragma unroll
          for (int p = 0; p < 4; ++p) {
            const int ob = p * S + 4 * part, word = ob / 4, sh = ob % 4;
            const unsigned win = sh ? __funnelshift_r(v[word], v[word + 1], 8 * sh) : v[word];
            acc[p][i] = __dp4a(static_cast<int>(win), wp, acc[p][i]);
          }
        }
      }
    }
    const int m = ch0 + cg * 4;
    const long long i0 = ((static_cast<long long>(n) * oh + oy) * ow + xg * 4) * C + m;
    const int outs = min(4, ow - xg * 4);
    if (e.res_kind == kQResNone && e.out_kind == kQOutS8) {
      // The four pixels share their channels' constants: loaded once, not per pixel (storeQ4).
      const float4 s = channelConst4(e.acc_scale, m), b = channelConst4(e.bias, m),
                   iy = channelConst4(e.inv_y, m);
      withAct(e, [&](auto act) {
        constexpr int A = decltype(act)::value;
#pragma unroll
        for (int p = 0; p < 4; ++p) {
          if (p >= outs) break;
          storeS8Q4<A>(e, acc[p], s, b, iy, static_cast<int8_t*>(y) + i0 + p * C);
        }
      });
    } else {
      withAct(e, [&](auto act) {
        constexpr int A = decltype(act)::value;
#pragma unroll
        for (int p = 0; p < 4; ++p) {
          if (p >= outs) break;
          storeQ4<A>(e, i0 + static_cast<long long>(p) * C, m, acc[p], y);
        }
      });
    }
  }
}

}  // namespace

// The host picks these (tactic int8-depthwise-tile) for depthwise layers with C % 16 == 0,
// square kernels of 3 or 5, equal strides of 1 or 2, no dilation, where a tile of at least one
// output row fits in shared memory; the grid is N * oht * C / 16 blocks.
#define EDGERT_QCONV_DWT(K, S)                                                                  \
  extern "C" __global__ void __launch_bounds__(256)                                             \
      edgert_qconv_dwt_k##K##s##S(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g, \
                                  EdgertQEpi e, EdgertDwTile t) {                               \
    qconvDwShared<K, S>(y, x, w, g, e, t);                                                      \
  }
EDGERT_QCONV_DWT(3, 1)
EDGERT_QCONV_DWT(3, 2)
EDGERT_QCONV_DWT(5, 1)
EDGERT_QCONV_DWT(5, 2)
#undef EDGERT_QCONV_DWT

// ---- 3 x 3 stems of 1 to 4 input channels through shared memory, dp4a over a pixel -------------
// EfficientNet-Lite0's stem (3 -> 32 channels, stride 2) took 0.20 ms at batch 128 through the
// space-to-depth copy and the tensor cores: a 27-deep reduction leaves their 64-deep k-tiles
// mostly empty and every block is prologue and epilogue. (A first dp4a kernel that loaded each
// tap's bytes from global memory in every lane took 0.28 ms.) Here a block copies the input rows
// of `th` output rows into shared memory once, one word per pixel (its C bytes, the zero point
// outside the input); a thread owns four output channels - their 9 taps' weights and epilogue
// constants in registers - and walks the tile's pixels: per tap one shared-memory word (a
// broadcast to the lanes of the same pixel) and four dp4a. A warp's stores are consecutive.
namespace {

template <int S, int ACT>
__device__ __forceinline__ void qconvStemTile(void* y, const int8_t* x, const int8_t* w,
                                              const EdgertQConvGeom& g, const EdgertQEpi& e,
                                              const EdgertStemTile& t) {
  extern __shared__ unsigned smem[];
  const int ot = static_cast<int>(blockIdx.x % t.oht), n = static_cast<int>(blockIdx.x / t.oht);
  const int oy0 = ot * t.th, rows = (t.th - 1) * S + 3, cw = t.cw, C = static_cast<int>(g.c);
  const int ih = static_cast<int>(g.ih), iw = static_cast<int>(g.iw);
  const unsigned pad = static_cast<unsigned>(static_cast<uint8_t>(g.xpad)) * 0x01010101u;
  const int8_t* xn = x + static_cast<long long>(n) * ih * iw * C;
  for (int i = threadIdx.x; i < rows * cw; i += blockDim.x) {
    const int r = i / cw, col = i - r * cw;
    const int iy = oy0 * S - g.ph + r, ix = col - g.pw;
    unsigned v = pad;
    if (iy >= 0 && iy < ih && ix >= 0 && ix < iw) {
      const int8_t* px = xn + (static_cast<long long>(iy) * iw + ix) * C;
      v = 0;
      for (int c = 0; c < C; ++c)
        v |= static_cast<unsigned>(static_cast<uint8_t>(px[c])) << (8 * c);
    }
    smem[i] = v;
  }
  const int lanes = g.m / 4, m = static_cast<int>(threadIdx.x) % lanes * 4;
  int wr[4][9];  // [M][9] words of the host's layout
#pragma unroll
  for (int j = 0; j < 4; ++j)
#pragma unroll
    for (int k = 0; k < 9; ++k) wr[j][k] = reinterpret_cast<const int*>(w)[(m + j) * 9 + k];
  const float4 s = channelConst4(e.acc_scale, m), b = channelConst4(e.bias, m);
  const float4 iy4 = e.out_kind == kQOutS8 ? channelConst4(e.inv_y, m) : float4{};
  const bool plain = e.res_kind == kQResNone && e.out_kind == kQOutS8;
  __syncthreads();
  const int ow = static_cast<int>(g.ow), oh = static_cast<int>(g.oh);
  const int rows_here = min(t.th, oh - oy0), pixels = rows_here * ow;
  // blockDim.x is a multiple of `lanes`: a thread keeps its four channels.
  const int per_step = static_cast<int>(blockDim.x) / lanes;
  for (int q = static_cast<int>(threadIdx.x) / lanes; q < pixels; q += per_step) {
    const int rr = q / ow, ox = q - rr * ow;
    const unsigned* src = smem + rr * S * cw + ox * S;
    int acc[4] = {0, 0, 0, 0};
#pragma unroll
    for (int ky = 0; ky < 3; ++ky)
#pragma unroll
      for (int kx = 0; kx < 3; ++kx) {
        const int v = static_cast<int>(src[ky * cw + kx]);
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[j] = __dp4a(v, wr[j][ky * 3 + kx], acc[j]);
      }
    const long long i = ((static_cast<long long>(n) * oh + oy0 + rr) * ow + ox) * g.m + m;
    if (plain) {
      storeS8Q4<ACT>(e, acc, s, b, iy4, static_cast<int8_t*>(y) + i);
    } else {
      storeQ4<ACT>(e, i, m, acc, y);
    }
  }
}

}  // namespace

// The host picks these (tactic int8-stem) for 3 x 3 convolutions of one group, C = 1 to 4,
// strides 1 or 2 (equal), no dilation, M % 4 == 0 and M <= 256, where one output row's input
// rows fit in 48 KiB; the grid is N * oht blocks.
#define EDGERT_QCONV_STEM(S)                                                                \
  extern "C" __global__ void __launch_bounds__(256)                                         \
      edgert_qconv_stem3_s##S(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g, \
                              EdgertQEpi e, EdgertStemTile t) {                             \
    if (e.act == 0)                                                                         \
      qconvStemTile<S, 0>(y, x, w, g, e, t);                                                \
    else if (e.act == 1)                                                                    \
      qconvStemTile<S, 1>(y, x, w, g, e, t);                                                \
    else if (e.act == 2)                                                                    \
      qconvStemTile<S, 2>(y, x, w, g, e, t);                                                \
    else                                                                                    \
      qconvStemTile<S, -1>(y, x, w, g, e, t);                                               \
  }
EDGERT_QCONV_STEM(1)
EDGERT_QCONV_STEM(2)
#undef EDGERT_QCONV_STEM

// ---- Pointwise convolutions with a short reduction (dp4a) -------------------------------------
// 1x1, stride 1, no padding, one group, C = 4 * C4 input channels (C4 <= 16): EfficientNet-
// Lite0's expand layers of 16 to 40 channels, which the tensor-core kernels run with their
// 64-deep k-tiles mostly empty (blocks.1: 0.53 ms for 180 MB at batch 128). A block is PIX
// pixels x M/4 lanes: each thread owns four output channels, keeps their weights and epilogue
// constants in registers for every pixel it walks, and sums four input channels per dp4a (exact
// int32, the CPU's integers). A warp's stores are consecutive 4-byte runs of the output; its
// input loads are broadcasts of one or two pixels.
namespace {

template <int C4>
__device__ __forceinline__ void loadPixel(const int8_t* x, long long p, int (&v)[C4]) {
  if constexpr (C4 % 4 == 0) {
    const int4* q = reinterpret_cast<const int4*>(x + p * (4 * C4));
#pragma unroll
    for (int k = 0; k < C4 / 4; ++k) {
      const int4 t = q[k];
      v[4 * k] = t.x, v[4 * k + 1] = t.y, v[4 * k + 2] = t.z, v[4 * k + 3] = t.w;
    }
  } else if constexpr (C4 % 2 == 0) {
    const int2* q = reinterpret_cast<const int2*>(x + p * (4 * C4));
#pragma unroll
    for (int k = 0; k < C4 / 2; ++k) {
      const int2 t = q[k];
      v[2 * k] = t.x, v[2 * k + 1] = t.y;
    }
  } else {
    const int* q = reinterpret_cast<const int*>(x + p * (4 * C4));
#pragma unroll
    for (int k = 0; k < C4; ++k) v[k] = q[k];
  }
}

template <int C4, int ACT>
__device__ __forceinline__ void qconvPointwise(void* y, const int8_t* x, const int8_t* w,
                                               const EdgertQConvGeom& g, const EdgertQEpi& e,
                                               long long pixels) {
  const int lanes = g.m / 4, per_block = static_cast<int>(blockDim.x) / lanes;
  const int lane = static_cast<int>(threadIdx.x) % lanes;
  const int pix = static_cast<int>(threadIdx.x) / lanes;
  if (pix >= per_block) return;
  const int m = lane * 4;
  int wr[4][C4];
#pragma unroll
  for (int j = 0; j < 4; ++j) loadPixel<C4>(w, m + j, wr[j]);  // row m + j of [M][C]
  const float4 s = channelConst4(e.acc_scale, m), b = channelConst4(e.bias, m);
  const float4 iy = e.out_kind == kQOutS8 ? channelConst4(e.inv_y, m) : float4{};
  const bool plain = e.res_kind == kQResNone && e.out_kind == kQOutS8;
  // U pixels per step, their loads issued together: one load in flight per thread left too few
  // bytes in flight to cover the memory latency (blocks.2 and 3's expand layers, C = 24: 0.095
  // -> 0.080 ms at bs128).
  constexpr int U = C4 <= 4 ? 1 : C4 <= 8 ? 4 : 2;  // C = 16 (blocks.1): 0.184 ms at 1, 0.198 at 4
  const long long stride = static_cast<long long>(gridDim.x) * per_block;
  for (long long p0 = static_cast<long long>(blockIdx.x) * per_block + pix; p0 < pixels;
       p0 += U * stride) {
    int xs[U][C4];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (p0 + u * stride < pixels) loadPixel<C4>(x, p0 + u * stride, xs[u]);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const long long p = p0 + u * stride;
      if (p >= pixels) break;
      const int(&xv)[C4] = xs[u];
      int acc[4] = {0, 0, 0, 0};
#pragma unroll
      for (int k = 0; k < C4; ++k)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[j] = __dp4a(xv[k], wr[j][k], acc[j]);
      const long long i = p * g.m + m;
      if (plain) {
        storeS8Q4<ACT>(e, acc, s, b, iy, static_cast<int8_t*>(y) + i);
      } else {
        storeQ4<ACT>(e, i, m, acc, y);
      }
    }
  }
}

}  // namespace

// The host picks these (tactic int8-pointwise) for C = 16, 24, 32, 40, 48, 64 and M % 4 == 0,
// M <= 1024; the block holds 256 / (M / 4) pixels.
#define EDGERT_QCONV_PW(C)                                                               \
  extern "C" __global__ void __launch_bounds__(256)                                      \
      edgert_qconv_pw_c##C(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g, \
                           EdgertQEpi e, long long pixels) {                             \
    if (e.act == 0)                                                                      \
      qconvPointwise<C / 4, 0>(y, x, w, g, e, pixels);                                   \
    else if (e.act == 1)                                                                 \
      qconvPointwise<C / 4, 1>(y, x, w, g, e, pixels);                                   \
    else if (e.act == 2)                                                                 \
      qconvPointwise<C / 4, 2>(y, x, w, g, e, pixels);                                   \
    else                                                                                 \
      qconvPointwise<C / 4, -1>(y, x, w, g, e, pixels);                                  \
  }
EDGERT_QCONV_PW(16)
EDGERT_QCONV_PW(24)
EDGERT_QCONV_PW(32)
EDGERT_QCONV_PW(40)
EDGERT_QCONV_PW(48)
EDGERT_QCONV_PW(64)
#undef EDGERT_QCONV_PW

// ---- 1x1 INT8 convolutions with up to 128 input channels on mma.sync, staged stores ----------
// The FP16 `nhwc16-pointwise` design (pointwise_small.cu) for INT8: a warp computes 16 pixels x
// all M outputs with m16n8k32 s8 (int32, exact), the weights staged once per block as B
// fragments in shared memory; the accumulators go through a per-warp int32 tile in shared memory
// (16 pixels x 64 channels) and the epilogue runs on four consecutive channels at a time, so a
// warp's stores cover two pixels' 64-byte runs (the dp4a kernel's 24 lanes per pixel of a
// 96-channel layer wrote 4-byte pieces of 1.3 pixels, 31% of the roofline). Same arithmetic as
// storeQ4 / storeS8Q4 (the CPU's), bit for bit.
namespace {

constexpr int kQpwRow = 72;  // int32 per staged row: 64 channels + 8 (no bank conflicts)

template <int KS, int ACT>
__device__ __forceinline__ void qconvPointwiseMma(void* y, const int8_t* x, const int8_t* w,
                                                  const EdgertQConvGeom& g, const EdgertQEpi& e,
                                                  long long pixels) {
#if __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) unsigned char qpw_smem[];
  const int K = static_cast<int>(g.c), M = g.m, ntiles = M / 8;
  uint2* frags = reinterpret_cast<uint2*>(qpw_smem);
  for (int i = threadIdx.x; i < ntiles * KS * 32; i += blockDim.x) {
    const int lane = i % 32, ks = (i / 32) % KS, nt = i / (32 * KS);
    const int n = nt * 8 + (lane >> 2), k0 = ks * 32 + (lane & 3) * 4, k1 = k0 + 16;
    const int* wr = reinterpret_cast<const int*>(w + static_cast<long long>(n) * K);
    frags[i] = make_uint2(k0 < K ? wr[k0 / 4] : 0, k1 < K ? wr[k1 / 4] : 0);
  }
  // Per-channel constants beside them (the plain path reads them four at a time).
  float* c_scale = reinterpret_cast<float*>(frags + ntiles * KS * 32);
  float* c_bias = c_scale + M;
  float* c_iy = c_bias + M;
  const float* gs = reinterpret_cast<const float*>(e.acc_scale);
  const float* gb = reinterpret_cast<const float*>(e.bias);
  const float* giy = reinterpret_cast<const float*>(e.inv_y);
  for (int i = threadIdx.x; i < M; i += blockDim.x) {
    c_scale[i] = gs[i];
    c_bias[i] = gb ? gb[i] : 0.f;
    c_iy[i] = e.out_kind == kQOutS8 ? giy[i] : 0.f;
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, gq = lane >> 2, t = lane & 3, warp = threadIdx.x >> 5;
  int* stage = reinterpret_cast<int*>(c_iy + M) + warp * 16 * kQpwRow;
  const bool plain = e.res_kind == kQResNone && e.out_kind == kQOutS8;
  const long long tiles = (pixels + 15) / 16;
  const long long step = gridDim.x * (long long)blockDim.x / 32;
  // A fragments of a tile (zero past the pixels and the channels); the next tile's are loaded
  // before this one's epilogue, so the load's latency hides behind it.
  auto loadA = [&](long long tile, unsigned(&a)[KS][4]) {
    const long long r0 = tile * 16 + gq, r1 = r0 + 8;
    const int* x0 = reinterpret_cast<const int*>(x + r0 * K);
    const int* x1 = reinterpret_cast<const int*>(x + r1 * K);
#pragma unroll
    for (int ks = 0; ks < KS; ++ks) {
      const int k0 = ks * 32 + t * 4, k1 = k0 + 16;
      a[ks][0] = r0 < pixels && k0 < K ? x0[k0 / 4] : 0u;
      a[ks][1] = r1 < pixels && k0 < K ? x1[k0 / 4] : 0u;
      a[ks][2] = r0 < pixels && k1 < K ? x0[k1 / 4] : 0u;
      a[ks][3] = r1 < pixels && k1 < K ? x1[k1 / 4] : 0u;
    }
  };
  long long tile = (blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32;
  unsigned a[KS][4];
  if (tile < tiles) loadA(tile, a);
  for (; tile < tiles; tile += step) {
    unsigned next[KS][4];
    if (tile + step < tiles) loadA(tile + step, next);
    for (int c0 = 0; c0 < M; c0 += 64) {
      const int width = min(64, M - c0);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        if (j * 8 >= width) break;
        const int nt = c0 / 8 + j;
        int c[4] = {0, 0, 0, 0};
#pragma unroll
        for (int ks = 0; ks < KS; ++ks) {
          const uint2 b = frags[(nt * KS + ks) * 32 + lane];
          asm volatile(
              "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
              "{%8,%9}, {%0,%1,%2,%3};\n"
              : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
              : "r"(a[ks][0]), "r"(a[ks][1]), "r"(a[ks][2]), "r"(a[ks][3]), "r"(b.x), "r"(b.y));
        }
        const int n = j * 8 + t * 2;
        *reinterpret_cast<int2*>(stage + gq * kQpwRow + n) = make_int2(c[0], c[1]);
        *reinterpret_cast<int2*>(stage + (gq + 8) * kQpwRow + n) = make_int2(c[2], c[3]);
      }
      __syncwarp();
      const int gpr = width / 4;  // four-channel groups per pixel in this chunk
      if (plain) {
        // Each lane keeps one channel group for the chunk (its constants loaded once, not per
        // output: ncu counted 28 instructions an output element when every item reloaded them
        // and divided its index) and walks the tile's rows, 32 / gpr rows a pass.
        const int q = lane % gpr, rpp = 32 / gpr, m = c0 + q * 4;
        if (lane < rpp * gpr) {
          const float4 s4 = *reinterpret_cast<const float4*>(c_scale + m);
          const float4 b4 = *reinterpret_cast<const float4*>(c_bias + m);
          const float4 iy4 = *reinterpret_cast<const float4*>(c_iy + m);
          const long long rows = min(16LL, pixels - tile * 16);
          int8_t* out = static_cast<int8_t*>(y) + tile * 16 * M + m;
          for (int row = lane / gpr; row < rows; row += rpp) {
            const int4 acc4 = *reinterpret_cast<const int4*>(stage + row * kQpwRow + q * 4);
            const int acc[4] = {acc4.x, acc4.y, acc4.z, acc4.w};
            storeS8Q4<ACT>(e, acc, s4, b4, iy4, out + static_cast<long long>(row) * M);
          }
        }
      } else {
        for (int i = lane; i < 16 * gpr; i += 32) {
          const int row = i / gpr, q = i - row * gpr;
          const long long pix = tile * 16 + row;
          if (pix >= pixels) continue;
          const int4 acc4 = *reinterpret_cast<const int4*>(stage + row * kQpwRow + q * 4);
          const int acc[4] = {acc4.x, acc4.y, acc4.z, acc4.w};
          const int m = c0 + q * 4;
          storeQ4<ACT>(e, pix * M + m, m, acc, y);
        }
      }
      __syncwarp();
    }
#pragma unroll
    for (int ks = 0; ks < KS; ++ks)
#pragma unroll
      for (int j = 0; j < 4; ++j) a[ks][j] = next[ks][j];
  }
#else
  __trap();  // the host offers this kernel on sm_80 and newer only
#endif
}

}  // namespace

// The host picks these (tactic int8-pointwise-mma) for 1x1 stride-1 layers with C % 4 == 0,
// C <= 32 * KS, M % 8 == 0, 256 threads and M * KS * 32 + 12 * M + 8 * 16 * 72 * 4 bytes of
// dynamic shared memory (B fragments, three constants per channel, each warp's staged tile).
#define EDGERT_QCONV_PW_MMA(KS)                                                                    \
  extern "C" __global__ void __launch_bounds__(256)                                                \
      edgert_qconv_pw_mma_ks##KS(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g,     \
                                 EdgertQEpi e, long long pixels) {                                 \
    withAct(                                                                                       \
        e, [&](auto act) { qconvPointwiseMma<KS, decltype(act)::value>(y, x, w, g, e, pixels); }); \
  }
EDGERT_QCONV_PW_MMA(1)
EDGERT_QCONV_PW_MMA(2)
EDGERT_QCONV_PW_MMA(3)
EDGERT_QCONV_PW_MMA(4)
#undef EDGERT_QCONV_PW_MMA

// ---- Implicit-GEMM INT8 convolution on tensor cores (mma.sync m16n8k32 s8, sm_80+) --------
// One group, C % 4 == 0 (input runs of 16, 8 or 4 bytes each within one tap's channels), any
// kernel size, stride, padding and dilation, over NHWC int8; the epilogue fused (no int32
// round trip through memory). Block: 128 output pixels x BN output channels, 8 warps (WM x WN:
// 2 x 4 for BN 128, 4 x 2 for 64, 8 x 1 for 32, so each warp holds 4 n-tiles of 8), fragments
// loaded with ldmatrix, a 32-deep reduction step, three cp.async stages. Weights [Mw][Kp] (Kp % 32
// == 0, Mw a multiple of BN, zero padded), reduction index k = (kh * KW + kw) * C + c. Output pixel
// p of the `rows` this launch covers is pixel row0 + p of the output (im2col chunks: the columns
// are the input, a 1x1 convolution over `rows` pixels of Kp channels).
namespace {

constexpr int kQBM = 128, kQBK = 32, kQStages = 3;
constexpr int kQRow = 48;  // bytes per shared-memory row: 32 + 16 of padding, no bank conflicts

// 4 or 8 bytes (cp.async.ca; .cg takes only 16), zero-filled when not valid.
template <int B>
__device__ __forceinline__ void cpAsyncSmall(void* smem, const void* gmem, bool valid) {
#if __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.ca.shared.global [%0], [%1], %2, %3;\n" ::"r"(s), "l"(gmem), "n"(B),
               "r"(valid ? B : 0));
#endif
}

template <int BN, int PIECE>
__device__ __forceinline__ void qconvMma(void* y, const int8_t* x, const int8_t* w,
                                         const EdgertQConvGeom& g, const EdgertQEpi& e, int kp,
                                         long long row0, long long rows) {
#if __CUDA_ARCH__ >= 800
  // Warps: WM along pixels x WN along channels; each holds MI m-tiles of 16 x NT n-tiles of 8.
  constexpr int WN = BN / 32, WM = 8 / WN, MI = kQBM / WM / 16, NT = 4;
  static_assert(WM * WN == 8 && MI >= 1, "8 warps");
  // The pipeline's stages, then (after the main loop) the accumulators of 64 rows at a time.
  constexpr int kStage = (kQBM + BN) * kQRow, kCRow = BN + 4;  // ints; +4: no bank conflicts
  static_assert(64 * kCRow * 4 <= kQStages * kStage, "accumulator tile fits the stages");
  __shared__ __align__(16) int8_t smem[kQStages * kStage];
  auto As = [&](int st) { return smem + st * kStage; };
  auto Bs = [&](int st) { return smem + st * kStage + kQBM * kQRow; };
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp / WN, wn = warp % WN;
  const long long p0 = blockIdx.x * (long long)kQBM;
  const int n0 = blockIdx.y * BN;
  // This thread's A row (one 16-byte segment of it per stage).
  const int a_row = tid >> 1, a_seg = tid & 1;
  const long long ap = p0 + a_row;
  const bool a_live = ap < rows;
  long long a_n = 0, a_ih0 = 0, a_iw0 = 0;
  if (a_live) {
    // The input's own pixel (row0 offsets only the output); 32-bit division (the host keeps
    // this kernel to pixel counts below 2^31).
    const unsigned q = static_cast<unsigned>(ap), OW = static_cast<unsigned>(g.ow);
    const unsigned orow = q / OW, ow = q - orow * OW;
    const unsigned n = orow / static_cast<unsigned>(g.oh),
                   oh = orow - n * static_cast<unsigned>(g.oh);
    a_n = n;
    a_ih0 = static_cast<long long>(oh) * g.sh - g.ph;
    a_iw0 = static_cast<long long>(ow) * g.sw - g.pw;
  }
  const int K = g.kh * g.kw * static_cast<int>(g.c);
  const int ktiles = kp / kQBK;
  // ncu: with a division per piece, the address arithmetic outweighed the MMAs (ALU the
  // busiest pipe). Loads come in k-tile order, so the 16-byte path keeps this thread's
  // reduction position - tap (kh, kw) and channel c - and steps it by 32 per k-tile.
  const int C = static_cast<int>(g.c), IH = static_cast<int>(g.ih), IW = static_cast<int>(g.iw);
  const int ih0 = static_cast<int>(a_ih0), iw0 = static_cast<int>(a_iw0);
  const int8_t* a_img = x + a_n * IH * static_cast<long long>(IW) * C;
  int pos_k = a_seg * 16, pos_kh = 0, pos_kw = 0, pos_c = pos_k;
  if constexpr (PIECE == 16) {
    const int tap = pos_k / C;
    pos_c = pos_k - tap * C;
    pos_kh = tap / g.kw;
    pos_kw = tap - pos_kh * g.kw;
  }
  // This thread's weight segment (BN * 2 segments of 16 bytes per stage, at most one each).
  const bool b_has = tid < BN * 2;
  const int8_t* b_src = w + static_cast<long long>(n0 + (tid >> 1)) * kp + (tid & 1) * 16;
  int8_t* const b_dst0 = smem + kQBM * kQRow + (tid >> 1) * kQRow + (tid & 1) * 16;
  auto load = [&](int stage, int kt) {
    if constexpr (PIECE == 16) {
      const int ih = ih0 + pos_kh * g.dh, iw = iw0 + pos_kw * g.dw;
      const bool v = a_live && pos_k < K && static_cast<unsigned>(ih) < static_cast<unsigned>(IH) &&
                     static_cast<unsigned>(iw) < static_cast<unsigned>(IW);
      const int8_t* src = v ? a_img + static_cast<long long>(ih * IW + iw) * C + pos_c : x;
      cpAsync16(As(stage) + a_row * kQRow + a_seg * 16, src, v);
      pos_k += kQBK;
      for (pos_c += kQBK; pos_c >= C; pos_c -= C)
        if (++pos_kw == g.kw) pos_kw = 0, ++pos_kh;
    } else {
      // PIECE bytes at a time, each within one tap (C % PIECE == 0).
#pragma unroll
      for (int q = 0; q < 16 / PIECE; ++q) {
        const int k = kt * kQBK + a_seg * 16 + q * PIECE;
        const int tap = k / C, c = k - tap * C;
        const int ih = ih0 + (tap / g.kw) * g.dh, iw = iw0 + (tap % g.kw) * g.dw;
        const bool v = a_live && k < K && static_cast<unsigned>(ih) < static_cast<unsigned>(IH) &&
                       static_cast<unsigned>(iw) < static_cast<unsigned>(IW);
        const int8_t* src = v ? a_img + static_cast<long long>(ih * IW + iw) * C + c : x;
        cpAsyncSmall<PIECE>(As(stage) + a_row * kQRow + a_seg * 16 + q * PIECE, src, v);
      }
    }
    if (b_has) cpAsync16(b_dst0 + stage * kStage, b_src + kt * kQBK, true);
  };
  int acc[MI][NT][4];
#pragma unroll
  for (int i = 0; i < MI; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0;
#pragma unroll
  for (int s = 0; s < kQStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  const int grp = lane >> 2, tig = lane & 3;
  // ldmatrix row addresses: A matrices (rows 0-7 | 8-15) x (bytes 0-15 | 16-31); B matrices
  // (bytes 0-15 | 16-31) x (n 0-7 | 8-15), so registers 0,1 are n-tile 2j and 2,3 are 2j + 1.
  const int a_ld = (lane & 15) * kQRow + (lane >> 4) * 16;
  const int b_ld = ((lane & 7) + (lane >> 4) * 8) * kQRow + ((lane >> 3) & 1) * 16;
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kQStages - 2));
    __syncthreads();
    // Refill the stage the previous step read (every warp is past it after the barrier).
    const int next = kt + kQStages - 1;
    if (next < ktiles) load(next % kQStages, next);
    asm volatile("cp.async.commit_group;\n" ::);
    const int8_t* a = As(kt % kQStages);
    const int8_t* b = Bs(kt % kQStages);
    unsigned af[MI][4], bf[NT / 2][4];
#pragma unroll
    for (int i = 0; i < MI; ++i) ldmatrix4(af[i], a + (wm * MI + i) * 16 * kQRow + a_ld);
#pragma unroll
    for (int j = 0; j < NT / 2; ++j) ldmatrix4(bf[j], b + (wn * NT + j * 2) * 8 * kQRow + b_ld);
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
      for (int j = 0; j < NT; ++j)
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
            "{%8,%9}, {%0,%1,%2,%3};\n"
            : "+r"(acc[i][j][0]), "+r"(acc[i][j][1]), "+r"(acc[i][j][2]), "+r"(acc[i][j][3])
            : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]),
              "r"(bf[j / 2][(j & 1) * 2]), "r"(bf[j / 2][(j & 1) * 2 + 1]));
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  // Epilogue through shared memory, 64 rows at a time: the warps holding them write their
  // accumulators (c0/c1: row grp, c2/c3: row grp + 8; columns tig * 2, + 1), then every thread
  // takes four consecutive channels of a row, so loads and stores are whole vectors.
  int* cs = reinterpret_cast<int*>(smem);
  const bool vec = e.m % 4 == 0;
  // (Loading each thread's channel constants once, or all of a half's residuals ahead, was
  // tried: the registers it holds across the loop cost the 64-channel tiles their occupancy,
  // ResNet-50 bs128 7.59 -> 7.82 / 8.77 ms. bench/NOTES.md, session 9.)
  for (int half = 0; half < 2; ++half) {
    __syncthreads();
    if (wm * MI * 16 / 64 == half)
#pragma unroll
      for (int i = 0; i < MI; ++i)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int j = 0; j < NT; ++j) {
            const int r = wm * MI * 16 - half * 64 + i * 16 + grp + h * 8;
            const int c = (wn * NT + j) * 8 + tig * 2;
            *reinterpret_cast<int2*>(cs + r * kCRow + c) =
                make_int2(acc[i][j][h * 2], acc[i][j][h * 2 + 1]);
          }
    __syncthreads();
    withAct(e, [&](auto act) {
      for (int t = tid; t < 64 * (BN / 4); t += 256) {
        const int r = t / (BN / 4), col = (t % (BN / 4)) * 4;
        const long long p = p0 + half * 64 + r;
        const int m = n0 + col;
        if (p >= rows || m >= e.m) continue;
        const int* a4 = cs + r * kCRow + col;
        const long long i = (row0 + p) * e.m + m;
        if (vec) {
          storeQ4<decltype(act)::value>(e, i, m, a4, y);
        } else {
          for (int k = 0; k < 4 && m + k < e.m; ++k) storeQ(e, i + k, m + k, a4[k], y);
        }
      }
    });
  }
#endif
}

// The A side of the big-tile kernels: J output pixels per thread (rows `first + j * stride` of
// the block's tile), each thread one 16-byte segment `seg` of every 64-byte k-tile of them
// (C % 16 == 0, so a segment lies within one filter tap). The origins are computed once; the
// reduction position (tap kh, kw and channel c) is stepped per k-tile, not divided.
template <int J>
struct BigTileRows {
  int ih0[J], iw0[J];
  const int8_t* img[J];
  int pos_k, pos_c, pos_kh, pos_kw;

  __device__ __forceinline__ void init(const int8_t* x, const EdgertQConvGeom& g, long long p0,
                                       int first, int stride, int seg, long long rows) {
    const long long image = g.ih * g.iw * g.c;
#pragma unroll
    for (int j = 0; j < J; ++j) {
      const long long ap = p0 + first + stride * j;
      // A row past the end reads nothing: its origin lies so far outside that no tap is inside.
      ih0[j] = iw0[j] = -(1 << 29);
      img[j] = x;
      if (ap < rows) {
        const unsigned q = static_cast<unsigned>(ap), OW = static_cast<unsigned>(g.ow);
        const unsigned orow = q / OW, ow = q - orow * OW;
        const unsigned n = orow / static_cast<unsigned>(g.oh),
                       oh = orow - n * static_cast<unsigned>(g.oh);
        ih0[j] = static_cast<int>(oh) * g.sh - g.ph;
        iw0[j] = static_cast<int>(ow) * g.sw - g.pw;
        img[j] = x + static_cast<long long>(n) * image;
      }
    }
    const int C = static_cast<int>(g.c);
    pos_k = seg * 16;
    pos_c = pos_k % C;
    const int tap = pos_k / C;
    pos_kh = tap / g.kw;
    pos_kw = tap - pos_kh * g.kw;
  }

  // Issues this k-tile's copies (row j to dst + j * dst_stride), then steps to the next.
  __device__ __forceinline__ void load(int8_t* dst, int dst_stride, const int8_t* x,
                                       const EdgertQConvGeom& g, int K) {
    const int C = static_cast<int>(g.c), IH = static_cast<int>(g.ih), IW = static_cast<int>(g.iw);
    const int dh = pos_kh * g.dh, dw = pos_kw * g.dw;
    const bool kv = pos_k < K;
#pragma unroll
    for (int j = 0; j < J; ++j) {
      const int ih = ih0[j] + dh, iw = iw0[j] + dw;
      const bool v = kv && static_cast<unsigned>(ih) < static_cast<unsigned>(IH) &&
                     static_cast<unsigned>(iw) < static_cast<unsigned>(IW);
      const int8_t* src = v ? img[j] + static_cast<long long>(ih * IW + iw) * C + pos_c : x;
      cpAsync16(dst + j * dst_stride, src, v);
    }
    pos_k += 64;
    for (pos_c += 64; pos_c >= C; pos_c -= C)
      if (++pos_kw == g.kw) pos_kw = 0, ++pos_kh;
  }
};

// ---- The same convolution with 64 x 64 warp tiles (CUTLASS's sm80 int8 shape) ----------------
// ncu on the kernel above: its 32 x 32 / 64 x 32 warp tiles spend their issue slots on address
// arithmetic, barriers and fragment loads, not MMAs. Here a block of 128 pixels x 128 channels
// is four warps of 64 x 64 and the reduction step is 64 deep: one barrier per 64 MMAs per warp
// (the kernel above: 16) and 8 fragment loads per 32 MMAs. 128 accumulators per thread, so
// occupancy is two blocks per SM; four cp.async stages in 80 KiB of dynamic shared memory hide
// the latency instead. C % 16 == 0 (16-byte input runs), Kp % 64 == 0, M > 64.
constexpr int kWBM = 128, kWBN = 128, kWBK = 64, kWStages = 4;
constexpr int kWRow = 80;  // bytes per shared row: 64 + 16 of padding, ldmatrix conflict-free
constexpr int kWStage = (kWBM + kWBN) * kWRow;
constexpr int kWCRow = kWBN + 4;  // int accumulators per staged row (+4: fewer bank conflicts)
static_assert(kWBM * kWCRow * 4 <= kWStages * kWStage, "the accumulator tile fits the stages");
static_assert(kWStages * kWStage == EDGERT_QCONV_WIDE_SMEM, "the host's launch size");

__device__ __forceinline__ void qconvMmaWide(void* y, const int8_t* x, const int8_t* w,
                                             const EdgertQConvGeom& g, const EdgertQEpi& e, int kp,
                                             long long row0, long long rows) {
#if __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) int8_t wsm[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 1, wn = warp & 1;
  const long long p0 = blockIdx.x * (long long)kWBM;
  const int n0 = blockIdx.y * kWBN;
  // Each thread loads one 16-byte segment of rows r, r + 32, r + 64, r + 96 of A and of B.
  const int seg = tid & 3, r0 = tid >> 2;
  BigTileRows<4> a_rows;
  a_rows.init(x, g, p0, r0, 32, seg, rows);
  const int K = g.kh * g.kw * static_cast<int>(g.c), ktiles = kp / kWBK;
  const int8_t* b_src = w + static_cast<long long>(n0 + r0) * kp + seg * 16;
  const int st_off = r0 * kWRow + seg * 16;
  auto load = [&](int stage, int kt) {
    int8_t* as = wsm + stage * kWStage;
    a_rows.load(as + st_off, 32 * kWRow, x, g, K);
    int8_t* bs = as + kWBM * kWRow;
#pragma unroll
    for (int j = 0; j < 4; ++j)
      cpAsync16(bs + st_off + 32 * j * kWRow, b_src + 32LL * j * kp + kt * kWBK, true);
  };
  int acc[4][8][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int r = 0; r < 4; ++r) acc[i][j][r] = 0;
#pragma unroll
  for (int s = 0; s < kWStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  const int grp = lane >> 2, tig = lane & 3;
  // ldmatrix row addresses as in qconvMma: A (rows 0-7 | 8-15) x (bytes 0-15 | 16-31), B
  // (bytes 0-15 | 16-31) x (n 0-7 | 8-15).
  const int a_ld = (wm * 64 + (lane & 15)) * kWRow + (lane >> 4) * 16;
  const int b_ld =
      kWBM * kWRow + (wn * 64 + (lane & 7) + (lane >> 4) * 8) * kWRow + ((lane >> 3) & 1) * 16;
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kWStages - 2));
    __syncthreads();
    const int next = kt + kWStages - 1;
    if (next < ktiles) load(next % kWStages, next);
    asm volatile("cp.async.commit_group;\n" ::);
    const int8_t* st = wsm + (kt % kWStages) * kWStage;
#pragma unroll
    for (int ks = 0; ks < kWBK / 32; ++ks) {
      unsigned af[4][4], bf[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i) ldmatrix4(af[i], st + a_ld + i * 16 * kWRow + ks * 32);
#pragma unroll
      for (int j = 0; j < 4; ++j) ldmatrix4(bf[j], st + b_ld + j * 16 * kWRow + ks * 32);
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j)
          asm("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
              "{%8,%9}, {%0,%1,%2,%3};\n"
              : "+r"(acc[i][j][0]), "+r"(acc[i][j][1]), "+r"(acc[i][j][2]), "+r"(acc[i][j][3])
              : "r"(af[i][0]), "r"(af[i][1]), "r"(af[i][2]), "r"(af[i][3]),
                "r"(bf[j / 2][(j & 1) * 2]), "r"(bf[j / 2][(j & 1) * 2 + 1]));
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();
  // The whole 128 x 128 accumulator tile through shared memory at once, then the epilogue.
  int* cs = reinterpret_cast<int*>(wsm);
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        const int r = wm * 64 + i * 16 + grp + h * 8, c = wn * 64 + j * 8 + tig * 2;
        *reinterpret_cast<int2*>(cs + r * kWCRow + c) =
            make_int2(acc[i][j][h * 2], acc[i][j][h * 2 + 1]);
      }
  __syncthreads();
  epilogueTile<kWBM, kWBN, 4>(cs, kWCRow, e, p0, n0, rows, row0, y);
#endif
}

// ---- sm_90: the same convolution on warpgroup MMAs (wgmma, Hopper only) ----------------------
// cuDNN's fp16 kernels on Hopper issue wgmma; against them, mma.sync int8 has only 1.3x the peak
// (bench/micro/mma_peak.cu: 1303 TOPS vs ~990 for wgmma fp16), so the 1.6x-of-fp16 goal needs
// wgmma's int8 rate as well. Block: 128 pixels x 128 channels, two warpgroups of 64 x 128
// (64 int32 accumulators per thread), both operands read by the tensor cores straight from
// shared memory through matrix descriptors. All 256 threads load with cp.async into the
// canonical K-major layout without swizzle: 8-row x 16-byte "core matrices" of 128 contiguous
// bytes (conflict-free for the tensor cores' reads), the 4 core matrices of a row group's
// 64-byte k-tile side by side (LBO 128 bytes), row groups 512 bytes apart (SBO). Five stages.
// C % 16 == 0, Kp % 64 == 0, M > 64 (BN 128) or M > 32 (BN 64).
// BN 64 (m64n64, 32 accumulators, four stages in 48 KiB): three blocks per SM instead of two,
// for layers whose few reduction steps leave the 128-channel tiles waiting on their epilogue.
constexpr int kGBM = 128, kGBK = 64;
template <int BN>
struct WgmmaTile {
  static constexpr int kStages = BN == 128 ? 5 : 4;
  static constexpr int kStage = (kGBM + BN) * kGBK;  // bytes: no padding in this layout
  static constexpr int kCRow = BN + 4;
  static constexpr int kSmem = kStages * kStage;
  static_assert(kGBM * kCRow * 4 <= kSmem, "the accumulator tile fits the stages");
};
static_assert(WgmmaTile<128>::kSmem == EDGERT_QCONV_WIDE_SMEM, "the host's launch size");
static_assert(WgmmaTile<64>::kSmem == EDGERT_QCONV_WGMMA64_SMEM, "the host's launch size");

// A shared-memory matrix descriptor (PTX "matrix descriptor format"): start address, leading
// (K) and stride (8-row) byte offsets, each >> 4; no swizzle.
[[maybe_unused]] __device__ __forceinline__ unsigned long long wgmmaDesc(const void* smem,
                                                                         unsigned lbo,
                                                                         unsigned sbo) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  return static_cast<unsigned long long>((a & 0x3FFFF) >> 4) |
         static_cast<unsigned long long>(lbo >> 4) << 16 |
         static_cast<unsigned long long>(sbo >> 4) << 32;
}

// D (64 x 128, s32) += A (64 x 32, s8, K-major) * B (32 x 128, s8, K-major).
[[maybe_unused]] __device__ __forceinline__ void wgmma128(int (&d)[64], unsigned long long da,
                                                          unsigned long long db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,"
      "%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,"
      "%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, 1;\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]),
        "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]),
        "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]),
        "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]),
        "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31]), "+r"(d[32]), "+r"(d[33]), "+r"(d[34]),
        "+r"(d[35]), "+r"(d[36]), "+r"(d[37]), "+r"(d[38]), "+r"(d[39]), "+r"(d[40]), "+r"(d[41]),
        "+r"(d[42]), "+r"(d[43]), "+r"(d[44]), "+r"(d[45]), "+r"(d[46]), "+r"(d[47]), "+r"(d[48]),
        "+r"(d[49]), "+r"(d[50]), "+r"(d[51]), "+r"(d[52]), "+r"(d[53]), "+r"(d[54]), "+r"(d[55]),
        "+r"(d[56]), "+r"(d[57]), "+r"(d[58]), "+r"(d[59]), "+r"(d[60]), "+r"(d[61]), "+r"(d[62]),
        "+r"(d[63])
      : "l"(da), "l"(db));
#endif
}

// D (64 x 64, s32) += A (64 x 32, s8, K-major) * B (32 x 64, s8, K-major).
[[maybe_unused]] __device__ __forceinline__ void wgmma64(int (&d)[32], unsigned long long da,
                                                         unsigned long long db) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  asm volatile(
      "wgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%"
      "25,%26,%27,%28,%29,%30,%31}, %32, %33, 1;\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3]), "+r"(d[4]), "+r"(d[5]), "+r"(d[6]),
        "+r"(d[7]), "+r"(d[8]), "+r"(d[9]), "+r"(d[10]), "+r"(d[11]), "+r"(d[12]), "+r"(d[13]),
        "+r"(d[14]), "+r"(d[15]), "+r"(d[16]), "+r"(d[17]), "+r"(d[18]), "+r"(d[19]), "+r"(d[20]),
        "+r"(d[21]), "+r"(d[22]), "+r"(d[23]), "+r"(d[24]), "+r"(d[25]), "+r"(d[26]), "+r"(d[27]),
        "+r"(d[28]), "+r"(d[29]), "+r"(d[30]), "+r"(d[31])
      : "l"(da), "l"(db));
#endif
}

[[maybe_unused]] __device__ __forceinline__ void wgmmaN(int (&d)[64], unsigned long long da,
                                                        unsigned long long db) {
  wgmma128(d, da, db);
}
[[maybe_unused]] __device__ __forceinline__ void wgmmaN(int (&d)[32], unsigned long long da,
                                                        unsigned long long db) {
  wgmma64(d, da, db);
}

template <int BN>
__device__ __forceinline__ void qconvWgmma(void* y, const int8_t* x, const int8_t* w,
                                           const EdgertQConvGeom& g, const EdgertQEpi& e, int kp,
                                           long long row0, long long rows) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ __align__(128) int8_t gsm[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2;
  const long long p0 = blockIdx.x * (long long)kGBM;
  const int n0 = blockIdx.y * BN;
  using T = WgmmaTile<BN>;
  // A warp loads whole row groups (8 rows x 64 bytes, 512 contiguous bytes of the stage):
  // lane l row l % 8, segment l / 8; row groups warp and warp + 8, of A and of B.
  const int rin = lane & 7, seg = lane >> 3;
  BigTileRows<2> a_rows;
  a_rows.init(x, g, p0, warp * 8 + rin, 64, seg, rows);
  const int K = g.kh * g.kw * static_cast<int>(g.c), ktiles = kp / kGBK;
  const int8_t* b_src = w + static_cast<long long>(n0 + warp * 8 + rin) * kp + seg * 16;
  const int st_off = warp * 512 + seg * 128 + rin * 16;
  auto load = [&](int stage, int kt) {
    int8_t* as = gsm + stage * T::kStage;
    a_rows.load(as + st_off, 8 * 512, x, g, K);
    int8_t* bs = as + kGBM * kGBK;
#pragma unroll
    for (int j = 0; j < BN / 64; ++j)
      cpAsync16(bs + st_off + j * 8 * 512, b_src + 64LL * j * kp + kt * kGBK, true);
  };
  // One wgmma group stays in flight while the next is issued, so the loads run kStages - 2
  // tiles ahead: step kt refills the stage of tile kt - 2, which every warpgroup finished
  // (wait_group 1 at the end of step kt - 1) before this step's barrier. (Waiting for each
  // group before the next step left the tensor cores idle through every barrier and refill.)
  int acc[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i) acc[i] = 0;
#pragma unroll
  for (int s = 0; s < T::kStages - 2; ++s) {
    if (s < ktiles) load(s, s);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(T::kStages - 3));
    // cp.async wrote through the generic proxy; the tensor cores read through the async one.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    const int next = kt + T::kStages - 2;
    if (next < ktiles) load(next % T::kStages, next);
    asm volatile("cp.async.commit_group;\n" ::);
    const int8_t* st = gsm + (kt % T::kStages) * T::kStage;
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int ks = 0; ks < kGBK / 32; ++ks)
      wgmmaN(acc, wgmmaDesc(st + wg * 8 * 512 + ks * 256, 128, 512),
             wgmmaDesc(st + kGBM * kGBK + ks * 256, 128, 512));
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  asm volatile("cp.async.wait_group 0;\n" ::);
  __syncthreads();
  int* cs = reinterpret_cast<int*>(gsm);
  stageWgmmaAcc<BN>(cs, T::kCRow, acc, wg, warp, lane);
  __syncthreads();
  epilogueTile<kGBM, BN, 8>(cs, T::kCRow, e, p0, n0, rows, row0, y);
#else
  __trap();  // the host launches this kernel only from an sm_90a fatbin on sm_90
#endif
}

}  // namespace

#define EDGERT_QCONV_MMA(BN, P)                                                                   \
  extern "C" __global__ void __launch_bounds__(256)                                               \
      edgert_qconv_mma_n##BN##_p##P(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g, \
                                    EdgertQEpi e, int kp, long long row0, long long rows) {       \
    qconvMma<BN, P>(y, x, w, g, e, kp, row0, rows);                                               \
  }
EDGERT_QCONV_MMA(32, 16)
EDGERT_QCONV_MMA(64, 16)
EDGERT_QCONV_MMA(128, 16)
EDGERT_QCONV_MMA(32, 8)
EDGERT_QCONV_MMA(64, 8)
EDGERT_QCONV_MMA(128, 8)
EDGERT_QCONV_MMA(32, 4)
EDGERT_QCONV_MMA(64, 4)
EDGERT_QCONV_MMA(128, 4)

// Two blocks of 128 threads per SM (about 200 registers each, 80 KiB of shared memory).
extern "C" __global__ void __launch_bounds__(128, 2)
    edgert_qconv_mma_wide(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g,
                          EdgertQEpi e, int kp, long long row0, long long rows) {
  qconvMmaWide(y, x, w, g, e, kp, row0, rows);
}

// Two blocks of 256 threads per SM (80 KiB of shared memory each); three with 64-channel tiles.
extern "C" __global__ void __launch_bounds__(256, 2)
    edgert_qconv_wgmma(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g, EdgertQEpi e,
                       int kp, long long row0, long long rows) {
  qconvWgmma<128>(y, x, w, g, e, kp, row0, rows);
}
extern "C" __global__ void __launch_bounds__(256, 3)
    edgert_qconv_wgmma_n64(void* y, const int8_t* x, const int8_t* w, EdgertQConvGeom g,
                           EdgertQEpi e, int kp, long long row0, long long rows) {
  qconvWgmma<64>(y, x, w, g, e, kp, row0, rows);
}
