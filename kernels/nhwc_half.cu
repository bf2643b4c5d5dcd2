// FP16 NHWC kernels: the layout FP16 engines keep between tensor-core convolutions on the
// GPU (cuDNN's fast FP16 kernels read and write NHWC). Arithmetic is in float; storage in
// half. Logical tensors stay NCHW; these kernels index the physical N,H,W,C order.
#include <cuda_fp16.h>

#include "half_vector.h"

namespace {

__device__ __forceinline__ float loadAs(const void* p, long long i, bool half) {
  return half ? __half2float(static_cast<const __half*>(p)[i]) : static_cast<const float*>(p)[i];
}

// Layout conversions, one thread per output element; the index type is 32-bit when the
// tensor allows (integer division dominates).
template <class I>
__device__ __forceinline__ void toNhwc(__half* y, const float* x, I n, I c, I hw) {
  const I total = n * c * hw;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I ch = i % c, p = (i / c) % hw, b = i / (c * hw);
    y[i] = __float2half_rn(x[(b * c + ch) * hw + p]);
  }
}

template <class I>
__device__ __forceinline__ void toNchw(float* y, const __half* x, I n, I c, I hw) {
  const I total = n * c * hw;
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    const I p = i % hw, ch = (i / hw) % c, b = i / (c * hw);
    y[i] = __half2float(x[(b * hw + p) * c + ch]);
  }
}

}  // namespace

// NCHW float32 -> NHWC fp16.
extern "C" __global__ void edgert_nchw_f32_to_nhwc_f16(__half* y, const float* x, long long n,
                                                       long long c, long long hw) {
  if (n * c * hw < 2147483647LL)
    toNhwc<unsigned>(y, x, static_cast<unsigned>(n), static_cast<unsigned>(c),
                     static_cast<unsigned>(hw));
  else
    toNhwc<long long>(y, x, n, c, hw);
}

// NCHW float32 -> NHWC fp16 with the channels padded to cp (zeros): a first convolution's
// input for cuDNN's C=4 kernels.
extern "C" __global__ void edgert_nchw_f32_to_nhwc_f16_pad(__half* y, const float* x, long long n,
                                                           long long c, long long hw,
                                                           long long cp) {
  const unsigned total = static_cast<unsigned>(n * hw * cp), uc = static_cast<unsigned>(c),
                 ucp = static_cast<unsigned>(cp), uhw = static_cast<unsigned>(hw);
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % ucp, p = (i / ucp) % uhw, b = i / (ucp * uhw);
    y[i] = ch < uc ? __float2half_rn(x[(static_cast<size_t>(b) * uc + ch) * uhw + p])
                   : __float2half_rn(0.f);
  }
}

// The space-to-depth copy of a first convolution's input (C <= 4 channels) for a stride-2
// convolution run as a stride-1 one over 16 channels (the s2d stem, cuda_nhwc_ops.cpp): pixel
// (Y, X) of image b holds input pixels (2Y + py - pt, 2X + px - pl), py and px in {0, 1}, as
// channels (py * 2 + px) * 4 + c, with zeros outside the image and for c >= C: the padding is in
// the copy, so the convolution has none (cuDNN takes only symmetric pads; these are not). The
// source is NCHW float32 (the image binding) or NHWC fp16 (an fp16 binding's Cast), T says which.
template <class T>
__device__ __forceinline__ void s2dCopy(__half* y, const T* x, unsigned n, unsigned c, unsigned h,
                                        unsigned w, unsigned hs, unsigned ws, int pt, int pl) {
  const unsigned total = n * hs * ws;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned X = i % ws, Y = (i / ws) % hs, b = i / (ws * hs);
    __align__(16) __half v[16];
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      const int iy = static_cast<int>(2 * Y) + q / 2 - pt,
                ix = static_cast<int>(2 * X) + q % 2 - pl;
      const bool inside =
          iy >= 0 && iy < static_cast<int>(h) && ix >= 0 && ix < static_cast<int>(w);
#pragma unroll
      for (int ch = 0; ch < 4; ++ch) {
        float f = 0.f;
        if (inside && ch < static_cast<int>(c)) {
          if constexpr (sizeof(T) == 2)
            f = __half2float(x[((static_cast<size_t>(b) * h + iy) * w + ix) * c + ch]);
          else
            f = x[((static_cast<size_t>(b) * c + ch) * h + iy) * w + ix];
        }
        v[q * 4 + ch] = __float2half_rn(f);
      }
    }
    uint4* dst = reinterpret_cast<uint4*>(y + static_cast<size_t>(i) * 16);
    dst[0] = reinterpret_cast<const uint4*>(v)[0];
    dst[1] = reinterpret_cast<const uint4*>(v)[1];
  }
}

extern "C" __global__ void edgert_s2d_nchw_f32_to_nhwc_f16(__half* y, const float* x, unsigned n,
                                                           unsigned c, unsigned h, unsigned w,
                                                           unsigned hs, unsigned ws, int pt,
                                                           int pl) {
  s2dCopy(y, x, n, c, h, w, hs, ws, pt, pl);
}

extern "C" __global__ void edgert_s2d_nhwc_f16(__half* y, const __half* x, unsigned n, unsigned c,
                                               unsigned h, unsigned w, unsigned hs, unsigned ws,
                                               int pt, int pl) {
  s2dCopy(y, x, n, c, h, w, hs, ws, pt, pl);
}

// NHWC fp16 -> NCHW float32.
extern "C" __global__ void edgert_nhwc_f16_to_nchw_f32(float* y, const __half* x, long long n,
                                                       long long c, long long hw) {
  if (n * c * hw < 2147483647LL)
    toNchw<unsigned>(y, x, static_cast<unsigned>(n), static_cast<unsigned>(c),
                     static_cast<unsigned>(hw));
  else
    toNchw<long long>(y, x, n, c, hw);
}

// In place y = act(y + bias[c] + res): the epilogue after an NHWC fp16 convolution, two
// channels per thread (c is even, checked by the host).
extern "C" __global__ void edgert_bias_act_nhwc_h2(__half2* y, const float* bias,
                                                   const __half2* res, long long n2, long long c2,
                                                   int op, float a, float b) {
  // 32-bit index math when it fits: the modulo per element is this kernel's main cost.
  const bool small = n2 < 2147483647LL;
  const unsigned c2u = static_cast<unsigned>(c2);
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n2;
       i += (long long)gridDim.x * blockDim.x) {
    float2 v = __half22float2(y[i]);
    if (bias) {
      const long long ch = 2 * (small ? static_cast<unsigned>(i) % c2u : i % c2);
      v.x += bias[ch];
      v.y += bias[ch + 1];
    }
    if (res) {
      const float2 r = __half22float2(res[i]);
      v.x += r.x;
      v.y += r.y;
    }
    y[i] = __floats2half2_rn(edgertUnary(op, v.x, a, b), edgertUnary(op, v.y, a, b));
  }
}

// The same for an odd channel count.
extern "C" __global__ void edgert_bias_act_nhwc_h(__half* y, const float* bias, const __half* res,
                                                  long long n, long long c, int op, float a,
                                                  float b) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    float v = __half2float(y[i]);
    if (bias) v += bias[i % c];
    if (res) v += __half2float(res[i]);
    y[i] = __float2half_rn(edgertUnary(op, v, a, b));
  }
}

namespace {

// One thread per output element of an NHWC fp16 map whose value samples one channel of the
// input (pools, resize): sample(p, oh, ow, load) with load(y, x) reading that channel.
// p.nc is the batch here (channels are innermost).
template <class P, class Sample>
__device__ __forceinline__ void sampleChannels(__half* y, const __half* x, const P& p, long long c,
                                               Sample sample) {
  const long long total = p.nc * p.oh * p.ow * c;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ch = i % c, ow = (i / c) % p.ow, oh = (i / (c * p.ow)) % p.oh,
                    b = i / (c * p.ow * p.oh);
    const __half* xb = x + b * p.ih * p.iw * c + ch;
    y[i] = __float2half_rn(sample(p, oh, ow, [&](long long yy, long long xx) {
      return __half2float(xb[(yy * p.iw + xx) * c]);
    }));
  }
}

}  // namespace

// MaxPool / AveragePool.
extern "C" __global__ void edgert_pool2d_nhwc_h(__half* y, const __half* x, EdgertPool p,
                                                long long c) {
  sampleChannels(y, x, p, c, [](const EdgertPool& q, long long oh, long long ow, auto load) {
    return poolSample(q, oh, ow, load);
  });
}

// MaxPool / AveragePool on channel pairs (c even) with 32-bit index math (the host checks).
extern "C" __global__ void edgert_pool2d_nhwc_h2(__half2* y, const __half2* x, EdgertPool p,
                                                 long long c) {
  const unsigned c2 = static_cast<unsigned>(c / 2), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh);
  const unsigned total = static_cast<unsigned>(p.nc) * oh * ow * c2;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % c2, pix = i / c2, ox = pix % ow, rest = pix / ow, oy = rest % oh,
                   b = rest / oh;
    const __half2* xb = x + static_cast<size_t>(b) * p.ih * p.iw * c2 + ch;
    const float lo = poolSample(p, oy, ox, [&](long long yy, long long xx) {
      return __low2float(xb[(yy * p.iw + xx) * c2]);
    });
    const float hi = poolSample(p, oy, ox, [&](long long yy, long long xx) {
      return __high2float(xb[(yy * p.iw + xx) * c2]);
    });
    y[i] = __floats2half2_rn(lo, hi);
  }
}

// y = x op s[n][c]: a per-(image, channel) operand broadcast over the pixels (the
// squeeze-and-excitation gate), channel pairs, 32-bit index math (the host checks).
// s is fp16 or float32 (s_half); s_stride_n is 0 when s is shared by all images.
extern "C" __global__ void edgert_channel_op_nhwc_h2(__half2* y, const __half2* x, const void* s,
                                                     long long n2, long long hw, long long c,
                                                     long long s_stride_n, int s_half, int op,
                                                     int x_first) {
  const unsigned c2 = static_cast<unsigned>(c / 2), img = static_cast<unsigned>(hw) * c2;
  const unsigned total = static_cast<unsigned>(n2);
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = 2 * (i % c2), b = i / img;
    const long long si = b * s_stride_n + ch;
    const float s0 = loadAs(s, si, s_half), s1 = loadAs(s, si + 1, s_half);
    const float2 v = __half22float2(x[i]);
    y[i] = x_first ? __floats2half2_rn(edgertBinary(op, v.x, s0), edgertBinary(op, v.y, s1))
                   : __floats2half2_rn(edgertBinary(op, s0, v.x), edgertBinary(op, s1, v.y));
  }
}

// The same on eight channels per thread (c % 8 == 0, 32-bit sizes: the host checks): the
// pair kernel ran the SE gates of EfficientNet-B0 at bs128 at a third of memory bandwidth.
extern "C" __global__ void edgert_channel_op_nhwc_h8(uint4* y, const uint4* x, const void* s,
                                                     long long n8, long long hw, long long c,
                                                     long long s_stride_n, int s_half, int op,
                                                     int x_first) {
  const unsigned c8 = static_cast<unsigned>(c / 8), img = static_cast<unsigned>(hw) * c8;
  const unsigned total = static_cast<unsigned>(n8);
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = 8 * (i % c8), b = i / img;
    const long long si = b * s_stride_n + ch;
    float v[8];
    unpackHalves(x[i], v);
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const float sv = loadAs(s, si + e, s_half);
      v[e] = x_first ? edgertBinary(op, v[e], sv) : edgertBinary(op, sv, v[e]);
    }
    y[i] = packHalves<uint4>(v);
  }
}

// GlobalAverage/MaxPool stage 1 on eight channels per thread (c % 8 == 0): grid
// (ceil(c / 256), n, splits), block (32, 8), 16-byte loads; same partials as below.
extern "C" __global__ void edgert_global_pool_nhwc_part_h8(float* part, const uint4* x,
                                                           long long hw, long long c, int is_max) {
  __shared__ float lane[8][32 * 8 + 1];
  const long long c8 = c / 8, g = blockIdx.x * 32LL + threadIdx.x, b = blockIdx.y;
  const long long splits = gridDim.z, per = (hw + splits - 1) / splits;
  const long long p0 = blockIdx.z * per, p1 = min(hw, p0 + per);
  float acc[8];
#pragma unroll
  for (int e = 0; e < 8; ++e) acc[e] = is_max ? -3.402823466e38f : 0.f;
  if (g < c8)
    for (long long p = p0 + threadIdx.y; p < p1; p += blockDim.y) {
      float v[8];
      unpackHalves(x[(b * hw + p) * c8 + g], v);
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[e] = is_max ? fmaxf(acc[e], v[e]) : acc[e] + v[e];
    }
#pragma unroll
  for (int e = 0; e < 8; ++e) lane[threadIdx.y][threadIdx.x * 8 + e] = acc[e];
  __syncthreads();
  // Thread (x, y) combines channel x * 8 + y of the block over the eight rows.
  const int cl = threadIdx.x * 8 + threadIdx.y;
  const long long ch = blockIdx.x * 256LL + cl;
  if (ch >= c) return;
  float r = lane[0][cl];
  for (int k = 1; k < 8; ++k) r = is_max ? fmaxf(r, lane[k][cl]) : r + lane[k][cl];
  part[(b * splits + blockIdx.z) * c + ch] = r;
}

// GlobalAverage/MaxPool, stage 1: grid (ceil(c / 32), n, splits), block (32, 8). Each block
// reduces its share of the pixels for 32 adjacent channels (coalesced reads); lanes along y
// split the share further. Partial results go to part[n][split][c] (float).
extern "C" __global__ void edgert_global_pool_nhwc_part(float* part, const __half* x, long long hw,
                                                        long long c, int is_max) {
  __shared__ float lane[8][33];
  const long long ch = blockIdx.x * 32LL + threadIdx.x, b = blockIdx.y;
  const long long splits = gridDim.z, per = (hw + splits - 1) / splits;
  const long long p0 = blockIdx.z * per, p1 = min(hw, p0 + per);
  float acc = is_max ? -3.402823466e38f : 0.f;
  if (ch < c)
    for (long long p = p0 + threadIdx.y; p < p1; p += blockDim.y) {
      const float v = __half2float(x[(b * hw + p) * c + ch]);
      acc = is_max ? fmaxf(acc, v) : acc + v;
    }
  lane[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || ch >= c) return;
  for (int k = 1; k < blockDim.y; ++k)
    acc = is_max ? fmaxf(acc, lane[k][threadIdx.x]) : acc + lane[k][threadIdx.x];
  part[(b * splits + blockIdx.z) * c + ch] = acc;
}

// Stage 2: one thread per (n, c) combines the splits.
extern "C" __global__ void edgert_global_pool_nhwc_final(__half* y, const float* part, long long n,
                                                         long long splits, long long c,
                                                         long long hw, int is_max) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n * c;
       i += (long long)gridDim.x * blockDim.x) {
    const long long b = i / c, ch = i % c;
    float acc = is_max ? -3.402823466e38f : 0.f;
    for (long long s = 0; s < splits; ++s) {
      const float v = part[(b * splits + s) * c + ch];
      acc = is_max ? fmaxf(acc, v) : acc + v;
    }
    y[i] = __float2half_rn(is_max ? acc : acc / (float)hw);
  }
}

// Resize (nearest / linear).
extern "C" __global__ void edgert_resize2d_nhwc_h(__half* y, const __half* x, EdgertResize p,
                                                  long long c) {
  sampleChannels(y, x, p, c, [](const EdgertResize& q, long long oh, long long ow, auto load) {
    return resizeSample(q, oh, ow, load);
  });
}

namespace {

// Eight channels as one value for resizeSample's arithmetic.
struct Float8 {
  float v[8];
};
__device__ __forceinline__ Float8 operator*(float a, const Float8& b) {
  Float8 r;
#pragma unroll
  for (int e = 0; e < 8; ++e) r.v[e] = a * b.v[e];
  return r;
}
__device__ __forceinline__ Float8 operator+(const Float8& a, const Float8& b) {
  Float8 r;
#pragma unroll
  for (int e = 0; e < 8; ++e) r.v[e] = a.v[e] + b.v[e];
  return r;
}

}  // namespace

// Resize on eight channels per thread (c % 8 == 0, 32-bit sizes: the host checks): the
// coordinate arithmetic once per eight channels, 16-byte loads (YOLOv8's nearest upsample at
// bs128 ran one channel per thread at a tenth of memory bandwidth).
extern "C" __global__ void edgert_resize2d_nhwc_h8(uint4* y, const uint4* x, EdgertResize p,
                                                   long long c) {
  const unsigned c8 = static_cast<unsigned>(c / 8), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh);
  const unsigned total = static_cast<unsigned>(p.nc) * oh * ow * c8;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % c8, pix = i / c8, ox = pix % ow, rest = pix / ow, oy = rest % oh,
                   b = rest / oh;
    const uint4* xb = x + static_cast<size_t>(b) * p.ih * p.iw * c8 + ch;
    const Float8 v = resizeSample(p, oy, ox, [&](long long yy, long long xx) {
      Float8 r;
      unpackHalves(xb[static_cast<size_t>(yy * p.iw + xx) * c8], r.v);
      return r;
    });
    y[i] = packHalves<uint4>(v.v);
  }
}

namespace {

template <class I>
__device__ __forceinline__ void binaryHalf(__half* y, const void* a, const void* b,
                                           const EdgertBroadcast& p, int op, int half_mask) {
  const I total = static_cast<I>(p.total);
  I dims[4], as[4], bs[4];
  for (int d = 0; d < 4; ++d) {
    dims[d] = static_cast<I>(p.dims[d]);
    as[d] = static_cast<I>(p.a_strides[d]);
    bs[d] = static_cast<I>(p.b_strides[d]);
  }
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I rem = i, oa = 0, ob = 0;
    for (int d = 3; d >= 0; --d) {
      const I idx = rem % dims[d];
      rem /= dims[d];
      oa += idx * as[d];
      ob += idx * bs[d];
    }
    y[i] = __float2half_rn(
        edgertBinary(op, loadAs(a, oa, half_mask & 1), loadAs(b, ob, (half_mask >> 1) & 1)));
  }
}

}  // namespace

// Binary op with broadcasting over the physical output order (rank 4); each operand fp16 or
// float32 (bit 0: a, bit 1: b), with its own strides (constants keep their NCHW storage).
// 32-bit index math when the tensor allows: integer division dominates this kernel.
extern "C" __global__ void edgert_binary_h(__half* y, const void* a, const void* b,
                                           EdgertBroadcast p, int op, int half_mask) {
  if (p.total < 2147483647LL)
    binaryHalf<unsigned int>(y, a, b, p, op, half_mask);
  else
    binaryHalf<long long>(y, a, b, p, op, half_mask);
}

// EdgertElementwise over fp16 NHWC: the program of edgert_fused_f32, inputs fp16 or float32.
extern "C" __global__ void edgert_fused_h(EdgertFused p, __half* y) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < p.total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] = __float2half_rn(fusedElement(p, i, [&](int k, long long at) {
      return loadAs(reinterpret_cast<const void*>(p.in[k]), at, (p.half_mask >> k) & 1);
    }));
}

// Depthwise convolution, NHWC fp16, weights [kh * kw][c] fp16, then y = act(conv + bias +
// res): each thread computes four adjacent output pixels of one channel pair (c even, checked
// by the host), adjacent threads on adjacent pairs (coalesced); the weights and the index
// arithmetic are shared by the four (one pixel per thread spent more in integer division
// than in loads). 32-bit index math (the host checks the sizes).
extern "C" __global__ void edgert_dwconv_nhwc_h2x4(EdgertDwConv p, __half2* y, const __half2* x,
                                                   const __half2* w, const float* bias,
                                                   const __half2* res) {
  const unsigned c2 = static_cast<unsigned>(p.c / 2), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh), iw = static_cast<unsigned>(p.iw);
  const unsigned owq = (ow + 3) / 4;
  const int ih = static_cast<int>(p.ih);
  const unsigned total = static_cast<unsigned>(p.n) * oh * owq * c2;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % c2, t = i / c2, oxq = t % owq, rest = t / owq, oy = rest % oh,
                   b = rest / oh, ox0 = 4 * oxq;
    const __half2* xb = x + static_cast<size_t>(b) * ih * iw * c2 + ch;
    const float2 b0 = bias ? make_float2(bias[2 * ch], bias[2 * ch + 1]) : make_float2(0.f, 0.f);
    float2 acc[4] = {b0, b0, b0, b0};
    for (int ky = 0; ky < p.kh; ++ky) {
      const int iy = static_cast<int>(oy) * p.sh - p.ph + ky * p.dh;
      if (iy < 0 || iy >= ih) continue;
      const __half2* row = xb + static_cast<size_t>(iy) * iw * c2;
      for (int kx = 0; kx < p.kw; ++kx) {
        const float2 k = __half22float2(w[(ky * p.kw + kx) * c2 + ch]);
#pragma unroll
        for (int j = 0; j < 4; ++j) {
          const int ix = static_cast<int>(ox0 + j) * p.sw - p.pw + kx * p.dw;
          if (ox0 + j >= ow || ix < 0 || ix >= static_cast<int>(iw)) continue;
          const float2 v = __half22float2(row[static_cast<unsigned>(ix) * c2]);
          acc[j].x += v.x * k.x;
          acc[j].y += v.y * k.y;
        }
      }
    }
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (ox0 + j >= ow) break;
      const unsigned o = ((b * oh + oy) * ow + ox0 + j) * c2 + ch;
      if (res) {
        const float2 r = __half22float2(res[o]);
        acc[j].x += r.x;
        acc[j].y += r.y;
      }
      y[o] = __floats2half2_rn(edgertUnary(p.act, acc[j].x, p.a, p.b),
                               edgertUnary(p.act, acc[j].y, p.a, p.b));
    }
  }
}

// Depthwise convolution, NHWC fp16, weights [kh * kw][c] fp16, then y = act(conv + bias +
// res): one thread per output element, adjacent threads on adjacent channels (coalesced).
extern "C" __global__ void edgert_dwconv_nhwc_h(EdgertDwConv p, __half* y, const __half* x,
                                                const __half* w, const float* bias,
                                                const __half* res) {
  const long long total = p.n * p.oh * p.ow * p.c;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ch = i % p.c, ox = (i / p.c) % p.ow, oy = (i / (p.c * p.ow)) % p.oh,
                    b = i / (p.c * p.ow * p.oh);
    const __half* xb = x + b * p.ih * p.iw * p.c + ch;
    float acc = bias ? bias[ch] : 0.f;
    for (int ky = 0; ky < p.kh; ++ky) {
      const long long iy = oy * p.sh - p.ph + ky * p.dh;
      if (iy < 0 || iy >= p.ih) continue;
      for (int kx = 0; kx < p.kw; ++kx) {
        const long long ix = ox * p.sw - p.pw + kx * p.dw;
        if (ix < 0 || ix >= p.iw) continue;
        acc +=
            __half2float(xb[(iy * p.iw + ix) * p.c]) * __half2float(w[(ky * p.kw + kx) * p.c + ch]);
      }
    }
    if (res) acc += __half2float(res[i]);
    y[i] = __float2half_rn(edgertUnary(p.act, acc, p.a, p.b));
  }
}

namespace {

// Depthwise K x K, stride S, dilation 1: each thread computes kOut adjacent output pixels
// of four channels (8-byte loads). The input columns the kOut pixels share are loaded once
// per kernel row and reused for every tap; the kernel size is a template parameter so the
// taps unroll into registers (the runtime-sized h2x4 kernel reloads each column per tap).
// Four channels, not eight: eight needed 80-117 registers, which held occupancy to 37%.
template <int K, int S, int A>
__device__ __forceinline__ void dwconvH4(const EdgertDwConv& p, uint2* y, const uint2* x,
                                         const uint2* w, const float* bias, const uint2* res) {
  constexpr int kOut = 4, kCols = (kOut - 1) * S + K;
  const unsigned c4 = static_cast<unsigned>(p.c / 4), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh), iw = static_cast<unsigned>(p.iw);
  const unsigned owq = (ow + kOut - 1) / kOut;
  const int ih = static_cast<int>(p.ih);
  const unsigned total = static_cast<unsigned>(p.n) * oh * owq * c4;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % c4, t = i / c4, oxq = t % owq, rest = t / owq, oy = rest % oh,
                   b = rest / oh, ox0 = kOut * oxq;
    const uint2* xb = x + static_cast<size_t>(b) * ih * iw * c4 + ch;
    float acc[kOut][4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float b0 = bias ? bias[4 * ch + e] : 0.f;
#pragma unroll
      for (int j = 0; j < kOut; ++j) acc[j][e] = b0;
    }
    const int ix0 = static_cast<int>(ox0) * S - p.pw;
#pragma unroll
    for (int ky = 0; ky < K; ++ky) {
      const int iy = static_cast<int>(oy) * S - p.ph + ky;
      if (iy < 0 || iy >= ih) continue;
      const uint2* row = xb + static_cast<size_t>(iy) * iw * c4;
      float wk[K][4];
#pragma unroll
      for (int kx = 0; kx < K; ++kx) unpackHalves(w[(ky * K + kx) * c4 + ch], wk[kx]);
#pragma unroll
      for (int col = 0; col < kCols; ++col) {
        const int ix = ix0 + col;
        if (ix < 0 || ix >= static_cast<int>(iw)) continue;
        float v[4];
        unpackHalves(row[static_cast<unsigned>(ix) * c4], v);
#pragma unroll
        for (int j = 0; j < kOut; ++j) {
          const int kx = col - j * S;
          if (kx < 0 || kx >= K) continue;
#pragma unroll
          for (int e = 0; e < 4; ++e) acc[j][e] += v[e] * wk[kx][e];
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kOut; ++j) {
      if (ox0 + j >= ow) break;
      const unsigned o = ((b * oh + oy) * ow + ox0 + j) * c4 + ch;
      if (res) {
        float r[4];
        unpackHalves(res[o], r);
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[j][e] += r[e];
      }
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] = dwAct<A>(acc[j][e], p.a, p.b);
      y[o] = packHalves<uint2>(acc[j]);
    }
  }
}

}  // namespace

// The host picks these for c % 4 == 0, dilation 1, square kernels of 3 or 5, stride 1 or 2,
// one of the activations above, and sizes that fit 32-bit indices.
#define EDGERT_DW_H4(K, S, A)                                                                \
  extern "C" __global__ void __launch_bounds__(256) edgert_dwconv_nhwc_h4_k##K##s##S##_a##A( \
      EdgertDwConv p, uint2* y, const uint2* x, const uint2* w, const float* bias,           \
      const uint2* res) {                                                                    \
    dwconvH4<K, S, A>(p, y, x, w, bias, res);                                                \
  }
#define EDGERT_DW_H4_ACTS(K, S) EDGERT_DW_H4(K, S, 0) EDGERT_DW_H4(K, S, 1) EDGERT_DW_H4(K, S, 2)
EDGERT_DW_H4_ACTS(3, 1)
EDGERT_DW_H4_ACTS(3, 2)
EDGERT_DW_H4_ACTS(5, 1)
EDGERT_DW_H4_ACTS(5, 2)
#undef EDGERT_DW_H4_ACTS
#undef EDGERT_DW_H4

// MaxPool / AveragePool on eight channels per thread (c % 8 == 0, 32-bit sizes: the host
// checks), the same window rules as poolSample. ResNet-50's stem pool at batch 128 took
// 0.40 ms with channel pairs (a tenth of memory bandwidth).
extern "C" __global__ void edgert_pool2d_nhwc_h8(uint4* y, const uint4* x, EdgertPool p,
                                                 long long c) {
  const unsigned c8 = static_cast<unsigned>(c / 8), ow = static_cast<unsigned>(p.ow),
                 oh = static_cast<unsigned>(p.oh);
  const int ih = static_cast<int>(p.ih), iw = static_cast<int>(p.iw);
  const unsigned total = static_cast<unsigned>(p.nc) * oh * ow * c8;
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < total; i += gridDim.x * blockDim.x) {
    const unsigned ch = i % c8, pix = i / c8, ox = pix % ow, rest = pix / ow, oy = rest % oh,
                   b = rest / oh;
    const uint4* xb = x + static_cast<size_t>(b) * ih * iw * c8 + ch;
    float best[8], sum[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      best[e] = -3.402823466e38f;
      sum[e] = 0.f;
    }
    int count = 0;
    for (int kh = 0; kh < p.kh; ++kh) {
      const int yy = static_cast<int>(oy) * p.sh - p.ph + kh * p.dh;
      for (int kw = 0; kw < p.kw; ++kw) {
        const int xx = static_cast<int>(ox) * p.sw - p.pw + kw * p.dw;
        if (yy < 0 || yy >= ih || xx < 0 || xx >= iw) {
          if (!p.is_max && p.count_include_pad && yy < ih + p.pe_h && xx < iw + p.pe_w) ++count;
          continue;
        }
        float v[8];
        unpackHalves(xb[static_cast<unsigned>(yy * iw + xx) * c8], v);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          best[e] = fmaxf(best[e], v[e]);
          sum[e] += v[e];
        }
        ++count;
      }
    }
    float out[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) out[e] = p.is_max ? best[e] : (count ? sum[e] / count : 0.f);
    y[i] = packHalves<uint4>(out);
  }
}
