// The scalar math of the elementwise ops, shared by the CUDA kernels and the CPU
// implementation of fused elementwise layers so both compute the same function.
#pragma once

#include <math.h>

#include "kernel_params.h"

#include "hd.h"
#ifdef __CUDACC__
#define EDGERT_EXPF __expf
#else
#define EDGERT_EXPF expf
#endif

EDGERT_HD float edgertUnary(int op, float x, float a, float b) {
  switch (op) {
    case kUnRelu:
      return x > 0.f ? x : 0.f;
    case kUnSigmoid:
      return 1.f / (1.f + EDGERT_EXPF(-x));
    case kUnTanh:
      return tanhf(x);
    case kUnLeakyRelu:
      return x >= 0.f ? x : a * x;
    case kUnHardSigmoid:
      return fminf(1.f, fmaxf(0.f, a * x + b));
    case kUnHardSwish:
      return x * fminf(1.f, fmaxf(0.f, x / 6.f + 0.5f));
    case kUnElu:
      return x >= 0.f ? x : a * (expf(x) - 1.f);
    case kUnExp:
      return expf(x);
    case kUnLog:
      return logf(x);
    case kUnSqrt:
      return sqrtf(x);
    case kUnNeg:
      return -x;
    case kUnAbs:
      return fabsf(x);
    case kUnErf:
      return erff(x);
    case kUnGelu:
      return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case kUnGeluTanh:
      return 0.5f * x * (1.f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case kUnSoftplus:
      return x > 20.f ? x : log1pf(expf(x));
    case kUnClip:
      return fminf(b, fmaxf(a, x));
    case kUnReciprocal:
      return 1.f / x;
    case kUnSelu:
      return b * (x > 0.f ? x : a * (expf(x) - 1.f));
    case kUnSilu:
      return x / (1.f + expf(-x));
    case kUnFloor:
      return floorf(x);
    case kUnCeil:
      return ceilf(x);
    default:
      return x;
  }
}

EDGERT_HD float edgertBinary(int op, float x, float y) {
  switch (op) {
    case kBiAdd:
      return x + y;
    case kBiSub:
      return x - y;
    case kBiMul:
      return x * y;
    case kBiDiv:
      return x / y;
    case kBiMax:
      return fmaxf(x, y);
    case kBiMin:
      return fminf(x, y);
    case kBiPow:
      return powf(x, y);
    case kBiPRelu:
      return x < 0.f ? x * y : x;
    default:
      return 0.f;
  }
}
