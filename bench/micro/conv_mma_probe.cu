// Where the FP16 implicit-GEMM kernel's time goes at batch 1 (kernels/conv_f16_mma.cu), by
// difference: the same launches with one stage left out (EDGERT_MMA_PROBE, see the kernel file).
// ResNet-50's layer4 and layer3 3x3 convolutions at batch 1, whole and split, each launch timed
// in a CUDA graph of 20 (median of 20 replays), weights warm in L2 as the builder times them.
// Build (one binary per probe): for p in 0 1 2 3 4; do
//   nvcc -O3 -std=c++17 -arch=sm_90a -Ikernels -DEDGERT_MMA_PROBE=$p \
//     bench/micro/conv_mma_probe.cu -o conv_mma_probe$p; done
#include <cuda_runtime.h>

#include <cstdio>

#include "conv_f16_mma.cu"
#include "graph_timing.h"

struct Case {
  const char* name;
  int hw, c, m, splits;
  bool cluster;
};

float timeCase(const Case& k, cudaStream_t s) {
  EdgertConvMma p{};
  p.n = 1, p.ih = p.iw = p.oh = p.ow = k.hw, p.c = k.c, p.kh = p.kw = 3, p.sh = p.sw = 1;
  p.ph = p.pw = 1, p.dh = p.dw = 1, p.m = k.m, p.kp = 9 * k.c, p.splits = k.splits;
  p.rows = k.hw * k.hw, p.a = 0.f, p.b = 3.4e38f;
  const int mt = (p.rows + 63) / 64, nt = (k.m + 63) / 64;
  __half *x, *w, *y;
  float *bias, *part;
  unsigned* cnt;
  cudaMalloc(&x, size_t(p.rows) * k.c * 2);
  cudaMalloc(&w, size_t(nt * 64) * p.kp * 2);
  cudaMalloc(&y, size_t(p.rows) * k.m * 2);
  cudaMalloc(&bias, k.m * 4);
  cudaMalloc(&part, size_t(mt * nt) * 4096 * 4);
  cudaMalloc(&cnt, mt * nt * 4);
  cudaMemset(x, 0, size_t(p.rows) * k.c * 2);
  cudaMemset(w, 0, size_t(nt * 64) * p.kp * 2);
  cudaMemset(bias, 0, k.m * 4);
  cudaMemset(part, 0, size_t(mt * nt) * 4096 * 4);
  cudaMemset(cnt, 0, mt * nt * 4);
  auto kern = k.cluster ? edgert_conv_f16_mma_cluster_a0 : edgert_conv_f16_mma_a0;
  cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, EDGERT_CONV_MMA_SMEM);
  if (k.cluster) cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(mt, nt, k.splits);
  cfg.blockDim = dim3(128);
  cfg.dynamicSmemBytes = EDGERT_CONV_MMA_SMEM;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = 1;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = k.splits;
  cfg.attrs = attr;
  cfg.numAttrs = k.cluster ? 1 : 0;
  const __half* res = nullptr;
  const float us = graphUsPerLaunch(s, 20, [&](cudaStream_t) {
    cudaLaunchKernelEx(&cfg, kern, p, y, x, w, bias, res, part, cnt);
  });
  for (void* q : {(void*)x, (void*)w, (void*)y, (void*)bias, (void*)part, (void*)cnt}) cudaFree(q);
  return us;
}

int main() {
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  const Case cases[] = {
      {"layer4 3x3 s1", 7, 512, 512, 1, false}, {"layer4 3x3 c16", 7, 512, 512, 16, true},
      {"layer4 3x3 c8", 7, 512, 512, 8, true},  {"layer4 3x3 s32", 7, 512, 512, 32, false},
      {"layer3 3x3 c8", 14, 256, 256, 8, true}, {"layer3 3x3 s16", 14, 256, 256, 16, false},
      {"layer2 3x3 c4", 28, 128, 128, 4, true}};
  for (const Case& k : cases)
    std::printf("probe %d | %-16s | %.2f us\n", kProbe, k.name, timeCase(k, s));
  const cudaError_t e = cudaDeviceSynchronize();
  if (e != cudaSuccess) std::printf("probe %d: %s\n", kProbe, cudaGetErrorString(e));
  return e == cudaSuccess ? 0 : 1;
}
