// MaxPool (with optional Indices), AveragePool and the global pools, 1-D to 3-D.
#include "../cpu/thread_pool.h"
#include "conv_common.h"

namespace edgert::ops {
namespace {

struct PoolParams {
  Geometry g;
  int64_t NC = 0;
  bool count_include_pad = false;
  int64_t storage_order = 0;
};

Result<PoolParams> parsePool(const NodeContext& c, bool is_max) {
  PoolParams p;
  const Dims& x = c.dims(0);
  if (x.size() < 3) return c.invalid("input must have rank >= 3, got ", dimsToString(x));
  std::vector<int64_t> ks;
  EDGERT_TRY_ATTR(ks, attrInts(c, "kernel_shape"));
  if (ks.empty()) return c.invalid("kernel_shape is required");
  int64_t ceil_mode, cip;
  EDGERT_TRY_ATTR(ceil_mode, attrInt(c, "ceil_mode", 0));
  EDGERT_TRY_ATTR(cip, attrInt(c, "count_include_pad", 0));
  EDGERT_TRY_ATTR(p.storage_order, attrInt(c, "storage_order", 0));
  if (!is_max && c.attrs->has("dilations")) {
    std::vector<int64_t> d;
    EDGERT_TRY_ATTR(d, attrInts(c, "dilations"));
    for (int64_t v : d)
      if (v != 1) return c.unsupported("AveragePool with dilations");
  }
  EDGERT_TRY_ATTR(p.g, forwardGeometry(c, Dims(x.begin() + 2, x.end()), Dims(ks.begin(), ks.end()),
                                       ceil_mode != 0));
  p.NC = x[0] * x[1];
  p.count_include_pad = cip != 0;
  return p;
}

Dims outDims(const Dims& x, const Geometry& g) {
  Dims out = {x[0], x[1]};
  for (int i = 3 - g.nsp; i < 3; ++i) out.push_back(g.out[i]);
  return out;
}

template <bool kMax>
Status inferPool(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kMax ? (kNumeric & ~kI64 & ~kI32) : kFloats));
  PoolParams p;
  EDGERT_TRY_ATTR(p, parsePool(c, kMax));
  c.setOutput(0, c.dtype(0), outDims(c.dims(0), p.g));
  if (kMax) c.setOutput(1, DataType::kInt64, outDims(c.dims(0), p.g));
  return Status::Ok();
}

// One plane of a float32 2-D MaxPool: each output row is the running maximum of its window's
// input rows, one vectorisable pass per tap over the row's valid outputs. Taps in the padding
// are skipped, as in runPool's general loop.
void maxPoolPlane(const Geometry& g, const float* xc, float* yc) {
  const int64_t H = g.in[1], W = g.in[2], OH = g.out[1], OW = g.out[2], s = g.s[2];
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* yr = yc + oh * OW;
    std::fill(yr, yr + OW, std::numeric_limits<float>::lowest());
    for (int64_t kh = 0; kh < g.k[1]; ++kh) {
      const int64_t ih = oh * g.s[1] - g.pb[1] + kh * g.d[1];
      if (ih < 0 || ih >= H) continue;
      for (int64_t kw = 0; kw < g.k[2]; ++kw) {
        const int64_t base = kw * g.d[2] - g.pb[2];  // input column = ow * s + base
        const int64_t ow0 = std::min(OW, firstValid(base, s, 0));
        const int64_t ow1 = std::min(OW, firstValid(base, s, W));
        const float* xr = xc + ih * W + base;
        for (int64_t ow = ow0; ow < ow1; ++ow) {
          const float v = xr[ow * s];
          yr[ow] = v > yr[ow] ? v : yr[ow];
        }
      }
    }
  }
}

// float32 2-D MaxPool without Indices, the common case (ResNet's stem): planes split over the
// CPU threads.
void maxPool2dFloat(const PoolParams& p, const float* x, float* y) {
  const Geometry& g = p.g;
  const int64_t in_plane = g.in[1] * g.in[2], out_plane = g.out[1] * g.out[2];
  cpu::parallelFor(p.NC, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, out_plane)),
                   [&](int, int64_t b, int64_t e) {
                     for (int64_t nc = b; nc < e; ++nc)
                       maxPoolPlane(g, x + nc * in_plane, y + nc * out_plane);
                   });
}

template <bool kMax>
Status runPool(const PoolParams& p, const KernelArgs& a) {
  const Geometry& g = p.g;
  int64_t* indices = kMax && a.out.size() > 1 ? a.out[1].as<int64_t>() : nullptr;
  if (kMax && !indices && a.in[0].dtype == DataType::kFloat32 && g.in[0] == 1 && g.k[0] == 1 &&
      g.out[0] == 1) {
    maxPool2dFloat(p, a.in[0].as<float>(), a.out[0].as<float>());
    return Status::Ok();
  }
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    using C = typename Num<T>::C;
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t nc = 0; nc < p.NC; ++nc) {
      const T* xc = x + nc * g.inVol();
      T* yc = y + nc * g.outVol();
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            C best = std::numeric_limits<C>::lowest();
            int64_t best_idx = -1;
            double sum = 0;
            int64_t count = 0;
            const int64_t d0 = od * g.s[0] - g.pb[0], h0 = oh * g.s[1] - g.pb[1],
                          w0 = ow * g.s[2] - g.pb[2];
            for (int64_t kd = 0; kd < g.k[0]; ++kd) {
              const int64_t id = d0 + kd * g.d[0];
              for (int64_t kh = 0; kh < g.k[1]; ++kh) {
                const int64_t ih = h0 + kh * g.d[1];
                for (int64_t kw = 0; kw < g.k[2]; ++kw) {
                  const int64_t iw = w0 + kw * g.d[2];
                  const bool inside =
                      id >= 0 && id < g.in[0] && ih >= 0 && ih < g.in[1] && iw >= 0 && iw < g.in[2];
                  if (!inside) {
                    // Padding counts for the divisor only within the padded extent.
                    if (!kMax && p.count_include_pad && id < g.in[0] + g.pe[0] &&
                        ih < g.in[1] + g.pe[1] && iw < g.in[2] + g.pe[2])
                      ++count;
                    continue;
                  }
                  const int64_t off = (id * g.in[1] + ih) * g.in[2] + iw;
                  const C v = Num<T>::load(xc[off]);
                  if (kMax) {
                    if (best_idx < 0 || v > best) {
                      best = v;
                      best_idx = off;
                    }
                  } else {
                    sum += static_cast<double>(v);
                    ++count;
                  }
                }
              }
            }
            const int64_t o = (od * g.out[1] + oh) * g.out[2] + ow;
            if (kMax) {
              yc[o] = Num<T>::store(best);
              if (indices) {
                int64_t flat = best_idx;
                if (p.storage_order == 1 && g.nsp == 2) {  // column-major index within the plane
                  flat = (best_idx % g.in[2]) * g.in[1] + best_idx / g.in[2];
                }
                indices[nc * g.outVol() + o] = nc * g.inVol() + flat;
              }
            } else {
              yc[o] = Num<T>::store(static_cast<C>(count ? sum / static_cast<double>(count) : 0.0));
            }
          }
    }
  });
  return Status::Ok();
}

template <bool kMax>
Result<std::unique_ptr<Kernel>> createPool(const NodeContext& c) {
  PoolParams p;
  EDGERT_TRY_ATTR(p, parsePool(c, kMax));
  return makeKernel(std::move(p), &runPool<kMax>);
}

template <bool kMax>
Status inferGlobal(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kFloats));
  if (c.rank(0) < 3) return c.invalid("input must have rank >= 3, got ", dimsToString(c.dims(0)));
  Dims out = c.dims(0);
  for (size_t i = 2; i < out.size(); ++i) out[i] = 1;
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

struct GlobalParams {
  int64_t NC, spatial;
};
template <bool kMax>
Status runGlobal(const GlobalParams& p, const KernelArgs& a) {
  dispatch<kFloats>(a.in[0].dtype, [&]<class T>() {
    using C = typename Num<T>::C;
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    // Channels split over the CPU threads; each mean is eight interleaved double sums (one
    // vector of them, in a fixed order whatever the split) rather than one serial chain.
    cpu::parallelFor(p.NC, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, p.spatial)),
                     [&](int, int64_t b, int64_t e) {
                       for (int64_t i = b; i < e; ++i) {
                         const T* xc = x + i * p.spatial;
                         if (kMax) {
                           C m = std::numeric_limits<C>::lowest();
                           for (int64_t j = 0; j < p.spatial; ++j)
                             m = std::max(m, Num<T>::load(xc[j]));
                           y[i] = Num<T>::store(m);
                         } else {
                           double part[8] = {};
                           int64_t j = 0;
                           for (; j + 8 <= p.spatial; j += 8)
                             for (int l = 0; l < 8; ++l)
                               part[l] += static_cast<double>(Num<T>::load(xc[j + l]));
                           for (; j < p.spatial; ++j)
                             part[j % 8] += static_cast<double>(Num<T>::load(xc[j]));
                           const double s = ((part[0] + part[4]) + (part[1] + part[5])) +
                                            ((part[2] + part[6]) + (part[3] + part[7]));
                           y[i] = Num<T>::store(static_cast<C>(
                               s / static_cast<double>(std::max<int64_t>(p.spatial, 1))));
                         }
                       }
                     });
  });
  return Status::Ok();
}
template <bool kMax>
Result<std::unique_ptr<Kernel>> createGlobal(const NodeContext& c) {
  const Dims& x = c.dims(0);
  return makeKernel(GlobalParams{x[0] * x[1], volume(Dims(x.begin() + 2, x.end()))},
                    &runGlobal<kMax>);
}

}  // namespace

extern const OpDef kOpMaxPool = {"MaxPool", 1, 1, 1, 2, 0, inferPool<true>, createPool<true>};
extern const OpDef kOpAveragePool = {"AveragePool",    1, 1, 1, 1, 0, inferPool<false>,
                                     createPool<false>};
extern const OpDef kOpGlobalMaxPool = {"GlobalMaxPool",   1, 1, 1, 1, 0, inferGlobal<true>,
                                       createGlobal<true>};
extern const OpDef kOpGlobalAveragePool = {"GlobalAveragePool", 1, 1, 1, 1, 0, inferGlobal<false>,
                                           createGlobal<false>};

}  // namespace edgert::ops
