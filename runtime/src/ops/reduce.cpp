// Reduce* ops, ArgMax/ArgMin and TopK.
#include <numeric>

#include "op_util.h"

namespace edgert::ops {
namespace {

enum class Red { kSum, kMean, kMax, kMin, kProd, kSumSquare, kL1, kL2, kLogSum, kLogSumExp };

struct ReduceParams {
  Red op = Red::kSum;
  BroadcastPlan plan;  // over input dims: operand 0 = input, 1 = output (reduced dims stride 0)
  int64_t out_numel = 0, count = 1;
  bool identity = false;  // noop_with_empty_axes with no axes: a copy
};

// Returns the keepdims output shape; sets `reduced` per input dim.
Result<Dims> reducedDims(const NodeContext& c, std::vector<bool>& reduced, bool* identity) {
  const int r = c.rank(0);
  std::vector<int64_t> axes;
  if (c.has(1)) {
    axes = constInts(c, 1);
  } else {
    EDGERT_TRY_ATTR(axes, attrInts(c, "axes"));
  }
  int64_t noop;
  EDGERT_TRY_ATTR(noop, attrInt(c, "noop_with_empty_axes", 0));
  reduced.assign(r, axes.empty() && !noop);
  if (identity) *identity = axes.empty() && noop;
  for (int64_t a : axes) {
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, a, r));
    reduced[ax] = true;
  }
  Dims keep = c.dims(0);
  for (int i = 0; i < r; ++i)
    if (reduced[i]) keep[i] = 1;
  return keep;
}

template <Red kOp>
Status inferReduce(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  std::vector<bool> reduced;
  Dims keep;
  EDGERT_TRY_ATTR(keep, reducedDims(c, reduced, nullptr));
  int64_t keepdims;
  EDGERT_TRY_ATTR(keepdims, attrInt(c, "keepdims", 1));
  Dims out;
  for (size_t i = 0; i < keep.size(); ++i)
    if (!reduced[i] || keepdims) out.push_back(keep[i]);
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

template <Red kOp>
Status runReduce(const ReduceParams& p, const KernelArgs& a) {
  double* acc = static_cast<double*>(a.scratch);
  double init = 0;
  if (kOp == Red::kProd) init = 1;
  if (kOp == Red::kMax) init = -std::numeric_limits<double>::infinity();
  if (kOp == Red::kMin) init = std::numeric_limits<double>::infinity();
  std::fill(acc, acc + p.out_numel, init);
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    if (p.identity) {
      std::memcpy(y, x, a.in[0].bytes());
      return;
    }
    forEachBroadcastRow(p.plan, [&](int64_t, int64_t ox, int64_t oy, int64_t, int64_t n, int64_t sx,
                                    int64_t sy, int64_t) {
      for (int64_t i = 0; i < n; ++i) {
        const double v = static_cast<double>(Num<T>::load(x[ox + i * sx]));
        double& r = acc[oy + i * sy];
        switch (kOp) {
          case Red::kSum:
          case Red::kMean:
          case Red::kLogSum:
            r += v;
            break;
          case Red::kMax:
            r = std::max(r, v);
            break;
          case Red::kMin:
            r = std::min(r, v);
            break;
          case Red::kProd:
            r *= v;
            break;
          case Red::kSumSquare:
          case Red::kL2:
            r += v * v;
            break;
          case Red::kL1:
            r += std::abs(v);
            break;
          case Red::kLogSumExp:
            r += std::exp(v);
            break;
        }
      }
    });
    for (int64_t i = 0; i < p.out_numel; ++i) {
      double r = acc[i];
      if (kOp == Red::kMean) r /= static_cast<double>(p.count);
      if (kOp == Red::kL2) r = std::sqrt(r);
      if (kOp == Red::kLogSum || kOp == Red::kLogSumExp) r = std::log(r);
      y[i] = Num<T>::store(static_cast<typename Num<T>::C>(r));
    }
  });
  return Status::Ok();
}

template <Red kOp>
Result<std::unique_ptr<Kernel>> createReduce(const NodeContext& c) {
  std::vector<bool> reduced;
  ReduceParams p;
  p.op = kOp;
  Dims keep = reducedDims(c, reduced, &p.identity).value();
  p.plan = makeBroadcastPlan(c.dims(0), {&c.dims(0), &keep});
  p.out_numel = volume(keep);
  p.count = std::max<int64_t>(1, volume(c.dims(0)) / std::max<int64_t>(1, p.out_numel));
  return makeKernel(std::move(p), &runReduce<kOp>,
                    sizeof(double) * static_cast<size_t>(p.out_numel));
}

// ArgMax / ArgMin
struct ArgParams {
  int64_t outer = 0, n = 0, inner = 0;
  bool last = false;
};

Result<ArgParams> parseArg(const NodeContext& c, Dims* out) {
  int64_t axis, keepdims, last;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 0));
  EDGERT_TRY_ATTR(keepdims, attrInt(c, "keepdims", 1));
  EDGERT_TRY_ATTR(last, attrInt(c, "select_last_index", 0));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  const Dims& x = c.dims(0);
  if (x.empty() || x[ax] == 0) return c.invalid("cannot reduce an empty axis");
  ArgParams p{volume(Dims(x.begin(), x.begin() + ax)), x[ax],
              volume(Dims(x.begin() + ax + 1, x.end())), last != 0};
  if (out) {
    *out = x;
    if (keepdims)
      (*out)[ax] = 1;
    else
      out->erase(out->begin() + ax);
  }
  return p;
}

template <bool kMax>
Status inferArg(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  Dims out;
  ArgParams p;
  EDGERT_TRY_ATTR(p, parseArg(c, &out));
  c.setOutput(0, DataType::kInt64, out);
  return Status::Ok();
}

template <bool kMax>
Status runArg(const ArgParams& p, const KernelArgs& a) {
  int64_t* y = a.out[0].as<int64_t>();
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    const T* x = a.in[0].as<T>();
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t i = 0; i < p.inner; ++i) {
        const T* row = x + o * p.n * p.inner + i;
        auto best = Num<T>::load(row[0]);
        int64_t arg = 0;
        for (int64_t k = 1; k < p.n; ++k) {
          const auto v = Num<T>::load(row[k * p.inner]);
          const bool better =
              kMax ? (p.last ? v >= best : v > best) : (p.last ? v <= best : v < best);
          if (better) {
            best = v;
            arg = k;
          }
        }
        y[o * p.inner + i] = arg;
      }
  });
  return Status::Ok();
}

template <bool kMax>
Result<std::unique_ptr<Kernel>> createArg(const NodeContext& c) {
  ArgParams p;
  EDGERT_TRY_ATTR(p, parseArg(c, nullptr));
  return makeKernel(p, &runArg<kMax>);
}

// TopK(X, K): values and int64 indices along `axis`; ties keep the lower index first.
struct TopKParams {
  int64_t outer = 0, n = 0, inner = 0, k = 0;
  bool largest = true;
};

Result<TopKParams> parseTopK(const NodeContext& c, Dims* out) {
  int64_t axis, largest, sorted;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", -1));
  EDGERT_TRY_ATTR(largest, attrInt(c, "largest", 1));
  EDGERT_TRY_ATTR(sorted, attrInt(c, "sorted", 1));
  (void)sorted;  // results are always sorted, which the spec allows
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  const HostTensor* kt = c.constant(1);
  if (!kt || kt->numel() != 1) return c.invalid("K must be a constant with one element");
  const Dims& x = c.dims(0);
  TopKParams p{volume(Dims(x.begin(), x.begin() + ax)), x[ax],
               volume(Dims(x.begin() + ax + 1, x.end())), kt->intAt(0), largest != 0};
  if (p.k < 0 || p.k > p.n) return c.invalid("K=", p.k, " is outside [0, ", p.n, "]");
  if (out) {
    *out = x;
    (*out)[ax] = p.k;
  }
  return p;
}

Status inferTopK(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  Dims out;
  TopKParams p;
  EDGERT_TRY_ATTR(p, parseTopK(c, &out));
  c.setOutput(0, c.dtype(0), out);
  c.setOutput(1, DataType::kInt64, out);
  return Status::Ok();
}

Status runTopK(const TopKParams& p, const KernelArgs& a) {
  int64_t* idx = static_cast<int64_t*>(a.scratch);
  int64_t* yi = a.out.size() > 1 ? a.out[1].as<int64_t>() : nullptr;
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    const T* x = a.in[0].as<T>();
    T* yv = a.out[0].as<T>();
    for (int64_t o = 0; o < p.outer; ++o)
      for (int64_t i = 0; i < p.inner; ++i) {
        const T* row = x + o * p.n * p.inner + i;
        std::iota(idx, idx + p.n, int64_t{0});
        auto cmp = [&](int64_t l, int64_t r) {
          const auto vl = Num<T>::load(row[l * p.inner]), vr = Num<T>::load(row[r * p.inner]);
          if (vl != vr) return p.largest ? vl > vr : vl < vr;
          return l < r;
        };
        std::partial_sort(idx, idx + p.k, idx + p.n, cmp);
        for (int64_t k = 0; k < p.k; ++k) {
          const int64_t off = (o * p.k + k) * p.inner + i;
          yv[off] = row[idx[k] * p.inner];
          if (yi) yi[off] = idx[k];
        }
      }
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createTopK(const NodeContext& c) {
  TopKParams p;
  EDGERT_TRY_ATTR(p, parseTopK(c, nullptr));
  return makeKernel(p, &runTopK, sizeof(int64_t) * static_cast<size_t>(p.n));
}

}  // namespace

#define EDGERT_REDUCE(NAME, OP) \
  extern const OpDef kOp##NAME = {#NAME, 1, 2, 1, 1, 0b10, inferReduce<OP>, createReduce<OP>};
EDGERT_REDUCE(ReduceSum, Red::kSum)
EDGERT_REDUCE(ReduceMean, Red::kMean)
EDGERT_REDUCE(ReduceMax, Red::kMax)
EDGERT_REDUCE(ReduceMin, Red::kMin)
EDGERT_REDUCE(ReduceProd, Red::kProd)
EDGERT_REDUCE(ReduceSumSquare, Red::kSumSquare)
EDGERT_REDUCE(ReduceL1, Red::kL1)
EDGERT_REDUCE(ReduceL2, Red::kL2)
EDGERT_REDUCE(ReduceLogSum, Red::kLogSum)
EDGERT_REDUCE(ReduceLogSumExp, Red::kLogSumExp)
extern const OpDef kOpArgMax = {"ArgMax", 1, 1, 1, 1, 0, inferArg<true>, createArg<true>};
extern const OpDef kOpArgMin = {"ArgMin", 1, 1, 1, 1, 0, inferArg<false>, createArg<false>};
extern const OpDef kOpTopK = {"TopK", 2, 2, 2, 2, 0b10, inferTopK, createTopK};

}  // namespace edgert::ops
