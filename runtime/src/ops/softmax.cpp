// Softmax, LogSoftmax and Hardmax along one axis. Models from opset < 13 flatten the
// input at `axis` into 2-D first; the importer marks them with `_coerce_2d`.
#include "op_util.h"

namespace edgert::ops {
namespace {

enum class Kind { kSoftmax, kLogSoftmax, kHardmax };

struct SoftmaxParams {
  int64_t outer = 0, n = 0, inner = 0;  // reduce over n, elements of a row are `inner` apart
};

Result<SoftmaxParams> parseSoftmax(const NodeContext& c) {
  int64_t axis, coerce;
  EDGERT_TRY_ATTR(coerce, attrInt(c, "_coerce_2d", 0));
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", coerce ? 1 : -1));
  const Dims& x = c.dims(0);
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  SoftmaxParams p;
  if (x.empty()) return SoftmaxParams{1, 1, 1};
  p.outer = volume(Dims(x.begin(), x.begin() + ax));
  if (coerce) {
    p.n = volume(Dims(x.begin() + ax, x.end()));
    p.inner = 1;
  } else {
    p.n = x[ax];
    p.inner = volume(Dims(x.begin() + ax + 1, x.end()));
  }
  return p;
}

template <Kind kKind>
Status inferSoftmax(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kFloats));
  SoftmaxParams p;
  EDGERT_TRY_ATTR(p, parseSoftmax(c));
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}

template <Kind kKind>
Status runSoftmax(const SoftmaxParams& p, const KernelArgs& a) {
  dispatch<kFloats>(a.in[0].dtype, [&]<class T>() {
    using C = typename Num<T>::C;
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t i = 0; i < p.inner; ++i) {
        const int64_t base = o * p.n * p.inner + i;
        C mx = std::numeric_limits<C>::lowest();
        int64_t arg = 0;
        for (int64_t k = 0; k < p.n; ++k) {
          const C v = Num<T>::load(x[base + k * p.inner]);
          if (v > mx) {
            mx = v;
            arg = k;
          }
        }
        if (kKind == Kind::kHardmax) {
          for (int64_t k = 0; k < p.n; ++k)
            y[base + k * p.inner] = Num<T>::store(C(k == arg ? 1 : 0));
          continue;
        }
        double sum = 0;
        for (int64_t k = 0; k < p.n; ++k)
          sum += std::exp(static_cast<double>(Num<T>::load(x[base + k * p.inner]) - mx));
        const double lse = std::log(sum);
        for (int64_t k = 0; k < p.n; ++k) {
          const double z = static_cast<double>(Num<T>::load(x[base + k * p.inner]) - mx);
          y[base + k * p.inner] = Num<T>::store(
              static_cast<C>(kKind == Kind::kLogSoftmax ? z - lse : std::exp(z) / sum));
        }
      }
  });
  return Status::Ok();
}

template <Kind kKind>
Result<std::unique_ptr<Kernel>> createSoftmax(const NodeContext& c) {
  SoftmaxParams p;
  EDGERT_TRY_ATTR(p, parseSoftmax(c));
  return makeKernel(p, &runSoftmax<kKind>);
}

}  // namespace

extern const OpDef kOpSoftmax = {
    "Softmax", 1, 1, 1, 1, 0, inferSoftmax<Kind::kSoftmax>, createSoftmax<Kind::kSoftmax>};
extern const OpDef kOpLogSoftmax = {
    "LogSoftmax", 1, 1, 1, 1, 0, inferSoftmax<Kind::kLogSoftmax>, createSoftmax<Kind::kLogSoftmax>};
extern const OpDef kOpHardmax = {
    "Hardmax", 1, 1, 1, 1, 0, inferSoftmax<Kind::kHardmax>, createSoftmax<Kind::kHardmax>};

}  // namespace edgert::ops
