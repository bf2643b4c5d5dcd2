// FP16 convolutions on our implicit-GEMM tensor-core kernel (kernels/conv_f16_mma.cu): one
// kernel per layer with the epilogue fused, and, where the output alone would leave most of the
// GPU idle (batch 1-8), the reduction split among 2-64 blocks per output tile that add their sums
// in L2 ("nhwc16-mma-s<N>") or among a Hopper cluster's 2-16 blocks that add them from each
// other's shared memory ("nhwc16-mma-c<N>"). The builder times each against cuDNN and cuBLASLt.
#include "conv_f16_mma.h"

#include <string_view>

namespace edgert::cuda {

namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 32;  // the kernel's block tile
// The split layers' persistent sum buffers: a few small-output layers, not every layer.
constexpr size_t kMaxSumBytes = size_t{4} << 20;

class MmaConvLayer final : public ImplicitGemmLayer {
 public:
  using ImplicitGemmLayer::ImplicitGemmLayer;
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0], w = w_, bias = g.n_in > 2 ? g.in[2] : 0,
                res = g.n_in > 3 ? g.in[3] : 0, part = sums_, counters = counters_;
    EDGERT_RETURN_IF_ERROR(checkAligned("nhwc16-mma", x, y, res));
    EdgertConvMma p = p_;
    void* args[] = {&p, &y, &x, &w, &bias, &res, &part, &counters};
    const unsigned z = static_cast<unsigned>(p_.splits);
    if (cluster_)
      return launchCluster(env, kernel_.c_str(), grid_m_, grid_n_, z, 128, z, args,
                           EDGERT_CONV_MMA_SMEM);
    return launchGrid(env, kernel_.c_str(), grid_m_, grid_n_, 128, 1, args, z,
                      EDGERT_CONV_MMA_SMEM);
  }

  CUdeviceptr sums_ = 0, counters_ = 0;  // zero between launches
  bool cluster_ = false;
};

}  // namespace

Status ImplicitGemmLayer::checkAligned(const char* who, CUdeviceptr x, CUdeviceptr y,
                                       CUdeviceptr res) {
  if ((x | y | res) % 16)
    return Status(StatusCode::kInvalidArgument,
                  strCat(who, " convolution: an input or output buffer is not 16-byte aligned"));
  return Status::Ok();
}

MmaConvTactic parseMmaConvTactic(std::string_view tactic) {
  MmaConvTactic t;
  constexpr std::string_view prefix = "nhwc16-mma-";  // then 's' or 'c', then the splits
  if (!tactic.starts_with(prefix) || tactic.size() < prefix.size() + 2) return t;
  const char kind = tactic[prefix.size()];
  const std::string digits(tactic.substr(prefix.size() + 1));
  if ((kind != 's' && kind != 'c') || digits.empty() || digits.size() > 2 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return t;
  t.splits = std::atoi(digits.c_str());
  t.cluster = kind == 'c';
  return t;
}

Result<ImplicitGemmConv> implicitGemmConv(const NodeContext& c, const ops::Geometry& geo,
                                          const char* kernel) {
  const Dims& x = c.dims(0);
  const Dims& wd = c.dims(1);
  const Dims& y = c.out[0].dims;
  if (c.attrs->getInt("group", 1).value() != 1) return c.unsupported("grouped convolution");
  if (geo.nsp != 2 || x.size() != 4) return c.unsupported("not a 2-D convolution");
  const int64_t C = x[1], M = y[1], rows = x[0] * y[2] * y[3];
  if (C % 8 || M % 8) return c.unsupported("C_in ", C, " and C_out ", M, " must be multiples of 8");
  if (rows >= (int64_t{1} << 31) || x[0] * x[1] * x[2] * x[3] >= (int64_t{1} << 31) ||
      rows * M >= (int64_t{1} << 34))
    return c.unsupported("too large for the ", kernel, " kernel's 32-bit pixel indices");
  ImplicitGemmConv g;
  EdgertConvMma& p = g.p;
  p.a = c.attrs->getFloat("_act_alpha", 0.f).value();
  p.b = c.attrs->getFloat("_act_beta", 0.f).value();
  g.act = fixedActivation(convActivation(c), &p.a, &p.b);
  if (g.act < 0) return c.unsupported("an activation the ", kernel, " kernel does not fuse");
  p.n = static_cast<int>(x[0]);
  p.c = static_cast<int>(C);
  p.ih = static_cast<int>(x[2]);
  p.iw = static_cast<int>(x[3]);
  p.oh = static_cast<int>(y[2]);
  p.ow = static_cast<int>(y[3]);
  p.kh = static_cast<int>(wd[2]);
  p.kw = static_cast<int>(wd[3]);
  p.sh = static_cast<int>(geo.s[1]);
  p.sw = static_cast<int>(geo.s[2]);
  p.ph = static_cast<int>(geo.pb[1]);
  p.pw = static_cast<int>(geo.pb[2]);
  p.dh = static_cast<int>(geo.d[1]);
  p.dw = static_cast<int>(geo.d[2]);
  p.m = static_cast<int>(M);
  p.splits = 1;
  p.rows = static_cast<int>(rows);
  for (size_t k = 0; k < c.in.size(); ++k) g.in_half.push_back(halfAct(c, k));
  return g;
}

Result<std::unique_ptr<GpuLayer>> makeMmaConv(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo, MmaConvTactic t) {
  const int splits = t.splits;
  if (env.sm < 80) return c.unsupported("the nhwc16-mma kernel needs sm_80 or newer");
  EDGERT_ASSIGN_OR_RETURN(ImplicitGemmConv g, implicitGemmConv(c, geo, "nhwc16-mma"));
  EdgertConvMma& p = g.p;
  const int64_t K = int64_t{p.c} * p.kh * p.kw, kp = (K + kTileK - 1) / kTileK * kTileK;
  const int64_t ktiles = kp / kTileK;
  const int64_t mtiles = (p.rows + kTileM - 1) / kTileM, ntiles = (p.m + kTileN - 1) / kTileN;
  // Splits that leave a block fewer than two k-tiles, or that add blocks to a grid the output
  // tiles already fill several times over, only cost time to build and to reduce.
  if (splits < 1 || splits > 64 || (splits > 1 && ktiles < 2 * splits))
    return c.unsupported("split-K ", splits, " of ", ktiles, " k-tiles");
  if (t.cluster && (env.sm < 90 || !env.d->cuLaunchKernelEx || splits < 2 || splits > 16))
    return c.unsupported("split-K clusters of ", splits,
                         " blocks (2 to 16, on sm_90 or newer with a CUDA 12 driver)");
  if (splits > 1 && mtiles * ntiles * splits / 2 >= 4 * int64_t{env.sm_count})
    return c.unsupported("split-K ", splits, ": ", mtiles * ntiles,
                         " output tiles already fill the GPU");
  const size_t sums =
      splits > 1 && !t.cluster ? static_cast<size_t>(mtiles * ntiles) * kTileM * kTileN * 4 : 0;
  if (sums > kMaxSumBytes) return c.unsupported("split-K sums of ", sums, " bytes");
  if (ntiles > 65535) return c.unsupported("grid too large for the nhwc16-mma kernel");
  p.kp = static_cast<int>(kp);
  p.splits = splits;

  auto L = std::make_unique<MmaConvLayer>(g);
  // [ceil(M / 64) * 64][kp] half, zeros beyond the filter.
  EDGERT_ASSIGN_OR_RETURN(L->w_,
                          uploadFilterNhwc(env, *c.constant(1), c.dims(1), 0, kp, ntiles * kTileN));
  if (sums) {
    const std::vector<unsigned> zeros(sums / 4, 0u);  // 0u is also 0.f
    EDGERT_ASSIGN_OR_RETURN(L->sums_, env.upload(zeros.data(), sums));
    EDGERT_ASSIGN_OR_RETURN(L->counters_,
                            env.upload(zeros.data(), static_cast<size_t>(mtiles * ntiles) * 4));
  }
  L->kernel_ = strCat(t.cluster ? "edgert_conv_f16_mma_cluster_a" : "edgert_conv_f16_mma_a", g.act);
  L->tactic_ = strCat(t.cluster ? kMmaClusterConvTactic : kMmaConvTactic, splits);
  L->cluster_ = t.cluster;
  EDGERT_RETURN_IF_ERROR(allowDynamicSmem(env, L->kernel_.c_str(), EDGERT_CONV_MMA_SMEM));
  if (t.cluster && splits > 8) {
    EDGERT_RETURN_IF_ERROR(allowLargeClusters(env, L->kernel_.c_str()));
  }
  L->grid_m_ = static_cast<unsigned>(mtiles);
  L->grid_n_ = static_cast<unsigned>(ntiles);
  return std::unique_ptr<GpuLayer>(std::move(L));
}

}  // namespace edgert::cuda
