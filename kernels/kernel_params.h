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

// A convolution over NHWC fp16 as an implicit GEMM on tensor cores (kernels/conv_f16_mma.cu):
// y[p][m] = act(sum_k x(p, k) w[m][k] + bias[m] + res[p][m]), k = (kh * KW + kw) * C + c, the
// weights [ceil(M / 64) * 64][kp] zero padded. `splits` > 1 divides the reduction among that
// many blocks per output tile (split-K), the last to finish adding the others' partial sums.
#define EDGERT_CONV_MMA_SMEM (6 * 128 * 80)  // dynamic shared memory of those kernels (bytes)
// The TMA-fed FP16 kernels (conv_f16_tma.cu): 96 KiB of stages, alignment, barriers.
#define EDGERT_CONV_TMA_SMEM (98304 + 1024 + 64)
// Their persistent variant: stages plus the staged accumulators, as the INT8 one's.
#define EDGERT_CONV_TMA_P_SMEM 115200
struct EdgertConvMma {
  int n, ih, iw, c, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
  int m, kp, splits;
  int rows;  // n * oh * ow
  float a, b;
};

// INT8 layers (kernels/int8.cu). Activations are NHWC int8 (logical NCHW, physical N,H,W,C;
// 2-D [N, K] tensors as they are); `m` output channels are the innermost dim of the output.
// The epilogue of EdgertQConv (kernels/int8_math.h): real = acc * acc_scale[m] + bias[m],
// + residual * r_scale[m], act, then int8 (times inv_y[m], saturated), fp16 or fp32.
enum EdgertQOut { kQOutS8 = 0, kQOutF16 = 1, kQOutF32 = 2 };
enum EdgertQRes { kQResNone = 0, kQResS8 = 1, kQResF16 = 2, kQResF32 = 3 };
struct EdgertQEpi {
  long long rows;  // output pixels (N * OH * OW, or N for a fully connected layer)
  int m;           // output channels
  int ld;          // int32 accumulator row stride (the epilogue kernel: >= m)
  int act;         // int8Act's code
  float alpha, beta;
  int out_kind, res_kind;
  unsigned long long acc_scale, bias, res, r_scale,
      inv_y;  // device addresses (bias, res: 0 = none)
};

// edgert_qconv_dw8_k*: channels and output pixels per thread (the host sizes the launch).
#define EDGERT_QCONV_DW8_CHANNELS 8
#define EDGERT_QCONV_DW8_PIXELS 2

// edgert_qconv_dwt_k*: a block computes `th` output rows (all `owg` groups of four columns) of
// 16 channels of one image from a shared-memory copy of its input rows, `cww` 4-byte words per
// channel row; `oht` = ceil(OH / th) row tiles per image.
#define EDGERT_QCONV_DWT_CHANNELS 16

// edgert_qconv_stem3_s*: a block computes `th` output rows of one image (all M channels) from a
// shared-memory copy of its input rows, one 4-byte word per pixel (`cw` words per row);
// `oht` = ceil(OH / th) row tiles per image.
struct EdgertStemTile {
  int th, cw, oht;
};
struct EdgertDwTile {
  int th, owg, cww, oht;
};

// A 2-D convolution's geometry over NHWC int8 (groups of `cg` input and `mg` output channels).
// `xpad`: the value a window reads outside the input (the input's zero point; only the direct
// and depthwise kernels take one other than 0).
struct EdgertQConvGeom {
  long long n, ih, iw, c, oh, ow;
  int m, kh, kw, sh, sw, ph, pw, dh, dw, groups, cg, mg, xpad;
};

// edgert_space_to_depth2_s8: an NHWC int8 input [N][IH][IW][C] -> [N][H2][W][c_out]. Pixel
// (Y, X) holds, for t < taps, the space-to-depth pixel (Y, X - pad + t) of 4 * c4 channels
// ((py * 2 + px) * c4 + c: x[2Y + py][2(X - pad + t) + px][c]); zeros elsewhere.
struct EdgertS2dCopy {
  long long pixels, ih, iw, h2, w;
  int c, c4, taps, pad, c_out;
};

// Dynamic shared memory of edgert_qconv_mma_wide (four stages of 128 + 128 rows of 80 bytes):
// past the 48 KiB a launch gets without asking, so the host raises the function's limit.
#define EDGERT_QCONV_WIDE_SMEM 81920
// edgert_qconv_wgmma_n64: four stages of 128 + 64 rows of 64 bytes.
#define EDGERT_QCONV_WGMMA64_SMEM 49152
// edgert_qconv_tma_k128 / _k64: three stages of 128 + 128 rows of 128 bytes (or six of 64),
// 1 KiB to align them to the swizzle period, and the stages' mbarriers.
#define EDGERT_QCONV_TMA_SMEM 99456
// edgert_qconv_tma_p_*: stages of 128 + 64 rows of 64 bytes, the 128 x 68 int32 accumulator
// tile and two 128 x 64 int8 residual tiles; two blocks fill an SM's 228 KiB (1 KiB of it each
// block's own).
#define EDGERT_QCONV_TMA_P_SMEM 115200
// edgert_qconv_tma_pb_*: the persistent kernel with all of B resident in shared memory, for
// reductions of at most this many 64-deep k-tiles.
#define EDGERT_QCONV_TMA_PB_MAX_KTILES 10

// edgert_qconv_tma_im2col_*: the convolution the im2col tensor map walks (the map has the input's
// shape, padding and strides; the kernel steps taps and channel blocks and names the tile's
// first output pixel): output width and height, strides, begin pads, kernel width, dilations,
// and C / BK channel blocks per tap.
struct EdgertTmaConv {
  int ow, oh, sw, sh, pw, ph, kw, dw, dh, cblocks;
};

// Columns for the GEMM path (one group): row (n, oh, ow), column k = (kh * KW + kw) * C + c,
// zero past k = KH * KW * C up to the padded `kp` (a multiple of 16), rows [row0, row0 + rows).
struct EdgertIm2col {
  EdgertQConvGeom g;
  long long row0, rows;
  int kp;
};
