// Elementwise, data-movement and small reduction kernels for the CUDA backend. All are
// extern "C" so the runtime finds them by name in the embedded fatbin.
#include <cuda_fp16.h>

#include "elementwise_math.h"
#include "kernel_params.h"

namespace {

__device__ __forceinline__ float unary(int op, float x, float a, float b) {
  return edgertUnary(op, x, a, b);
}

__device__ __forceinline__ float binary(int op, float x, float y) {
  return edgertBinary(op, x, y);
}

}  // namespace

extern "C" __global__ void edgert_unary_f32(float* y, const float* x, long long n, int op, float a,
                                            float b) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    y[i] = unary(op, x[i], a, b);
}

// Cast between float16 and float32 (an fp16 input binding read by float32 layers).
extern "C" __global__ void edgert_cast_f16_f32(float* y, const __half* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    y[i] = __half2float(x[i]);
}
extern "C" __global__ void edgert_cast_f32_f16(__half* y, const float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    y[i] = __float2half_rn(x[i]);
}

// y = act(x + bias[c] + res) over NC(HW): the fused conv/gemm epilogue. bias and res may be null.
extern "C" __global__ void edgert_bias_act_f32(float* y, const float* x, const float* bias,
                                               const float* res, long long n, long long inner,
                                               long long channels, int op, float a, float b) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    float v = x[i];
    if (bias) v += bias[(i / inner) % channels];
    if (res) v += res[i];
    y[i] = unary(op, v, a, b);
  }
}

// y = x * scale[c] + shift[c] (inference BatchNormalization).
extern "C" __global__ void edgert_channel_affine_f32(float* y, const float* x, const float* scale,
                                                     const float* shift, long long n,
                                                     long long inner, long long channels) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    const long long c = (i / inner) % channels;
    y[i] = x[i] * scale[c] + shift[c];
  }
}

extern "C" __global__ void edgert_binary_f32(float* y, const float* a, const float* b,
                                             EdgertBroadcast p, int op) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.total;
       i += (long long)gridDim.x * blockDim.x) {
    long long rem = i, oa = 0, ob = 0;
    for (int d = p.rank - 1; d >= 0; --d) {
      const long long idx = rem % p.dims[d];
      rem /= p.dims[d];
      oa += idx * p.a_strides[d];
      ob += idx * p.b_strides[d];
    }
    y[i] = binary(op, a[oa], b[ob]);
  }
}

// Two common broadcasts, four elements per thread with 32-bit indices (the general kernel
// above divides by every dim of every element: EfficientNet-B0's squeeze-excitation Mul took
// 2 ms of its 14 at fp32 bs128). "same": a and b have the output's shape. "rows": one operand
// has it, the other holds one value per row of `inner4` vectors ([N,C,H,W] x [N,C,1,1]);
// `row_first` says which side of the op the row value is on.
extern "C" __global__ void edgert_binary_same_f32_v4(float4* y, const float4* a, const float4* b,
                                                     unsigned n4, int op) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    const float4 u = a[i], v = b[i];
    y[i] = make_float4(binary(op, u.x, v.x), binary(op, u.y, v.y), binary(op, u.z, v.z),
                       binary(op, u.w, v.w));
  }
}

extern "C" __global__ void edgert_binary_rows_f32_v4(float4* y, const float4* full,
                                                     const float* row, unsigned n4, unsigned inner4,
                                                     int op, int row_first) {
  for (unsigned i = blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += gridDim.x * blockDim.x) {
    const float4 u = full[i];
    const float r = row[i / inner4];
    y[i] = row_first ? make_float4(binary(op, r, u.x), binary(op, r, u.y), binary(op, r, u.z),
                                   binary(op, r, u.w))
                     : make_float4(binary(op, u.x, r), binary(op, u.y, r), binary(op, u.z, r),
                                   binary(op, u.w, r));
  }
}

// Reads the parameters in place (a local copy of the arrays, indexed by a run-time rank,
// would live in local memory).
template <class T, class I>
__device__ void stridedCopyIndexed(T* y, const T* x, const EdgertStrided& p) {
  const I total = static_cast<I>(p.total);
  for (I i = blockIdx.x * (I)blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
    I rem = i, oi = static_cast<I>(p.in_offset), oo = static_cast<I>(p.out_offset);
    for (int d = p.rank - 1; d >= 0; --d) {
      const I dim = static_cast<I>(p.dims[d]);
      const I idx = rem % dim;
      rem /= dim;
      oi += idx * static_cast<I>(p.in_strides[d]);
      oo += idx * static_cast<I>(p.out_strides[d]);
    }
    y[oo] = x[oi];
  }
}

// 32-bit index math when every offset fits (integer division dominates these copies).
// Strides are non-negative here (Slice with negative steps keeps the 64-bit path).
template <class T>
__device__ void stridedCopy(T* y, const T* x, const EdgertStrided& p) {
  bool small = p.total < 2147483647LL && p.in_offset >= 0 && p.out_offset >= 0;
  long long in_end = p.in_offset, out_end = p.out_offset;
  for (int d = 0; d < p.rank && small; ++d) {
    small = p.in_strides[d] >= 0 && p.out_strides[d] >= 0;
    in_end += (p.dims[d] - 1) * p.in_strides[d];
    out_end += (p.dims[d] - 1) * p.out_strides[d];
  }
  if (small && in_end < 2147483647LL && out_end < 2147483647LL)
    stridedCopyIndexed<T, unsigned int>(y, x, p);
  else
    stridedCopyIndexed<T, long long>(y, x, p);
}

// Transpose, Slice, Concat/Split parts, Expand: one strided copy, by element size.
extern "C" __global__ void edgert_strided_copy_b1(unsigned char* y, const unsigned char* x,
                                                  EdgertStrided p) {
  stridedCopy(y, x, p);
}
extern "C" __global__ void edgert_strided_copy_b2(unsigned short* y, const unsigned short* x,
                                                  EdgertStrided p) {
  stridedCopy(y, x, p);
}
extern "C" __global__ void edgert_strided_copy_b4(unsigned int* y, const unsigned int* x,
                                                  EdgertStrided p) {
  stridedCopy(y, x, p);
}
extern "C" __global__ void edgert_strided_copy_b8(unsigned long long* y,
                                                  const unsigned long long* x, EdgertStrided p) {
  stridedCopy(y, x, p);
}
extern "C" __global__ void edgert_strided_copy_b16(uint4* y, const uint4* x, EdgertStrided p) {
  stridedCopy(y, x, p);
}

namespace {

// Max or average pool at output pixel (oh, ow) of one plane; load(y, x) reads the input.
template <class Load>
__device__ __forceinline__ float poolSample(const EdgertPool& p, long long oh, long long ow,
                                            Load load) {
  float best = -3.402823466e38f, sum = 0.f;
  int count = 0;
  for (int kh = 0; kh < p.kh; ++kh) {
    const long long ih = oh * p.sh - p.ph + kh * p.dh;
    for (int kw = 0; kw < p.kw; ++kw) {
      const long long iw = ow * p.sw - p.pw + kw * p.dw;
      if (ih < 0 || ih >= p.ih || iw < 0 || iw >= p.iw) {
        if (!p.is_max && p.count_include_pad && ih < p.ih + p.pe_h && iw < p.iw + p.pe_w) ++count;
        continue;
      }
      const float v = load(ih, iw);
      best = fmaxf(best, v);
      sum += v;
      ++count;
    }
  }
  return p.is_max ? best : (count ? sum / count : 0.f);
}

}  // namespace

extern "C" __global__ void edgert_pool2d_f32(float* y, const float* x, EdgertPool p) {
  const long long total = p.nc * p.oh * p.ow;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ow = i % p.ow, oh = (i / p.ow) % p.oh, c = i / (p.ow * p.oh);
    const float* xc = x + c * p.ih * p.iw;
    y[i] = poolSample(p, oh, ow, [&](long long yy, long long xx) { return xc[yy * p.iw + xx]; });
  }
}

// One block per (outer, inner) row: max, sum of exp, normalise. Rows are `inner` apart.
extern "C" __global__ void edgert_softmax_f32(float* y, const float* x, long long outer,
                                              long long n, long long inner, int log_softmax) {
  __shared__ float red[32];
  const long long row = blockIdx.x;
  if (row >= outer * inner) return;
  const long long o = row / inner, in = row % inner;
  const float* xr = x + o * n * inner + in;
  float* yr = y + o * n * inner + in;
  float m = -3.402823466e38f;
  for (long long k = threadIdx.x; k < n; k += blockDim.x) m = fmaxf(m, xr[k * inner]);
  for (int off = 16; off; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
  __syncthreads();
  if (threadIdx.x < 32) {
    m = threadIdx.x < (blockDim.x + 31) / 32 ? red[threadIdx.x] : -3.402823466e38f;
    for (int off = 16; off; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if (threadIdx.x == 0) red[0] = m;
  }
  __syncthreads();
  m = red[0];
  __syncthreads();
  float s = 0.f;
  for (long long k = threadIdx.x; k < n; k += blockDim.x) s += expf(xr[k * inner] - m);
  for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x < 32) {
    s = threadIdx.x < (blockDim.x + 31) / 32 ? red[threadIdx.x] : 0.f;
    for (int off = 16; off; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    if (threadIdx.x == 0) red[0] = s;
  }
  __syncthreads();
  s = red[0];
  const float ls = logf(s);
  for (long long k = threadIdx.x; k < n; k += blockDim.x) {
    const float z = xr[k * inner] - m;
    yr[k * inner] = log_softmax ? z - ls : expf(z) / s;
  }
}

// Short rows (n <= 64, as YOLO's distribution-focal-loss softmax over 16 bins): one thread
// per row; adjacent threads take adjacent inner positions, so reads coalesce.
extern "C" __global__ void edgert_softmax_short_f32(float* y, const float* x, long long outer,
                                                    long long n, long long inner, int log_softmax) {
  for (long long row = blockIdx.x * (long long)blockDim.x + threadIdx.x; row < outer * inner;
       row += (long long)gridDim.x * blockDim.x) {
    const long long o = row / inner, in = row % inner;
    const float* xr = x + o * n * inner + in;
    float* yr = y + o * n * inner + in;
    float m = -3.402823466e38f, s = 0.f;
    for (long long k = 0; k < n; ++k) m = fmaxf(m, xr[k * inner]);
    for (long long k = 0; k < n; ++k) s += expf(xr[k * inner] - m);
    const float ls = logf(s);
    for (long long k = 0; k < n; ++k) {
      const float z = xr[k * inner] - m;
      yr[k * inner] = log_softmax ? z - ls : expf(z) / s;
    }
  }
}

// Mean or max over the last `n` contiguous values of each row (global pools).
extern "C" __global__ void edgert_row_reduce_f32(float* y, const float* x, long long rows,
                                                 long long n, int is_max) {
  __shared__ float red[32];
  const long long r = blockIdx.x;
  if (r >= rows) return;
  const float* xr = x + r * n;
  float acc = is_max ? -3.402823466e38f : 0.f;
  if ((n & 3) == 0 && (reinterpret_cast<size_t>(x) & 15) == 0) {
    // 16-byte loads: the global pools of a squeeze-excitation network read whole maps.
    const float4* x4 = reinterpret_cast<const float4*>(xr);
    for (long long k = threadIdx.x; k < n / 4; k += blockDim.x) {
      const float4 v = x4[k];
      acc = is_max ? fmaxf(fmaxf(acc, v.x), fmaxf(v.y, fmaxf(v.z, v.w)))
                   : acc + ((v.x + v.y) + (v.z + v.w));
    }
  } else {
    for (long long k = threadIdx.x; k < n; k += blockDim.x)
      acc = is_max ? fmaxf(acc, xr[k]) : acc + xr[k];
  }
  for (int off = 16; off; off >>= 1) {
    const float o = __shfl_xor_sync(0xffffffffu, acc, off);
    acc = is_max ? fmaxf(acc, o) : acc + o;
  }
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = acc;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = red[0];
    for (int w = 1; w < (blockDim.x + 31) / 32; ++w) t = is_max ? fmaxf(t, red[w]) : t + red[w];
    y[r] = is_max ? t : t / (float)n;
  }
}

namespace {

// Resize's source coordinates of output pixel (oh, ow), by the coordinate transform.
__device__ __forceinline__ void resizeSource(const EdgertResize& p, long long oh, long long ow,
                                             float src[2]) {
  const long long o[2] = {oh, ow};
  const long long in[2] = {p.ih, p.iw};
  const long long out[2] = {p.oh, p.ow};
  const float sc[2] = {p.scale_h, p.scale_w};
  for (int d = 0; d < 2; ++d) {
    const float od = (float)o[d];
    switch (p.coord) {
      case 0:
        src[d] = (od + 0.5f) / sc[d] - 0.5f;
        break;
      case 1:
        src[d] = od / sc[d];
        break;
      case 2: {
        const float len = (float)in[d] * sc[d];
        src[d] = len <= 1.f ? 0.f : od * (float)(in[d] - 1) / (len - 1.f);
        break;
      }
      case 3:
        src[d] = out[d] > 1 ? (od + 0.5f) / sc[d] - 0.5f : 0.f;
        break;
      default:
        src[d] = (od + 0.5f) / sc[d];
        break;
    }
  }
}

// Resize's value at output pixel (oh, ow) of one plane; load(y, x) reads the input.
// The value type is what `load` returns: float, or several channels at once (a type with
// float * V and V + V).
template <class Load>
__device__ __forceinline__ auto resizeSample(const EdgertResize& p, long long oh, long long ow,
                                             Load load) {
  const long long in[2] = {p.ih, p.iw};
  float src[2];
  resizeSource(p, oh, ow, src);
  if (!p.linear) {
    long long idx[2];
    for (int d = 0; d < 2; ++d) {
      const float fl = floorf(src[d]);
      long long v;
      if (p.nearest == 2)
        v = (long long)fl;
      else if (p.nearest == 3)
        v = (long long)ceilf(src[d]);
      else if (src[d] - fl == 0.5f)
        v = (long long)(p.nearest == 0 ? fl : fl + 1.f);
      else
        v = (long long)roundf(src[d]);
      idx[d] = v < 0 ? 0 : (v >= in[d] ? in[d] - 1 : v);
    }
    return load(idx[0], idx[1]);
  }
  const float sy = fminf(fmaxf(src[0], 0.f), (float)(p.ih - 1));
  const float sx = fminf(fmaxf(src[1], 0.f), (float)(p.iw - 1));
  const long long y0 = (long long)sy, x0 = (long long)sx;
  const long long y1 = min(y0 + 1, p.ih - 1), x1 = min(x0 + 1, p.iw - 1);
  const float fy = sy - y0, fx = sx - x0;
  return (1.f - fy) * ((1.f - fx) * load(y0, x0) + fx * load(y0, x1)) +
         fy * ((1.f - fx) * load(y1, x0) + fx * load(y1, x1));
}

}  // namespace

extern "C" __global__ void edgert_resize2d_f32(float* y, const float* x, EdgertResize p) {
  const long long total = p.nc * p.oh * p.ow;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long ow = i % p.ow, oh = (i / p.ow) % p.oh, c = i / (p.ow * p.oh);
    const float* xc = x + c * p.ih * p.iw;
    y[i] = resizeSample(p, oh, ow, [&](long long yy, long long xx) { return xc[yy * p.iw + xx]; });
  }
}

// Fill with a 32-bit pattern (constant Pad's border value).
extern "C" __global__ void edgert_fill_b4(unsigned int* y, unsigned int v, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    y[i] = v;
}

// Reduce over one axis (or a run of adjacent axes) of an (outer, n, inner) view: one
// thread per output. op: 0 sum, 1 mean, 2 max, 3 min.
extern "C" __global__ void edgert_axis_reduce_f32(float* y, const float* x, long long outer,
                                                  long long n, long long inner, int op) {
  const long long total = outer * inner;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
       i += (long long)gridDim.x * blockDim.x) {
    const long long o = i / inner, in = i % inner;
    const float* xr = x + o * n * inner + in;
    float acc = op == 2 ? -3.402823466e38f : (op == 3 ? 3.402823466e38f : 0.f);
    for (long long k = 0; k < n; ++k) {
      const float v = xr[k * inner];
      acc = op == 2 ? fmaxf(acc, v) : (op == 3 ? fminf(acc, v) : acc + v);
    }
    y[i] = op == 1 ? acc / (float)n : acc;
  }
}

// FP16 islands: convert an activation for a tensor-core layer, and bring its result back
// to fp32 through the fused epilogue.
extern "C" __global__ void edgert_f32_to_f16(__half* y, const float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x)
    y[i] = __float2half_rn(x[i]);
}

extern "C" __global__ void edgert_bias_act_h2f(float* y, const __half* x, const float* bias,
                                               const float* res, long long n, long long inner,
                                               long long channels, int op, float a, float b) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
       i += (long long)gridDim.x * blockDim.x) {
    float v = __half2float(x[i]);
    if (bias) v += bias[(i / inner) % channels];
    if (res) v += res[i];
    y[i] = unary(op, v, a, b);
  }
}

// EdgertElementwise: one pass over the output for a whole chain of elementwise ops.
namespace {

// Element i of an EdgertElementwise program (kernel_params.h); load(k, index) reads input k.
// Shared by the float32 and the NHWC fp16 kernels (nhwc_half.cu).
template <class Load>
__device__ __forceinline__ float fusedElement(const EdgertFused& p, long long i, Load load) {
  float r[EDGERT_FUSED_MAX_CODE] = {};
  auto operand = [&](int o) -> float {
    if (o < 100) return r[o];
    if (o >= 200) return p.imm[o - 200];
    const int k = o - 100;
    if (p.mode[k] == kFusedFull) return load(k, i);
    if (p.mode[k] == kFusedScalar) return load(k, 0);
    return load(k, (i / p.inner[k]) % p.dim[k]);
  };
  for (int j = 0; j < p.n_code; ++j) {
    const int* c = p.code + 4 * j;
    if (c[0] == 0) {
      const float a = c[3] >= 0 ? p.imm[c[3]] : 0.f, b = c[3] >= 0 ? p.imm[c[3] + 1] : 0.f;
      r[j] = edgertUnary(c[1], operand(c[2]), a, b);
    } else {
      r[j] = edgertBinary(c[1], operand(c[2]), operand(c[3]));
    }
  }
  return r[p.n_code - 1];
}

}  // namespace

extern "C" __global__ void edgert_fused_f32(EdgertFused p, float* y) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < p.total;
       i += static_cast<long long>(gridDim.x) * blockDim.x)
    y[i] = fusedElement(
        p, i, [&](int k, long long at) { return reinterpret_cast<const float*>(p.in[k])[at]; });
}
