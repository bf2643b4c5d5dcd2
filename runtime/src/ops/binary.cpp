// Elementwise ops with numpy broadcasting: arithmetic, comparisons, logic, the variadic
// Max/Min/Sum/Mean, PRelu and Where. Broadcast plans are made once per kernel.
#include <limits>

#include "op_util.h"

namespace edgert::ops {
namespace {

enum class Bin {
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kFMod,
  kMax,
  kMin,
  kEq,
  kLt,
  kGt,
  kLe,
  kGe,
  kAnd,
  kOr,
  kXor,
  kPRelu,
  kPow,
  kCopy
};

bool isCompare(Bin b) {
  return b >= Bin::kEq && b <= Bin::kGe;
}
bool isLogic(Bin b) {
  return b >= Bin::kAnd && b <= Bin::kXor;
}

template <class C>
C applyArith(Bin op, C x, C y) {
  switch (op) {
    case Bin::kAdd:
      return C(x + y);
    case Bin::kSub:
      return C(x - y);
    case Bin::kMul:
      return C(x * y);
    case Bin::kDiv:
      if constexpr (std::is_integral_v<C>)
        return y == 0 ? C(0) : C(x / y);
      else
        return x / y;
    case Bin::kFMod:
      if constexpr (std::is_integral_v<C>)
        return y == 0 ? C(0) : C(x % y);
      else
        return std::fmod(x, y);
    case Bin::kMod:
      if constexpr (std::is_integral_v<C>) {
        if (y == 0) return C(0);
        C r = C(x % y);
        if (r != 0 && ((r < 0) != (y < 0))) r = C(r + y);
        return r;
      } else {
        C r = std::fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
      }
    case Bin::kMax:
      return std::isnan(static_cast<double>(x)) ? x : (x > y ? x : y);
    case Bin::kMin:
      return std::isnan(static_cast<double>(x)) ? x : (x < y ? x : y);
    case Bin::kPRelu:
      return x < C(0) ? C(x * y) : x;
    case Bin::kPow:
      return static_cast<C>(std::pow(static_cast<double>(x), static_cast<double>(y)));
    case Bin::kCopy:
      return y;
    default:
      return C(0);
  }
}

template <class C>
bool applyCompare(Bin op, C x, C y) {
  switch (op) {
    case Bin::kEq:
      return x == y;
    case Bin::kLt:
      return x < y;
    case Bin::kGt:
      return x > y;
    case Bin::kLe:
      return x <= y;
    case Bin::kGe:
      return x >= y;
    case Bin::kAnd:
      return x && y;
    case Bin::kOr:
      return x || y;
    case Bin::kXor:
      return static_cast<bool>(x) != static_cast<bool>(y);
    default:
      return false;
  }
}

struct BinaryParams {
  Bin op = Bin::kAdd;
  std::vector<BroadcastPlan> plans;  // plan[k]: operands (out, in_k); plan[0] copies in_0
  bool variadic = false;
};

// Out[o] = f(A[a], B[b]) over a broadcast plan whose operand 0 is A and 1 is B.
template <class TA, class TB, class TO, class F>
void loop2(const BroadcastPlan& p, const TA* a, const TB* b, TO* y, F f) {
  forEachBroadcastRow(p, [&](int64_t o, int64_t oa, int64_t ob, int64_t, int64_t n, int64_t sa,
                             int64_t sb, int64_t) {
    for (int64_t i = 0; i < n; ++i) y[o + i] = f(a[oa + i * sa], b[ob + i * sb]);
  });
}

// float32 arithmetic with the op fixed at compile time and the three row shapes that
// matter (same shape, scalar right, scalar left) written so the compiler vectorises them:
// the generic loop decides the op per element and runs ~10x slower on HardSwish chains.
template <Bin kOp>
inline float arithF(float x, float y) {
  if constexpr (kOp == Bin::kAdd) return x + y;
  if constexpr (kOp == Bin::kSub) return x - y;
  if constexpr (kOp == Bin::kMul) return x * y;
  if constexpr (kOp == Bin::kDiv) return x / y;
}

template <Bin kOp>
void floatRows(const BroadcastPlan& p, const float* a, const float* b, float* y) {
  forEachBroadcastRow(p, [&](int64_t o, int64_t oa, int64_t ob, int64_t, int64_t n, int64_t sa,
                             int64_t sb, int64_t) {
    float* yo = y + o;
    const float* ao = a + oa;
    const float* bo = b + ob;
    if (sa == 1 && sb == 1) {
      for (int64_t i = 0; i < n; ++i) yo[i] = arithF<kOp>(ao[i], bo[i]);
    } else if (sa == 1 && sb == 0) {
      const float bv = *bo;
      for (int64_t i = 0; i < n; ++i) yo[i] = arithF<kOp>(ao[i], bv);
    } else if (sa == 0 && sb == 1) {
      const float av = *ao;
      for (int64_t i = 0; i < n; ++i) yo[i] = arithF<kOp>(av, bo[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) yo[i] = arithF<kOp>(ao[i * sa], bo[i * sb]);
    }
  });
}

bool runFloatFast(Bin op, const BroadcastPlan& p, const float* a, const float* b, float* y) {
  switch (op) {
    case Bin::kAdd:
      floatRows<Bin::kAdd>(p, a, b, y);
      return true;
    case Bin::kSub:
      floatRows<Bin::kSub>(p, a, b, y);
      return true;
    case Bin::kMul:
      floatRows<Bin::kMul>(p, a, b, y);
      return true;
    case Bin::kDiv:
      floatRows<Bin::kDiv>(p, a, b, y);
      return true;
    default:
      return false;
  }
}

Status runBinary(const BinaryParams& p, const KernelArgs& a) {
  const Bin op = p.op;
  if (!p.variadic && a.in[0].dtype == DataType::kFloat32 &&
      runFloatFast(op, p.plans[0], a.in[0].as<float>(), a.in[1].as<float>(), a.out[0].as<float>()))
    return Status::Ok();
  if (isCompare(op) || isLogic(op)) {
    dispatch<kAll>(a.in[0].dtype, [&]<class T>() {
      loop2(p.plans[0], a.in[0].as<T>(), a.in[1].as<T>(), a.out[0].as<bool>(),
            [op](T x, T y) { return applyCompare(op, Num<T>::load(x), Num<T>::load(y)); });
    });
    return Status::Ok();
  }
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    T* y = a.out[0].as<T>();
    auto f = [op](T x, T v) {
      return Num<T>::store(applyArith(op, Num<T>::load(x), Num<T>::load(v)));
    };
    if (!p.variadic) {
      loop2(p.plans[0], a.in[0].as<T>(), a.in[1].as<T>(), y, f);
      return;
    }
    // Variadic: broadcast-copy the first input, then fold the others in.
    loop2(p.plans[0], y, a.in[0].as<T>(), y, [](T, T v) { return v; });
    for (size_t k = 1; k < a.in.size(); ++k) loop2(p.plans[k], y, a.in[k].as<T>(), y, f);
  });
  return Status::Ok();
}

// Mean divides the variadic Sum by the input count.
Status runMean(const BinaryParams& p, const KernelArgs& a) {
  EDGERT_RETURN_IF_ERROR(runBinary(p, a));
  const int64_t n = a.out[0].numel();
  const double k = static_cast<double>(a.in.size());
  dispatch<kFloats>(a.out[0].dtype, [&]<class T>() {
    T* y = a.out[0].as<T>();
    for (int64_t i = 0; i < n; ++i)
      y[i] = Num<T>::store(static_cast<typename Num<T>::C>(Num<T>::load(y[i]) / k));
  });
  return Status::Ok();
}

template <Bin kOp>
struct BinaryDef {
  static constexpr uint32_t types() {
    if (isLogic(kOp)) return kBoolT;
    if (isCompare(kOp)) return kAll;
    if (kOp == Bin::kPRelu) return kFloats | kI32 | kI64;
    return kNumeric;
  }
  static Status infer(NodeContext& c) {
    EDGERT_RETURN_IF_ERROR(requireType(c, 0, types()));
    if (c.dtype(1) != c.dtype(0))
      return c.invalid("inputs have different dtypes (", dataTypeName(c.dtype(0)), " and ",
                       dataTypeName(c.dtype(1)), ")");
    if (kOp == Bin::kMod || kOp == Bin::kFMod) {
      int64_t fmod;
      EDGERT_TRY_ATTR(fmod, attrInt(c, "fmod", 0));
      if (!fmod && (typeBit(c.dtype(0)) & kFloats))
        return c.invalid("fmod must be 1 for floating point inputs");
    }
    Dims out;
    EDGERT_TRY_ATTR(out, broadcastDims(c, c.dims(0), c.dims(1)));
    if (kOp == Bin::kPRelu && out != c.dims(0))
      return c.invalid("slope ", dimsToString(c.dims(1)), " does not broadcast to the input ",
                       dimsToString(c.dims(0)));
    c.setOutput(0, isCompare(kOp) || isLogic(kOp) ? DataType::kBool : c.dtype(0), out);
    return Status::Ok();
  }
  static Result<std::unique_ptr<Kernel>> create(const NodeContext& c) {
    BinaryParams p;
    p.op = kOp;
    if (kOp == Bin::kMod && c.attrs->getInt("fmod", 0).value()) p.op = Bin::kFMod;
    p.plans.push_back(makeBroadcastPlan(c.out[0].dims, {&c.dims(0), &c.dims(1)}));
    return makeKernel(std::move(p), &runBinary);
  }
};

template <Bin kOp, bool kMean = false>
struct VariadicDef {
  static Status infer(NodeContext& c) {
    EDGERT_RETURN_IF_ERROR(requireType(c, 0, kMean ? kFloats : kNumeric));
    Dims out = c.dims(0);
    for (size_t i = 1; i < c.numInputs(); ++i) {
      if (!c.has(i)) return c.invalid("input ", i, " is missing");
      if (c.dtype(i) != c.dtype(0)) return c.invalid("inputs have different dtypes");
      EDGERT_TRY_ATTR(out, broadcastDims(c, out, c.dims(i)));
    }
    c.setOutput(0, c.dtype(0), out);
    return Status::Ok();
  }
  static Result<std::unique_ptr<Kernel>> create(const NodeContext& c) {
    BinaryParams p;
    p.op = kOp;
    p.variadic = true;
    const Dims& out = c.out[0].dims;
    for (size_t i = 0; i < c.numInputs(); ++i)
      p.plans.push_back(makeBroadcastPlan(out, {&out, &c.dims(i)}));
    return makeKernel(std::move(p), kMean ? &runMean : &runBinary);
  }
};

// Pow allows different base and exponent dtypes; it computes in double.
struct PowParams {
  BroadcastPlan plan;
};
double loadAsDouble(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DataType::kFloat32:
      return t.as<float>()[i];
    case DataType::kFloat64:
      return t.as<double>()[i];
    case DataType::kFloat16:
      return halfToFloat(t.as<uint16_t>()[i]);
    case DataType::kInt64:
      return static_cast<double>(t.as<int64_t>()[i]);
    case DataType::kInt32:
      return t.as<int32_t>()[i];
    case DataType::kInt8:
      return t.as<int8_t>()[i];
    case DataType::kUInt8:
      return t.as<uint8_t>()[i];
    default:
      return 0;
  }
}
Status runPow(const PowParams& p, const KernelArgs& a) {
  dispatch<kNumeric>(a.out[0].dtype, [&]<class T>() {
    T* y = a.out[0].as<T>();
    forEachBroadcastRow(p.plan, [&](int64_t o, int64_t oa, int64_t ob, int64_t, int64_t n,
                                    int64_t sa, int64_t sb, int64_t) {
      for (int64_t i = 0; i < n; ++i) {
        const double v =
            std::pow(loadAsDouble(a.in[0], oa + i * sa), loadAsDouble(a.in[1], ob + i * sb));
        y[o + i] = Num<T>::store(static_cast<typename Num<T>::C>(v));
      }
    });
  });
  return Status::Ok();
}
Status inferPow(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  EDGERT_RETURN_IF_ERROR(requireType(c, 1, kNumeric));
  Dims out;
  EDGERT_TRY_ATTR(out, broadcastDims(c, c.dims(0), c.dims(1)));
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createPow(const NodeContext& c) {
  return makeKernel(PowParams{makeBroadcastPlan(c.out[0].dims, {&c.dims(0), &c.dims(1)})}, &runPow);
}

// Where(cond, x, y)
struct WhereParams {
  BroadcastPlan plan;
};
Status runWhere(const WhereParams& p, const KernelArgs& a) {
  const bool* cond = a.in[0].as<bool>();
  dispatch<kAll>(a.out[0].dtype, [&]<class T>() {
    const T* x = a.in[1].as<T>();
    const T* y = a.in[2].as<T>();
    T* out = a.out[0].as<T>();
    forEachBroadcastRow(p.plan, [&](int64_t o, int64_t oc, int64_t ox, int64_t oy, int64_t n,
                                    int64_t sc, int64_t sx, int64_t sy) {
      for (int64_t i = 0; i < n; ++i)
        out[o + i] = cond[oc + i * sc] ? x[ox + i * sx] : y[oy + i * sy];
    });
  });
  return Status::Ok();
}
Status inferWhere(NodeContext& c) {
  if (c.dtype(0) != DataType::kBool) return c.invalid("condition must be bool");
  EDGERT_RETURN_IF_ERROR(requireType(c, 1, kAll));
  if (c.dtype(1) != c.dtype(2)) return c.invalid("X and Y have different dtypes");
  Dims out;
  EDGERT_TRY_ATTR(out, broadcastDims(c, c.dims(0), c.dims(1)));
  EDGERT_TRY_ATTR(out, broadcastDims(c, out, c.dims(2)));
  c.setOutput(0, c.dtype(1), out);
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createWhere(const NodeContext& c) {
  return makeKernel(
      WhereParams{makeBroadcastPlan(c.out[0].dims, {&c.dims(0), &c.dims(1), &c.dims(2)})},
      &runWhere);
}

}  // namespace

#define EDGERT_BINARY(NAME, OP)    \
  extern const OpDef kOp##NAME = { \
      #NAME, 2, 2, 1, 1, 0, BinaryDef<OP>::infer, BinaryDef<OP>::create};
#define EDGERT_VARIADIC(NAME, OP, MEAN) \
  extern const OpDef kOp##NAME = {      \
      #NAME, 1, -1, 1, 1, 0, VariadicDef<OP, MEAN>::infer, VariadicDef<OP, MEAN>::create};

EDGERT_BINARY(Add, Bin::kAdd)
EDGERT_BINARY(Sub, Bin::kSub)
EDGERT_BINARY(Mul, Bin::kMul)
EDGERT_BINARY(Div, Bin::kDiv)
EDGERT_BINARY(Mod, Bin::kMod)
EDGERT_BINARY(Equal, Bin::kEq)
EDGERT_BINARY(Less, Bin::kLt)
EDGERT_BINARY(Greater, Bin::kGt)
EDGERT_BINARY(LessOrEqual, Bin::kLe)
EDGERT_BINARY(GreaterOrEqual, Bin::kGe)
EDGERT_BINARY(And, Bin::kAnd)
EDGERT_BINARY(Or, Bin::kOr)
EDGERT_BINARY(Xor, Bin::kXor)
EDGERT_BINARY(PRelu, Bin::kPRelu)
EDGERT_VARIADIC(Max, Bin::kMax, false)
EDGERT_VARIADIC(Min, Bin::kMin, false)
EDGERT_VARIADIC(Sum, Bin::kAdd, false)
EDGERT_VARIADIC(Mean, Bin::kAdd, true)
extern const OpDef kOpPow = {"Pow", 2, 2, 1, 1, 0, inferPow, createPow};
extern const OpDef kOpWhere = {"Where", 3, 3, 1, 1, 0, inferWhere, createWhere};

}  // namespace edgert::ops
