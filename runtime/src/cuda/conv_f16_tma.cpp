// FP16 convolutions on the TMA-fed wgmma kernel (kernels/conv_f16_tma.cu): a 1x1 stride-1
// unpadded convolution as a GEMM over the [pixels][C] input, any other one-group convolution
// with C % 64 == 0 through an im2col tensor map; bias, residual and activation fused. The
// builder times it against cuDNN, cuBLASLt and the mma.sync kernel.
#include "conv_f16_tma.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "conv_f16_mma.h"
#include "tma_maps.h"

namespace edgert::cuda {

namespace {

constexpr int kTileM = 128;  // output pixels per block
constexpr int kBoxK = 64;    // halves per k-tile (128 bytes: one swizzle atom)
constexpr int kWRows = 128;  // weight rows padded to this (either tile width)

Im2colWalk im2colWalk(const EdgertConvMma& p) {
  return {p.n, p.ih, p.iw, p.c, p.oh, p.ow, p.sh, p.sw, p.ph, p.pw};
}

class TmaConvLayer final : public ImplicitGemmLayer {
 public:
  using ImplicitGemmLayer::ImplicitGemmLayer;
  Status enqueue(const Env& env, const GpuArgs& g) const override {
    CUdeviceptr y = g.out[0], x = g.in[0], bias = g.n_in > 2 ? g.in[2] : 0,
                res = g.n_in > 3 ? g.in[3] : 0;
    EDGERT_RETURN_IF_ERROR(checkAligned("nhwc16-tma", x, y, res));
    // The input's map names its address: encoded per launch (host only; a captured graph keeps
    // the parameter bytes).
    CUtensorMap ta;
    if (im2col_)
      EDGERT_RETURN_IF_ERROR(
          encodeIm2colMap(env, &ta, kTmaHalf, x, im2colWalk(p_), kBoxK, "nhwc16-tma"));
    else
      EDGERT_RETURN_IF_ERROR(encodeTiledMap(env, &ta, kTmaHalf, x, p_.c, p_.rows, kBoxK, kTileM,
                                            CU_TENSOR_MAP_SWIZZLE_128B, "nhwc16-tma"));
    EdgertConvMma p = p_;
    EdgertTmaConv cv = cv_;
    int ktiles = p_.kp / kBoxK;
    CUtensorMap tb = tb_;
    void* args[] = {&p, &cv, &y, &bias, &res, &ktiles, &ta, &tb};
    const unsigned z = static_cast<unsigned>(p_.splits);
    if (persist_)
      return launchGrid(env, kernel_.c_str(), grid_m_, 1, 288, 1, args, 1, EDGERT_CONV_TMA_P_SMEM);
    if (z > 1)
      return launchCluster(env, kernel_.c_str(), grid_m_, grid_n_, z, 288, z, args,
                           EDGERT_CONV_TMA_SMEM);
    return launchGrid(env, kernel_.c_str(), grid_m_, grid_n_, 288, 1, args, 1,
                      EDGERT_CONV_TMA_SMEM);
  }

  EdgertTmaConv cv_{};
  bool im2col_ = false, persist_ = false;
  CUtensorMap tb_{};
};

}  // namespace

TmaConvTactic parseTmaConvTactic(std::string_view tactic) {
  if (tactic == "nhwc16-tma-n128") return {128, 1};
  if (tactic == "nhwc16-tma-n64") return {64, 1};
  if (tactic == "nhwc16-tma-p-n64") return {64, 1, true};
  const std::string_view prefix = kTmaClusterConvTactic;
  if (!tactic.starts_with(prefix)) return {};
  const std::string digits(tactic.substr(prefix.size()));
  if (digits.empty() || digits.size() > 2 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return {};
  return {64, std::atoi(digits.c_str())};
}

Result<std::unique_ptr<GpuLayer>> makeTmaConv(const NodeContext& c, const Env& env,
                                              const ops::Geometry& geo, TmaConvTactic t) {
#if defined(EDGERT_KERNELS_SM90A)
  const int bn = t.bn, splits = t.splits;
  if (env.sm != 90) return c.unsupported("the nhwc16-tma kernel runs on sm_90 (Hopper) only");
  if (!env.d->cuTensorMapEncodeTiled || !env.d->cuTensorMapEncodeIm2col)
    return c.unsupported("the CUDA driver lacks the TMA tensor-map calls");
  if (bn != 128 && bn != 64) return c.unsupported("tile width ", bn);
  EDGERT_ASSIGN_OR_RETURN(ImplicitGemmConv g, implicitGemmConv(c, geo, "nhwc16-tma"));
  EdgertConvMma& p = g.p;
  if (bn == 128 && p.m <= 64) return c.unsupported(p.m, " output channels: half a 128-wide tile");
  const bool gemm = p.kh == 1 && p.kw == 1 && p.sh == 1 && p.sw == 1 && p.ph == 0 && p.pw == 0 &&
                    p.oh == p.ih && p.ow == p.iw;
  if (!gemm) {
    // One tap's 64-channel block per k-tile.
    if (p.c % kBoxK || p.dh != 1 || p.dw != 1 || !im2colMapFits(im2colWalk(p)))
      return c.unsupported(
          "the nhwc16-tma im2col path needs C % 64 == 0, no dilation, strides "
          "up to 8 and pads within 128 (C ",
          p.c, ")");
  }
  const int64_t K = int64_t{p.c} * p.kh * p.kw, kp = (K + kBoxK - 1) / kBoxK * kBoxK;
  const int64_t mpad = (p.m + kWRows - 1) / kWRows * kWRows;
  const int64_t mtiles = (p.rows + kTileM - 1) / kTileM, ntiles = (p.m + bn - 1) / bn;
  if (ntiles > 65535) return c.unsupported("grid too large for the nhwc16-tma kernel");
  // As nhwc16-mma's splits: none leaving a block fewer than two k-tiles, or adding blocks to a
  // grid the output tiles already fill.
  const int64_t ktiles = kp / kBoxK;
  if (splits < 1 ||
      (splits > 1 && (splits > 16 || !env.d->cuLaunchKernelEx || ktiles < 2 * splits ||
                      mtiles * ntiles * splits / 2 >= 4 * int64_t{env.sm_count})))
    return c.unsupported("split-K clusters of ", splits, " for ", mtiles * ntiles,
                         " output tiles of ", ktiles, " k-tiles");
  p.kp = static_cast<int>(kp);
  p.splits = splits;

  auto L = std::make_unique<TmaConvLayer>(g);
  L->im2col_ = !gemm;
  L->cv_ = {p.ow, p.oh, p.sw, p.sh, p.pw, p.ph, p.kw, p.dw, p.dh, p.c / kBoxK};
  // [ceil(M / 128) * 128][kp] half, zeros beyond the filter (k = (kh * KW + kw) * C + c, the
  // order the im2col walk steps in).
  EDGERT_ASSIGN_OR_RETURN(L->w_, uploadFilterNhwc(env, *c.constant(1), c.dims(1), 0, kp, mpad));
  EDGERT_RETURN_IF_ERROR(encodeTiledMap(env, &L->tb_, kTmaHalf, L->w_, kp, mpad, kBoxK, bn,
                                        CU_TENSOR_MAP_SWIZZLE_128B, "nhwc16-tma"));
  L->persist_ = t.persist;
  L->kernel_ = strCat("edgert_conv_f16_tma", t.persist ? "_p" : "", gemm ? "" : "_im2col", "_n", bn,
                      splits > 1 ? "_c" : "", "_a", g.act);
  L->tactic_ = t.persist    ? std::string("nhwc16-tma-p-n64")
               : splits > 1 ? strCat(kTmaClusterConvTactic, splits)
                            : strCat(kTmaConvTactic, bn);
  EDGERT_RETURN_IF_ERROR(allowDynamicSmem(
      env, L->kernel_.c_str(), t.persist ? EDGERT_CONV_TMA_P_SMEM : EDGERT_CONV_TMA_SMEM));
  if (splits > 8) EDGERT_RETURN_IF_ERROR(allowLargeClusters(env, L->kernel_.c_str()));
  // Persistent: two blocks per SM (their shared memory's share), or one per tile.
  // EDGERT_TMA_P_BLOCKS=n: at most n blocks, so that tests walk several tiles per block.
  int64_t blocks = std::min<int64_t>(mtiles * ntiles, 2 * int64_t{env.sm_count});
  if (const char* cap = std::getenv("EDGERT_TMA_P_BLOCKS"))
    blocks = std::clamp<int64_t>(std::atoll(cap), 1, blocks);
  L->grid_m_ = static_cast<unsigned>(t.persist ? blocks : mtiles);
  L->grid_n_ = static_cast<unsigned>(ntiles);
  return std::unique_ptr<GpuLayer>(std::move(L));
#else
  (void)env, (void)geo, (void)t;
  return c.unsupported("this build has no sm_90a kernels (EDGERT_CUDA_ARCHS without 90a)");
#endif
}

}  // namespace edgert::cuda
