// EDGERT_HD: functions shared by the CUDA kernels and the CPU code that must compute the
// same values. Always inlined on the host: the CPU loops call them with constant op codes
// and rely on the switch folding away so the loops vectorise.
#pragma once

#ifdef __CUDACC__
#define EDGERT_HD __host__ __device__ inline
#else
#define EDGERT_HD inline __attribute__((always_inline))
#endif
