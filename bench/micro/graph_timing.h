// The micro-benchmarks' timer: `launches` kernels enqueued on `s` by `enqueue(s)`, captured in
// one CUDA graph, the graph replayed 23 times (3 warm-up); the median microseconds per launch, or
// -1 when the capture fails.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

template <class Enqueue>
float graphUsPerLaunch(cudaStream_t s, int launches, Enqueue enqueue) {
  cudaGraph_t g;
  cudaGraphExec_t ge;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal);
  for (int i = 0; i < launches; ++i) enqueue(s);
  cudaStreamEndCapture(s, &g);
  if (cudaGraphInstantiate(&ge, g, 0) != cudaSuccess) return -1.f;
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> t;
  for (int r = 0; r < 23; ++r) {
    cudaEventRecord(a, s);
    cudaGraphLaunch(ge, s);
    cudaEventRecord(b, s);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    if (r >= 3) t.push_back(ms * 1000.f / launches);
  }
  std::sort(t.begin(), t.end());
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  return t[t.size() / 2];
}
