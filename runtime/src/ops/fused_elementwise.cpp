// EdgertElementwise: a chain of float32 elementwise ops that the builder fused into one
// layer (HardSwish spelled as Add/Clip/Div/Mul, x * sigmoid(x), residual + activation,
// normalisation chains ...). One pass over the output instead of one per op. The program
// format is in kernels/kernel_params.h (EdgertFused); the scalar math is shared with the
// CUDA kernel (kernels/elementwise_math.h) so both backends compute the same function.
#include "fused_elementwise.h"

#include "../../../kernels/elementwise_math.h"
#include "../cpu/thread_pool.h"
#include "op_util.h"

namespace edgert::ops {

namespace {

constexpr int64_t kChunk = 512;

// How input `k` maps onto the output: the same shape, one value, or one axis.
bool inputMode(const Dims& in, const Dims& out, int* mode, int64_t* inner, int64_t* dim) {
  if (in == out) {
    *mode = kFusedFull;
    return true;
  }
  if (volume(in) == 1) {
    *mode = kFusedScalar;
    return true;
  }
  if (in.size() > out.size()) return false;
  const size_t off = out.size() - in.size();
  int axis = -1;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == 1) continue;
    if (in[i] != out[off + i] || axis >= 0) return false;
    axis = static_cast<int>(off + i);
  }
  if (axis < 0) return false;
  *mode = kFusedAxis;
  *dim = out[axis];
  *inner = volume(Dims(out.begin() + axis + 1, out.end()));
  return true;
}

}  // namespace

Result<EdgertFused> fusedProgram(const NodeContext& c) {
  EdgertFused p{};
  std::vector<int64_t> code, shape;
  std::vector<float> imm;
  EDGERT_TRY_ATTR(code, attrInts(c, "code"));
  EDGERT_TRY_ATTR(imm, attrFloats(c, "imm"));
  EDGERT_TRY_ATTR(shape, attrInts(c, "shape"));
  const int n_in = static_cast<int>(c.numInputs());
  if (n_in < 1 || n_in > EDGERT_FUSED_MAX_INPUTS)
    return c.invalid(n_in, " inputs (1 to ", EDGERT_FUSED_MAX_INPUTS, ")");
  if (code.empty() || code.size() % 4 || code.size() > 4 * EDGERT_FUSED_MAX_CODE)
    return c.invalid("'code' must hold 1 to ", EDGERT_FUSED_MAX_CODE, " instructions of 4 ints");
  if (imm.size() > EDGERT_FUSED_MAX_IMM)
    return c.invalid("'imm' holds more than ", EDGERT_FUSED_MAX_IMM, " values");
  if (shape.empty() || shape.size() > kMaxRank)
    return c.invalid("'shape' must have 1 to ", kMaxRank, " dims");
  for (int64_t d : shape)
    if (d < 0) return c.invalid("'shape' has a negative dim");
  const Dims out(shape.begin(), shape.end());
  p.total = volume(out);
  if (p.total > kMaxTensorElements) return c.invalid("output too large");
  for (int k = 0; k < n_in; ++k) {
    if (!c.has(k) || c.dtype(k) != DataType::kFloat32)
      return c.invalid("input ", k, " must be float32");
    int mode = 0;
    int64_t inner = 1, dim = 1;
    if (!inputMode(c.dims(k), out, &mode, &inner, &dim))
      return c.invalid("input ", k, " ", dimsToString(c.dims(k)), " is neither the output shape ",
                       dimsToString(out), ", a scalar, nor broadcast along one axis");
    p.mode[k] = mode;
    p.inner[k] = std::max<int64_t>(inner, 1);
    p.dim[k] = std::max<int64_t>(dim, 1);
  }
  p.n_inputs = n_in;
  for (size_t i = 0; i < imm.size(); ++i) p.imm[i] = imm[i];
  const int n = static_cast<int>(code.size() / 4);
  const auto operand = [&](int64_t o, int j) {
    return (o >= 0 && o < j) || (o >= 100 && o < 100 + n_in) ||
           (o >= 200 && o < 200 + static_cast<int64_t>(imm.size()));
  };
  for (int j = 0; j < n; ++j) {
    const int64_t* ins = &code[4 * j];
    const bool unary = ins[0] == 0;
    const bool ok =
        (unary && ins[1] >= kUnIdentity && ins[1] <= kUnCeil && operand(ins[2], j) &&
         (ins[3] == -1 || (ins[3] >= 0 && ins[3] + 1 < static_cast<int64_t>(imm.size())))) ||
        (ins[0] == 1 && ins[1] >= kBiAdd && ins[1] <= kBiPRelu && operand(ins[2], j) &&
         operand(ins[3], j));
    if (!ok) return c.invalid("instruction ", j, " is malformed");
    for (int k = 0; k < 4; ++k) p.code[4 * j + k] = static_cast<int>(ins[k]);
  }
  p.n_code = n;
  return p;
}

namespace {

Status infer(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(fusedProgram(c).status());
  std::vector<int64_t> shape;
  EDGERT_TRY_ATTR(shape, attrInts(c, "shape"));
  c.setOutput(0, DataType::kFloat32, Dims(shape.begin(), shape.end()));
  return Status::Ok();
}

// The common ops spelled with comparisons instead of fminf/fmaxf, which GCC does not
// vectorise without -ffast-math (NaN rules); the results are the same for non-NaN input.
template <int kOp>
inline float unaryFast(float x, float a, float b) {
  if constexpr (kOp == kUnRelu) return x > 0.f ? x : 0.f;
  if constexpr (kOp == kUnClip) return x < a ? a : (x > b ? b : x);
  if constexpr (kOp == kUnHardSigmoid) {
    const float v = a * x + b;
    return v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
  }
  if constexpr (kOp == kUnHardSwish) {
    const float v = x / 6.f + 0.5f;
    return x * (v < 0.f ? 0.f : (v > 1.f ? 1.f : v));
  }
  return edgertUnary(kOp, x, a, b);
}

template <int kOp>
inline float binaryFast(float x, float y) {
  if constexpr (kOp == kBiAdd) return x + y;
  if constexpr (kOp == kBiSub) return x - y;
  if constexpr (kOp == kBiMul) return x * y;
  if constexpr (kOp == kBiDiv) return x / y;
  if constexpr (kOp == kBiMax) return x > y ? x : y;
  if constexpr (kOp == kBiMin) return x < y ? x : y;
  return edgertBinary(kOp, x, y);
}

template <int kOp>
void unaryRow(int64_t n, const float* __restrict x, float a, float b, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = unaryFast<kOp>(x[i], a, b);
}

template <int kOp>
void binaryRow(int64_t n, const float* __restrict x, const float* __restrict z,
               float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = binaryFast<kOp>(x[i], z[i]);
}

// The op is a template argument so each row loop compiles to straight-line, vectorisable
// code (a per-element switch would not).
void unaryOp(int op, int64_t n, const float* x, float a, float b, float* y) {
  switch (op) {
    case kUnIdentity:
      return unaryRow<kUnIdentity>(n, x, a, b, y);
    case kUnRelu:
      return unaryRow<kUnRelu>(n, x, a, b, y);
    case kUnSigmoid:
      return unaryRow<kUnSigmoid>(n, x, a, b, y);
    case kUnTanh:
      return unaryRow<kUnTanh>(n, x, a, b, y);
    case kUnLeakyRelu:
      return unaryRow<kUnLeakyRelu>(n, x, a, b, y);
    case kUnHardSigmoid:
      return unaryRow<kUnHardSigmoid>(n, x, a, b, y);
    case kUnHardSwish:
      return unaryRow<kUnHardSwish>(n, x, a, b, y);
    case kUnElu:
      return unaryRow<kUnElu>(n, x, a, b, y);
    case kUnExp:
      return unaryRow<kUnExp>(n, x, a, b, y);
    case kUnLog:
      return unaryRow<kUnLog>(n, x, a, b, y);
    case kUnSqrt:
      return unaryRow<kUnSqrt>(n, x, a, b, y);
    case kUnNeg:
      return unaryRow<kUnNeg>(n, x, a, b, y);
    case kUnAbs:
      return unaryRow<kUnAbs>(n, x, a, b, y);
    case kUnErf:
      return unaryRow<kUnErf>(n, x, a, b, y);
    case kUnGelu:
      return unaryRow<kUnGelu>(n, x, a, b, y);
    case kUnGeluTanh:
      return unaryRow<kUnGeluTanh>(n, x, a, b, y);
    case kUnSoftplus:
      return unaryRow<kUnSoftplus>(n, x, a, b, y);
    case kUnClip:
      return unaryRow<kUnClip>(n, x, a, b, y);
    case kUnReciprocal:
      return unaryRow<kUnReciprocal>(n, x, a, b, y);
    case kUnSelu:
      return unaryRow<kUnSelu>(n, x, a, b, y);
    case kUnSilu:
      return unaryRow<kUnSilu>(n, x, a, b, y);
    case kUnFloor:
      return unaryRow<kUnFloor>(n, x, a, b, y);
    case kUnCeil:
      return unaryRow<kUnCeil>(n, x, a, b, y);
  }
}

void binaryOp(int op, int64_t n, const float* x, const float* z, float* y) {
  switch (op) {
    case kBiAdd:
      return binaryRow<kBiAdd>(n, x, z, y);
    case kBiSub:
      return binaryRow<kBiSub>(n, x, z, y);
    case kBiMul:
      return binaryRow<kBiMul>(n, x, z, y);
    case kBiDiv:
      return binaryRow<kBiDiv>(n, x, z, y);
    case kBiMax:
      return binaryRow<kBiMax>(n, x, z, y);
    case kBiMin:
      return binaryRow<kBiMin>(n, x, z, y);
    case kBiPow:
      return binaryRow<kBiPow>(n, x, z, y);
    case kBiPRelu:
      return binaryRow<kBiPRelu>(n, x, z, y);
  }
}

// One chunk of kChunk elements from i0: the program over rows in `regs` (n_code + 2 rows).
void runChunk(const EdgertFused& p, const KernelArgs& a, float* regs, float* y, int64_t i0) {
  const int n_code = p.n_code;
  const int64_t n = std::min<int64_t>(kChunk, p.total - i0);
  // Operand o as a row of n values (tmp is used when it must be materialised).
  const auto row = [&](int o, float* tmp) -> const float* {
    if (o < 100) return regs + o * kChunk;
    if (o >= 200) {
      std::fill(tmp, tmp + n, p.imm[o - 200]);
      return tmp;
    }
    const int k = o - 100;
    const float* in = a.in[k].as<float>();
    if (p.mode[k] == kFusedFull) return in + i0;
    if (p.mode[k] == kFusedScalar) {
      std::fill(tmp, tmp + n, in[0]);
      return tmp;
    }
    // Runs of `inner` equal values: one division per chunk, not per element.
    const int64_t inner = p.inner[k], dim = p.dim[k];
    int64_t idx = (i0 / inner) % dim, pos = i0 % inner;
    for (int64_t i = 0; i < n;) {
      const int64_t run = std::min<int64_t>(inner - pos, n - i);
      std::fill(tmp + i, tmp + i + run, in[idx]);
      i += run;
      pos = 0;
      idx = idx + 1 == dim ? 0 : idx + 1;
    }
    return tmp;
  };
  float* tmp_a = regs + n_code * kChunk;
  float* tmp_b = tmp_a + kChunk;
  for (int j = 0; j < n_code; ++j) {
    const int* c = p.code + 4 * j;
    float* dst = j == n_code - 1 ? y + i0 : regs + j * kChunk;
    if (c[0] == 0) {
      const float pa = c[3] >= 0 ? p.imm[c[3]] : 0.f, pb = c[3] >= 0 ? p.imm[c[3] + 1] : 0.f;
      unaryOp(c[1], n, row(c[2], tmp_a), pa, pb, dst);
    } else {
      binaryOp(c[1], n, row(c[2], tmp_a), row(c[3], tmp_b), dst);
    }
  }
}

Status run(const EdgertFused& p, const KernelArgs& a) {
  float* y = a.out[0].as<float>();
  // Chunks split over the CPU threads, each part with its own rows.
  const int64_t chunks = (p.total + kChunk - 1) / kChunk;
  const int64_t rows = int64_t(p.n_code + 2) * kChunk;
  cpu::parallelFor(chunks, 4, [&](int part, int64_t c0, int64_t c1) {
    float* regs = static_cast<float*>(a.scratch) + part * rows;
    for (int64_t ci = c0; ci < c1; ++ci) runChunk(p, a, regs, y, ci * kChunk);
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> create(const NodeContext& c) {
  EDGERT_ASSIGN_OR_RETURN(EdgertFused p, fusedProgram(c));
  const size_t scratch =
      static_cast<size_t>(p.n_code + 2) * kChunk * sizeof(float) * cpu::cpuThreads();
  return makeKernel(std::move(p), &run, scratch);
}

}  // namespace

extern const OpDef kOpEdgertElementwise = {
    "EdgertElementwise", 1, EDGERT_FUSED_MAX_INPUTS, 1, 1, 0, infer, create};

}  // namespace edgert::ops
