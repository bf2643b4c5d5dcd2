// What a kernel costs in a CUDA graph beyond its own work, on the GPU at hand: a chain of 64
// dependent launches captured in one graph, timed per launch (median of 20 replays), for kernels
// that do almost nothing and for kernels that spin ~2 us, with 1 / 132 / 528 blocks, launched
// plainly and with Hopper's programmatic dependent launch (PDL: the next kernel's launch overlaps
// this one's tail; it waits with griddepcontrol.wait before reading what this one wrote).
// What it answers: at batch 1 a network is a chain of ~60-80 small kernels; how much of its
// latency is the chain, and how much PDL would take off.
// Build: nvcc -O3 -arch=sm_90 bench/micro/graph_gap.cu -o graph_gap   (PDL needs sm_90)
#include <cuda_runtime.h>

#include <cstdio>

#include "graph_timing.h"

__device__ __forceinline__ void spin(long long ns) {
  if (ns <= 0) return;
  unsigned long long t0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
  for (;;) {
    unsigned long long t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    if (t - t0 >= static_cast<unsigned long long>(ns)) break;
  }
}

template <bool PDL>
__global__ void step(float* p, long long ns) {
  if (PDL) asm volatile("griddepcontrol.wait;" ::: "memory");
  spin(ns);
  if (threadIdx.x == 0) p[blockIdx.x] += 1.f;
  if (PDL) asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
}

float perLaunchUs(bool pdl, int blocks, long long ns, float* buf, cudaStream_t s) {
  return graphUsPerLaunch(s, 64, [&](cudaStream_t st) {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(128);
    cfg.stream = st;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cfg.attrs = attr;
    cfg.numAttrs = pdl ? 1 : 0;
    if (pdl)
      cudaLaunchKernelEx(&cfg, step<true>, buf, ns);
    else
      cudaLaunchKernelEx(&cfg, step<false>, buf, ns);
  });
}

int main() {
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  float* buf;
  cudaMalloc(&buf, 4096 * sizeof(float));
  std::printf("| blocks | kernel work | plain us/launch | PDL us/launch |\n|---|---|---|---|\n");
  for (int blocks : {1, 132, 528})
    for (long long ns : {0LL, 2000LL, 5000LL})
      std::printf("| %d | %lld ns | %.2f | %.2f |\n", blocks, ns,
                  perLaunchUs(false, blocks, ns, buf, s), perLaunchUs(true, blocks, ns, buf, s));
  const cudaError_t e = cudaDeviceSynchronize();
  std::printf("%s\n", cudaGetErrorString(e));
  return e == cudaSuccess ? 0 : 1;
}
