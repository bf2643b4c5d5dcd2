// Gemm and MatMul (numpy batch broadcasting), through SGEMM.
#include "../cpu/sgemm.h"
#include "epilogue.h"
#include "op_util.h"

namespace edgert::ops {
namespace {

struct GemmParams {
  bool ta = false, tb = false;
  float alpha = 1.f, beta = 1.f;
  int64_t M = 0, N = 0, K = 0;
  BroadcastPlan bias;  // C broadcast to [M, N]
  bool has_c = false;
  Epilogue epi;  // a fused activation (no residual for Gemm)
};

Result<GemmParams> parseGemm(const NodeContext& c) {
  GemmParams p;
  int64_t ta, tb;
  EDGERT_TRY_ATTR(ta, attrInt(c, "transA", 0));
  EDGERT_TRY_ATTR(tb, attrInt(c, "transB", 0));
  EDGERT_TRY_ATTR(p.alpha, attrFloat(c, "alpha", 1.f));
  EDGERT_TRY_ATTR(p.beta, attrFloat(c, "beta", 1.f));
  EDGERT_TRY_ATTR(p.epi, parseEpilogue(c));
  if (p.epi.residual) return c.invalid("Gemm has no residual input");
  p.ta = ta != 0;
  p.tb = tb != 0;
  const Dims& a = c.dims(0);
  const Dims& b = c.dims(1);
  if (a.size() != 2 || b.size() != 2)
    return c.invalid("A and B must be 2-D, got ", dimsToString(a), " and ", dimsToString(b));
  p.M = p.ta ? a[1] : a[0];
  p.K = p.ta ? a[0] : a[1];
  const int64_t kb = p.tb ? b[1] : b[0];
  p.N = p.tb ? b[0] : b[1];
  if (kb != p.K)
    return c.invalid("inner dims differ: A ", dimsToString(a), (p.ta ? " (transposed)" : ""),
                     " and B ", dimsToString(b), (p.tb ? " (transposed)" : ""));
  if (c.has(2)) {
    p.has_c = true;
    Dims out;
    EDGERT_TRY_ATTR(out, broadcastDims(c, {p.M, p.N}, c.dims(2)));
    if (out != Dims{p.M, p.N})
      return c.invalid("C ", dimsToString(c.dims(2)), " does not broadcast to ", p.M, "x", p.N);
    const Dims mn = {p.M, p.N};
    p.bias = makeBroadcastPlan(mn, {&mn, &c.dims(2)});
  }
  return p;
}

Status inferGemm(NodeContext& c) {
  for (size_t i = 0; i < c.numInputs(); ++i)
    if (c.has(i) && c.dtype(i) != DataType::kFloat32)
      return c.unsupported("the CPU backend runs Gemm in float32; input ", i, " is ",
                           dataTypeName(c.dtype(i)));
  GemmParams p;
  EDGERT_TRY_ATTR(p, parseGemm(c));
  c.setOutput(0, DataType::kFloat32, {p.M, p.N});
  return Status::Ok();
}

Status runGemm(const GemmParams& p, const KernelArgs& a) {
  float* y = a.out[0].as<float>();
  float beta = 0.f;
  if (p.has_c && p.beta != 0.f) {
    const float* cc = a.in[2].as<float>();
    forEachBroadcastRow(p.bias, [&](int64_t o, int64_t, int64_t oc, int64_t, int64_t n, int64_t,
                                    int64_t sc, int64_t) {
      for (int64_t i = 0; i < n; ++i) y[o + i] = cc[oc + i * sc];
    });
    beta = p.beta;
  }
  cpu::sgemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, a.in[0].as<float>(), p.ta ? p.M : p.K,
             a.in[1].as<float>(), p.tb ? p.K : p.N, beta, y, p.N);
  if (p.epi.act != Act::kNone)
    for (int64_t i = 0; i < p.M * p.N; ++i) y[i] = applyAct(p.epi, y[i]);
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createGemm(const NodeContext& c) {
  GemmParams p;
  EDGERT_TRY_ATTR(p, parseGemm(c));
  return makeKernel(std::move(p), &runGemm);
}

// MatMul: 1-D operands are promoted (and the added dim removed), batch dims broadcast.
struct MatMulParams {
  int64_t M = 0, N = 0, K = 0;
  BroadcastPlan batch;  // over the broadcast batch dims: operand 0 = A batch, 1 = B batch
  int64_t batches = 1;
};

Result<MatMulParams> parseMatMul(const NodeContext& c, Dims* out_dims) {
  Dims a = c.dims(0), b = c.dims(1);
  if (a.empty() || b.empty()) return c.invalid("MatMul inputs must have rank >= 1");
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  MatMulParams p;
  p.M = a[a.size() - 2];
  p.K = a[a.size() - 1];
  p.N = b[b.size() - 1];
  if (b[b.size() - 2] != p.K)
    return c.invalid("inner dims differ: ", dimsToString(c.dims(0)), " x ",
                     dimsToString(c.dims(1)));
  Dims ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2), batch;
  EDGERT_TRY_ATTR(batch, broadcastDims(c, ba, bb));
  Dims out = batch;
  if (!a1) out.push_back(p.M);
  if (!b1) out.push_back(p.N);
  if (out_dims) *out_dims = out;
  p.batches = volume(batch);
  p.batch = makeBroadcastPlan(batch, {&ba, &bb});
  return p;
}

Status inferMatMul(NodeContext& c) {
  if (c.dtype(0) != DataType::kFloat32 || c.dtype(1) != DataType::kFloat32)
    return c.unsupported("the CPU backend runs MatMul in float32");
  Dims out;
  MatMulParams p;
  EDGERT_TRY_ATTR(p, parseMatMul(c, &out));
  c.setOutput(0, DataType::kFloat32, out);
  return Status::Ok();
}

Status runMatMul(const MatMulParams& p, const KernelArgs& a) {
  const float* A = a.in[0].as<float>();
  const float* B = a.in[1].as<float>();
  float* Y = a.out[0].as<float>();
  const int64_t sa = p.M * p.K, sb = p.K * p.N, sy = p.M * p.N;
  if (p.batches == 1) {
    cpu::sgemm(false, false, p.M, p.N, p.K, 1.f, A, p.K, B, p.N, 0.f, Y, p.N);
    return Status::Ok();
  }
  forEachBroadcastRow(p.batch, [&](int64_t o, int64_t oa, int64_t ob, int64_t, int64_t n,
                                   int64_t ia, int64_t ib, int64_t) {
    for (int64_t i = 0; i < n; ++i)
      cpu::sgemm(false, false, p.M, p.N, p.K, 1.f, A + (oa + i * ia) * sa, p.K,
                 B + (ob + i * ib) * sb, p.N, 0.f, Y + (o + i) * sy, p.N);
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createMatMul(const NodeContext& c) {
  MatMulParams p;
  EDGERT_TRY_ATTR(p, parseMatMul(c, nullptr));
  return makeKernel(std::move(p), &runMatMul);
}

}  // namespace

extern const OpDef kOpGemm = {"Gemm", 2, 3, 1, 1, 0, inferGemm, createGemm};
extern const OpDef kOpMatMul = {"MatMul", 2, 2, 1, 1, 0, inferMatMul, createMatMul};

}  // namespace edgert::ops
