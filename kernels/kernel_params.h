// Parameter structs shared by the CUDA kernels (kernels/*.cu) and the host code that
// launches them (runtime/src/cuda/). Plain C layout: passed by value to cuLaunchKernel.
#pragma once

#define EDGERT_KMAX_RANK 8

struct EdgertStrided {
  int rank;
  long long total;
  long long dims[EDGERT_KMAX_RANK];
  long long in_strides[EDGERT_KMAX_RANK];  // per output dim, elements
  long long out_strides[EDGERT_KMAX_RANK];
  long long in_offset, out_offset;
};

struct EdgertBroadcast {
  int rank;
  long long total;
  long long dims[EDGERT_KMAX_RANK];
  long long a_strides[EDGERT_KMAX_RANK];  // 0 on broadcast dims
  long long b_strides[EDGERT_KMAX_RANK];
};

struct EdgertPool {
  int is_max, count_include_pad;
  long long nc, ih, iw, oh, ow;
  int kh, kw, sh, sw, ph, pw, pe_h, pe_w, dh, dw;
};

struct EdgertResize {
  long long nc, ih, iw, oh, ow;
  int linear;              // 0 nearest, 1 linear
  int coord;               // 0 half_pixel, 1 asymmetric, 2 align_corners, 3 pytorch_half_pixel, 4
                           // tf_half_pixel_for_nn
  int nearest;             // 0 round_prefer_floor, 1 round_prefer_ceil, 2 floor, 3 ceil
  float scale_h, scale_w;  // output / input as the coordinate transform uses it
};

// Unary op codes (edgert_unary_*).
enum EdgertUnary {
  kUnIdentity = 0,
  kUnRelu,
  kUnSigmoid,
  kUnTanh,
  kUnLeakyRelu,
  kUnHardSigmoid,
  kUnHardSwish,
  kUnElu,
  kUnExp,
  kUnLog,
  kUnSqrt,
  kUnNeg,
  kUnAbs,
  kUnErf,
  kUnGelu,
  kUnGeluTanh,
  kUnSoftplus,
  kUnClip,
  kUnReciprocal,
  kUnSelu,
  kUnSilu,
  kUnFloor,
  kUnCeil
};

// Binary op codes (edgert_binary_*).
enum EdgertBinary { kBiAdd = 0, kBiSub, kBiMul, kBiDiv, kBiMax, kBiMin, kBiPow, kBiPRelu };

// A fused chain of elementwise ops (EdgertElementwise), run per element as a small
// register program. Instruction j writes register j: {kind, op, x, y} where kind 0 is
// unary (op: EdgertUnary, params at imm[y], imm[y + 1] or y = -1) and kind 1 binary (op:
// EdgertBinary). Operands: 0..31 registers, 100 + k input k, 200 + i immediate i.
#define EDGERT_FUSED_MAX_CODE 32
#define EDGERT_FUSED_MAX_INPUTS 8
#define EDGERT_FUSED_MAX_IMM 48

enum EdgertFusedMode { kFusedFull = 0, kFusedScalar = 1, kFusedAxis = 2 };

struct EdgertFused {
  long long total;
  int n_code, n_inputs;
  int code[4 * EDGERT_FUSED_MAX_CODE];
  float imm[EDGERT_FUSED_MAX_IMM];
  unsigned long long in[EDGERT_FUSED_MAX_INPUTS];  // device addresses
  int mode[EDGERT_FUSED_MAX_INPUTS];               // EdgertFusedMode
  long long inner[EDGERT_FUSED_MAX_INPUTS];        // kFusedAxis: element i reads
  long long dim[EDGERT_FUSED_MAX_INPUTS];          //   in[(i / inner) % dim]
  int half_mask;  // edgert_fused_h: bit k set when input k is fp16 (else float32)
};

// Depthwise convolution over NHWC fp16 (one filter per channel) with the conv epilogue.
struct EdgertDwConv {
  long long n, ih, iw, c, oh, ow;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  int act;
  float a, b;
};

// A batch of 2-D transposes: y[b][j][i] = x[b][i][j]. x rows (i) are `x_row` apart and
// contiguous in j; y rows (j) are `y_row` apart and contiguous in i.
struct EdgertTile {
  long long batch, rows, cols;  // b, i, j extents
  long long x_row, y_row, x_batch, y_batch;
};

// A 1x1 convolution over NHWC fp16 with few input channels (k <= 64): y[p][n] =
// act(sum_k x[p][k] w[n][k] + bias[n] + res[p][n]); act as the depthwise kernels' (a, b).
struct EdgertPointwise {
  long long pixels;
  int k, n;
  float a, b;
};
