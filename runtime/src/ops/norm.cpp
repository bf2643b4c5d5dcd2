// BatchNormalization (inference), InstanceNormalization, LayerNormalization.
#include "op_util.h"

namespace edgert::ops {
namespace {

struct NormParams {
  float eps = 1e-5f;
  int64_t outer = 0, channels = 0, inner = 0;  // BN / IN: N, C, spatial. LN: rows, 1, cols
  int64_t axis = -1;
};

Status inferBatchNorm(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kFloats));
  int64_t training;
  EDGERT_TRY_ATTR(training, attrInt(c, "training_mode", 0));
  if (training) return c.unsupported("training_mode=1 is not supported (inference only)");
  if (c.num_outputs > 1)
    return c.unsupported("running mean/variance outputs (training) are not supported");
  if (c.rank(0) < 2) return c.invalid("input must have rank >= 2");
  const int64_t C = c.dims(0)[1];
  for (size_t i = 1; i < 5; ++i) {
    if (c.dims(i) != Dims{C})
      return c.invalid("input ", i, " must have shape [", C, "], got ", dimsToString(c.dims(i)));
    if (c.dtype(i) != c.dtype(0)) return c.unsupported("mixed dtypes");
  }
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}

Status runBatchNorm(const NormParams& p, const KernelArgs& a) {
  dispatch<kFloats>(a.in[0].dtype, [&]<class T>() {
    const T *x = a.in[0].as<T>(), *sc = a.in[1].as<T>(), *b = a.in[2].as<T>(),
            *mean = a.in[3].as<T>(), *var = a.in[4].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t ch = 0; ch < p.channels; ++ch) {
      const double s =
          Num<T>::load(sc[ch]) / std::sqrt(static_cast<double>(Num<T>::load(var[ch])) + p.eps);
      const double sh = Num<T>::load(b[ch]) - Num<T>::load(mean[ch]) * s;
      for (int64_t n = 0; n < p.outer; ++n) {
        const int64_t base = (n * p.channels + ch) * p.inner;
        for (int64_t i = 0; i < p.inner; ++i)
          y[base + i] =
              Num<T>::store(static_cast<typename Num<T>::C>(Num<T>::load(x[base + i]) * s + sh));
      }
    }
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createBatchNorm(const NodeContext& c) {
  NormParams p;
  EDGERT_TRY_ATTR(p.eps, attrFloat(c, "epsilon", 1e-5f));
  const Dims& x = c.dims(0);
  p.outer = x[0];
  p.channels = x[1];
  p.inner = volume(Dims(x.begin() + 2, x.end()));
  return makeKernel(p, &runBatchNorm);
}

Status inferInstanceNorm(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kFloats));
  if (c.rank(0) < 3) return c.invalid("input must have rank >= 3");
  const int64_t C = c.dims(0)[1];
  if (c.dims(1) != Dims{C} || c.dims(2) != Dims{C})
    return c.invalid("scale and B must have shape [", C, "]");
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}

// Mean/variance over `inner` contiguous values per row, in double for stability.
template <class T>
void normalizeRow(const T* x, T* y, int64_t n, double eps, double scale, double bias, const T* sv,
                  const T* bv, double* mean_out, double* inv_out) {
  double mean = 0, sq = 0;
  for (int64_t i = 0; i < n; ++i) mean += static_cast<double>(Num<T>::load(x[i]));
  mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(Num<T>::load(x[i])) - mean;
    sq += d * d;
  }
  const double inv = 1.0 / std::sqrt(sq / static_cast<double>(n) + eps);
  for (int64_t i = 0; i < n; ++i) {
    const double s = sv ? static_cast<double>(Num<T>::load(sv[i])) : scale;
    const double b = bv ? static_cast<double>(Num<T>::load(bv[i])) : (sv ? 0.0 : bias);
    y[i] = Num<T>::store(static_cast<typename Num<T>::C>(
        (static_cast<double>(Num<T>::load(x[i])) - mean) * inv * s + b));
  }
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
}

Status runInstanceNorm(const NormParams& p, const KernelArgs& a) {
  dispatch<kFloats>(a.in[0].dtype, [&]<class T>() {
    const T *x = a.in[0].as<T>(), *sc = a.in[1].as<T>(), *b = a.in[2].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t n = 0; n < p.outer; ++n)
      for (int64_t ch = 0; ch < p.channels; ++ch) {
        const int64_t base = (n * p.channels + ch) * p.inner;
        normalizeRow(x + base, y + base, p.inner, p.eps, Num<T>::load(sc[ch]), Num<T>::load(b[ch]),
                     static_cast<const T*>(nullptr), static_cast<const T*>(nullptr), nullptr,
                     nullptr);
      }
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createInstanceNorm(const NodeContext& c) {
  NormParams p;
  EDGERT_TRY_ATTR(p.eps, attrFloat(c, "epsilon", 1e-5f));
  const Dims& x = c.dims(0);
  p.outer = x[0];
  p.channels = x[1];
  p.inner = volume(Dims(x.begin() + 2, x.end()));
  return makeKernel(p, &runInstanceNorm);
}

// LayerNormalization normalises over dims [axis, rank); Scale and B broadcast to them.
Status inferLayerNorm(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kFloats));
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", -1));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  const Dims& x = c.dims(0);
  const Dims norm_dims(x.begin() + ax, x.end());
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has(i)) continue;
    if (c.dtype(i) != c.dtype(0)) return c.unsupported("mixed dtypes");
    if (volume(c.dims(i)) != volume(norm_dims))
      return c.unsupported("input ", i, " ", dimsToString(c.dims(i)),
                           " must cover the normalised dims ", dimsToString(norm_dims));
  }
  c.setOutput(0, c.dtype(0), x);
  Dims stat = x;
  for (size_t i = ax; i < stat.size(); ++i) stat[i] = 1;
  int64_t stash;
  EDGERT_TRY_ATTR(stash, attrInt(c, "stash_type", 1));
  (void)stash;
  c.setOutput(1, DataType::kFloat32, stat);
  c.setOutput(2, DataType::kFloat32, stat);
  return Status::Ok();
}

Status runLayerNorm(const NormParams& p, const KernelArgs& a) {
  dispatch<kFloats>(a.in[0].dtype, [&]<class T>() {
    const T* x = a.in[0].as<T>();
    const T* sc = a.in[1].as<T>();
    const T* b = a.in.size() > 2 ? a.in[2].as<T>() : nullptr;
    T* y = a.out[0].as<T>();
    float* mean = a.out.size() > 1 ? a.out[1].as<float>() : nullptr;
    float* inv = a.out.size() > 2 ? a.out[2].as<float>() : nullptr;
    for (int64_t r = 0; r < p.outer; ++r) {
      double m, iv;
      normalizeRow(x + r * p.inner, y + r * p.inner, p.inner, p.eps, 1.0, 0.0, sc, b, &m, &iv);
      if (mean) mean[r] = static_cast<float>(m);
      if (inv) inv[r] = static_cast<float>(iv);
    }
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createLayerNorm(const NodeContext& c) {
  NormParams p;
  EDGERT_TRY_ATTR(p.eps, attrFloat(c, "epsilon", 1e-5f));
  const int ax = normAxis(c, c.attrs->getInt("axis", -1).value(), c.rank(0)).value();
  const Dims& x = c.dims(0);
  p.outer = volume(Dims(x.begin(), x.begin() + ax));
  p.inner = volume(Dims(x.begin() + ax, x.end()));
  return makeKernel(p, &runLayerNorm);
}

}  // namespace

// ONNX allows the training outputs (running mean/var); infer() reports them unsupported.
extern const OpDef kOpBatchNormalization = {"BatchNormalization", 5, 5, 1, 3, 0, inferBatchNorm,
                                            createBatchNorm};
extern const OpDef kOpInstanceNormalization = {
    "InstanceNormalization", 3, 3, 1, 1, 0, inferInstanceNorm, createInstanceNorm};
extern const OpDef kOpLayerNormalization = {"LayerNormalization", 2, 3, 1, 3, 0, inferLayerNorm,
                                            createLayerNorm};

}  // namespace edgert::ops
