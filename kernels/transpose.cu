// Tiled transposes through shared memory: both the reads and the writes of a warp touch
// contiguous memory (a one-thread-per-output-element copy reads with a stride, using one
// sector of every 32-byte transaction; YOLOv8's final [N,84,A] -> [N,A,84] ran at a fifth of
// memory bandwidth that way). Also the NCHW float32 <-> NHWC fp16 layout conversions, which
// are the same transpose with a type change on the way.
#include <cuda_fp16.h>

#include "kernel_params.h"

namespace {

constexpr int kTile = 32, kTileRows = 8;  // block: 32 x 8 threads, four rows each

template <class T>
__device__ __forceinline__ float toFloat(T v);
template <>
__device__ __forceinline__ float toFloat(float v) {
  return v;
}
template <>
__device__ __forceinline__ float toFloat(__half v) {
  return __half2float(v);
}

template <class TI, class TO>
__device__ __forceinline__ TO convert(TI v) {
  if constexpr (std::is_same_v<TI, TO>)
    return v;
  else if constexpr (std::is_same_v<TO, __half>)
    return __float2half_rn(toFloat(v));
  else
    return static_cast<TO>(toFloat(v));
}

// The tile is kept in the output's type: the conversions happen once, on the way in.
template <class TI, class TO>
__device__ void tileTranspose(TO* __restrict__ y, const TI* __restrict__ x, const EdgertTile& p) {
  __shared__ TO tile[kTile][kTile + 1];  // +1: column reads hit 32 different banks
  const long long i0 = static_cast<long long>(blockIdx.y) * kTile,
                  j0 = static_cast<long long>(blockIdx.x) * kTile;
  for (long long b = blockIdx.z; b < p.batch; b += gridDim.z) {
    const TI* xb = x + b * p.x_batch;
    TO* yb = y + b * p.y_batch;
#pragma unroll
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const long long i = i0 + k, j = j0 + threadIdx.x;
      if (i < p.rows && j < p.cols) tile[k][threadIdx.x] = convert<TI, TO>(xb[i * p.x_row + j]);
    }
    __syncthreads();
#pragma unroll
    for (int k = threadIdx.y; k < kTile; k += kTileRows) {
      const long long j = j0 + k, i = i0 + threadIdx.x;
      if (i < p.rows && j < p.cols) yb[j * p.y_row + i] = tile[threadIdx.x][k];
    }
    __syncthreads();
  }
}

}  // namespace

extern "C" __global__ void edgert_tile_transpose_b2(unsigned short* y, const unsigned short* x,
                                                    EdgertTile p) {
  tileTranspose(y, x, p);
}
extern "C" __global__ void edgert_tile_transpose_b4(unsigned int* y, const unsigned int* x,
                                                    EdgertTile p) {
  tileTranspose(y, x, p);
}
extern "C" __global__ void edgert_tile_transpose_b8(unsigned long long* y,
                                                    const unsigned long long* x, EdgertTile p) {
  tileTranspose(y, x, p);
}
// NCHW float32 -> NHWC fp16 (x: [N][C][HW], rows C) and back (x: [N][HW][C], rows HW).
extern "C" __global__ void edgert_tile_f32_to_f16(__half* y, const float* x, EdgertTile p) {
  tileTranspose(y, x, p);
}
extern "C" __global__ void edgert_tile_f16_to_f32(float* y, const __half* x, EdgertTile p) {
  tileTranspose(y, x, p);
}

// NCHW float32 (or fp16: an fp16 input binding) -> NHWC fp16 for few channels (an image:
// C <= 4, HW a multiple of 4): one thread per four pixels, C 16-byte (8-byte) loads, one per
// channel plane, and C 8-byte stores; a 32x32 tile would leave most of its rows empty. C is a
// template parameter so that the staging array stays in registers.
namespace {
__device__ float4 load4(const float* p) {
  return *reinterpret_cast<const float4*>(p);
}
__device__ float4 load4(const __half* p) {
  const uint2 u = *reinterpret_cast<const uint2*>(p);
  const float2 a = __half22float2(*reinterpret_cast<const __half2*>(&u.x));
  const float2 b = __half22float2(*reinterpret_cast<const __half2*>(&u.y));
  return make_float4(a.x, a.y, b.x, b.y);
}
template <int C, class S>
__device__ void imageToNhwc(__half* y, const S* x, long long n, long long hw) {
  const long long quads = n * (hw / 4);
  for (long long q = blockIdx.x * (long long)blockDim.x + threadIdx.x; q < quads;
       q += (long long)gridDim.x * blockDim.x) {
    const long long b = q / (hw / 4), p = (q % (hw / 4)) * 4;
    __align__(8) __half out[4 * C];
#pragma unroll
    for (int ch = 0; ch < C; ++ch) {
      const float4 v = load4(x + (b * C + ch) * hw + p);
      out[ch] = __float2half_rn(v.x);
      out[C + ch] = __float2half_rn(v.y);
      out[2 * C + ch] = __float2half_rn(v.z);
      out[3 * C + ch] = __float2half_rn(v.w);
    }
    uint2* dst = reinterpret_cast<uint2*>(y + (b * hw + p) * C);
#pragma unroll
    for (int k = 0; k < C; ++k) dst[k] = reinterpret_cast<const uint2*>(out)[k];
  }
}
template <class S>
__device__ void imageToNhwcAnyC(__half* y, const S* x, long long n, int c, long long hw) {
  switch (c) {
    case 1:
      return imageToNhwc<1>(y, x, n, hw);
    case 2:
      return imageToNhwc<2>(y, x, n, hw);
    case 3:
      return imageToNhwc<3>(y, x, n, hw);
    default:
      return imageToNhwc<4>(y, x, n, hw);
  }
}
}  // namespace

extern "C" __global__ void edgert_image_to_nhwc_f16(__half* y, const float* x, long long n, int c,
                                                    long long hw) {
  imageToNhwcAnyC(y, x, n, c, hw);
}
extern "C" __global__ void edgert_image16_to_nhwc_f16(__half* y, const __half* x, long long n,
                                                      int c, long long hw) {
  imageToNhwcAnyC(y, x, n, c, hw);
}
