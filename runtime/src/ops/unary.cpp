// Elementwise unary ops: activations and math functions. Each is a small functor; the
// shared template handles dtype dispatch (float16 computes in float32).
#include "op_util.h"

namespace edgert::ops {
namespace {

struct UnaryParams {
  float alpha = 0.f, beta = 0.f, gamma = 0.f;
  bool tanh_approx = false;
};

Status noParams(const NodeContext&, UnaryParams&) {
  return Status::Ok();
}

template <class Op>
Status parseParams(const NodeContext& c, UnaryParams& p) {
  if constexpr (requires { Op::parse(c, p); }) return Op::parse(c, p);
  return noParams(c, p);
}

template <class Op>
Status runUnary(const UnaryParams& p, const KernelArgs& a) {
  const int64_t n = a.in[0].numel();
  dispatch<Op::kTypes>(a.in[0].dtype, [&]<class T>() {
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    using C = typename Num<T>::C;
    for (int64_t i = 0; i < n; ++i) y[i] = Num<T>::store(Op::template f<C>(Num<T>::load(x[i]), p));
  });
  return Status::Ok();
}

template <class Op>
Status inferUnary(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, Op::kTypes));
  UnaryParams p;
  EDGERT_RETURN_IF_ERROR(parseParams<Op>(c, p));
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}

template <class Op>
Result<std::unique_ptr<Kernel>> createUnary(const NodeContext& c) {
  UnaryParams p;
  EDGERT_RETURN_IF_ERROR(parseParams<Op>(c, p));
  return makeKernel(p, &runUnary<Op>);
}

template <class C>
C sigmoidOf(C x) {
  return x >= C(0) ? C(1) / (C(1) + std::exp(-x)) : std::exp(x) / (C(1) + std::exp(x));
}

#define FLOAT_FN(NAME, EXPR)                    \
  struct NAME {                                 \
    static constexpr uint32_t kTypes = kFloats; \
    template <class C>                          \
    static C f(C x, const UnaryParams& p) {     \
      (void)p;                                  \
      return EXPR;                              \
    }                                           \
  };

#define ALPHA_PARSER(DEFAULT)                                 \
  static Status parse(const NodeContext& c, UnaryParams& p) { \
    EDGERT_TRY_ATTR(p.alpha, attrFloat(c, "alpha", DEFAULT)); \
    return Status::Ok();                                      \
  }

struct ReluFn {
  static constexpr uint32_t kTypes = kF32 | kF64 | kF16 | kI32 | kI64 | kI8;
  template <class C>
  static C f(C x, const UnaryParams&) {
    return x > C(0) ? x : C(0);
  }
};
struct LeakyReluFn {
  static constexpr uint32_t kTypes = kFloats;
  ALPHA_PARSER(0.01f)
  template <class C>
  static C f(C x, const UnaryParams& p) {
    return x >= C(0) ? x : x * C(p.alpha);
  }
};
struct EluFn {
  static constexpr uint32_t kTypes = kFloats;
  ALPHA_PARSER(1.0f)
  template <class C>
  static C f(C x, const UnaryParams& p) {
    return x >= C(0) ? x : C(p.alpha) * (std::exp(x) - C(1));
  }
};
struct CeluFn {
  static constexpr uint32_t kTypes = kFloats;
  ALPHA_PARSER(1.0f)
  template <class C>
  static C f(C x, const UnaryParams& p) {
    const C a = C(p.alpha);
    return std::max(C(0), x) + std::min(C(0), a * (std::exp(x / a) - C(1)));
  }
};
struct ThresholdedReluFn {
  static constexpr uint32_t kTypes = kFloats;
  ALPHA_PARSER(1.0f)
  template <class C>
  static C f(C x, const UnaryParams& p) {
    return x > C(p.alpha) ? x : C(0);
  }
};
struct SeluFn {
  static constexpr uint32_t kTypes = kFloats;
  static Status parse(const NodeContext& c, UnaryParams& p) {
    EDGERT_TRY_ATTR(p.alpha, attrFloat(c, "alpha", 1.67326319217681884765625f));
    EDGERT_TRY_ATTR(p.gamma, attrFloat(c, "gamma", 1.05070102214813232421875f));
    return Status::Ok();
  }
  template <class C>
  static C f(C x, const UnaryParams& p) {
    return C(p.gamma) * (x > C(0) ? x : C(p.alpha) * (std::exp(x) - C(1)));
  }
};
struct HardSigmoidFn {
  static constexpr uint32_t kTypes = kFloats;
  static Status parse(const NodeContext& c, UnaryParams& p) {
    EDGERT_TRY_ATTR(p.alpha, attrFloat(c, "alpha", 0.2f));
    EDGERT_TRY_ATTR(p.beta, attrFloat(c, "beta", 0.5f));
    return Status::Ok();
  }
  template <class C>
  static C f(C x, const UnaryParams& p) {
    return std::max(C(0), std::min(C(1), C(p.alpha) * x + C(p.beta)));
  }
};
struct HardSwishFn {
  static constexpr uint32_t kTypes = kFloats;
  template <class C>
  static C f(C x, const UnaryParams&) {
    return x * std::max(C(0), std::min(C(1), x / C(6) + C(0.5)));
  }
};
struct ShrinkFn {
  static constexpr uint32_t kTypes = kFloats | kInts;
  static Status parse(const NodeContext& c, UnaryParams& p) {
    EDGERT_TRY_ATTR(p.alpha, attrFloat(c, "lambd", 0.5f));
    EDGERT_TRY_ATTR(p.beta, attrFloat(c, "bias", 0.0f));
    return Status::Ok();
  }
  template <class C>
  static C f(C x, const UnaryParams& p) {
    const double v = static_cast<double>(x);
    if (v < -p.alpha) return static_cast<C>(v + p.beta);
    if (v > p.alpha) return static_cast<C>(v - p.beta);
    return C(0);
  }
};
struct GeluFn {
  static constexpr uint32_t kTypes = kFloats;
  static Status parse(const NodeContext& c, UnaryParams& p) {
    std::string approx;
    EDGERT_TRY_ATTR(approx, attrStr(c, "approximate", "none"));
    if (approx != "none" && approx != "tanh")
      return c.invalid("approximate must be 'none' or 'tanh', got '", approx, "'");
    p.tanh_approx = approx == "tanh";
    return Status::Ok();
  }
  template <class C>
  static C f(C x, const UnaryParams& p) {
    if (p.tanh_approx) {
      const C k = C(0.7978845608028654);  // sqrt(2/pi)
      return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
    }
    return C(0.5) * x * (C(1) + std::erf(x * C(0.7071067811865476)));
  }
};
struct AbsFn {
  static constexpr uint32_t kTypes = kNumeric;
  template <class C>
  static C f(C x, const UnaryParams&) {
    if constexpr (std::is_unsigned_v<C>)
      return x;
    else
      return x < C(0) ? C(-x) : x;
  }
};
struct NegFn {
  static constexpr uint32_t kTypes = kF32 | kF64 | kF16 | kI64 | kI32 | kI8;
  template <class C>
  static C f(C x, const UnaryParams&) {
    return C(-x);
  }
};
struct SignFn {
  static constexpr uint32_t kTypes = kNumeric;
  template <class C>
  static C f(C x, const UnaryParams&) {
    return C((x > C(0)) - (x < C(0)));
  }
};
struct NotFn {
  static constexpr uint32_t kTypes = kBoolT;
  template <class C>
  static C f(C x, const UnaryParams&) {
    return !x;
  }
};

FLOAT_FN(SigmoidFn, sigmoidOf(x))
FLOAT_FN(TanhFn, std::tanh(x))
FLOAT_FN(SoftplusFn, x > C(20) ? x : std::log1p(std::exp(x)))
FLOAT_FN(SoftsignFn, x / (C(1) + std::abs(x)))
FLOAT_FN(ErfFn, std::erf(x))
FLOAT_FN(ExpFn, std::exp(x))
FLOAT_FN(LogFn, std::log(x))
FLOAT_FN(SqrtFn, std::sqrt(x))
FLOAT_FN(ReciprocalFn, C(1) / x)
FLOAT_FN(FloorFn, std::floor(x))
FLOAT_FN(CeilFn, std::ceil(x))
FLOAT_FN(RoundFn, std::nearbyint(x))
FLOAT_FN(SinFn, std::sin(x))
FLOAT_FN(CosFn, std::cos(x))
FLOAT_FN(TanFn, std::tan(x))
FLOAT_FN(AsinFn, std::asin(x))
FLOAT_FN(AcosFn, std::acos(x))
FLOAT_FN(AtanFn, std::atan(x))
FLOAT_FN(SinhFn, std::sinh(x))
FLOAT_FN(CoshFn, std::cosh(x))
FLOAT_FN(AsinhFn, std::asinh(x))
FLOAT_FN(AcoshFn, std::acosh(x))
FLOAT_FN(AtanhFn, std::atanh(x))

// Identity and inference-mode Dropout copy their input; Dropout's optional mask is all true.
Status inferCopy(NodeContext& c) {
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}
Status runCopy(const int&, const KernelArgs& a) {
  if (a.in[0].data != a.out[0].data && a.in[0].bytes())
    std::memcpy(a.out[0].data, a.in[0].data, a.in[0].bytes());
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createCopy(const NodeContext&) {
  return makeKernel(0, &runCopy);
}

Status inferDropout(NodeContext& c) {
  if (const HostTensor* t = c.constant(2); t && t->numel() == 1 && t->intAt(0) != 0)
    return c.unsupported("training_mode=true is not supported (inference only)");
  if (c.has(2) && !c.constant(2)) return c.unsupported("training_mode must be a constant");
  c.setOutput(0, c.dtype(0), c.dims(0));
  c.setOutput(1, DataType::kBool, c.dims(0));
  return Status::Ok();
}
Status runDropout(const int&, const KernelArgs& a) {
  EDGERT_RETURN_IF_ERROR(runCopy(0, a));
  if (a.out.size() > 1 && a.out[1].data) std::memset(a.out[1].data, 1, a.out[1].bytes());
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createDropout(const NodeContext&) {
  return makeKernel(0, &runDropout);
}

// Clip's bounds are optional inputs (opset 11+); the importer turns older attributes
// into inputs. Bounds may be runtime scalars, so they are read at run time.
Status inferClip(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  for (size_t i = 1; i < 3; ++i) {
    if (!c.has(i)) continue;
    if (c.dtype(i) != c.dtype(0)) return c.invalid("min/max must have the input's dtype");
    if (volume(c.dims(i)) != 1) return c.invalid("min/max must be scalars");
  }
  c.setOutput(0, c.dtype(0), c.dims(0));
  return Status::Ok();
}
Status runClip(const int&, const KernelArgs& a) {
  const int64_t n = a.in[0].numel();
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    using C = typename Num<T>::C;
    C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
    if (a.in.size() > 1 && a.in[1].data) lo = Num<T>::load(*a.in[1].as<T>());
    if (a.in.size() > 2 && a.in[2].data) hi = Num<T>::load(*a.in[2].as<T>());
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t i = 0; i < n; ++i) {
      const C v = Num<T>::load(x[i]);
      y[i] = Num<T>::store(v < lo ? lo : (v > hi ? hi : v));
    }
  });
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createClip(const NodeContext&) {
  return makeKernel(0, &runClip);
}

}  // namespace

#define EDGERT_UNARY(NAME)         \
  extern const OpDef kOp##NAME = { \
      #NAME, 1, 1, 1, 1, 0, inferUnary<NAME##Fn>, createUnary<NAME##Fn>};

EDGERT_UNARY(Relu)
EDGERT_UNARY(LeakyRelu)
EDGERT_UNARY(Elu)
EDGERT_UNARY(Celu)
EDGERT_UNARY(ThresholdedRelu)
EDGERT_UNARY(Selu)
EDGERT_UNARY(HardSigmoid)
EDGERT_UNARY(HardSwish)
EDGERT_UNARY(Shrink)
EDGERT_UNARY(Gelu)
EDGERT_UNARY(Sigmoid)
EDGERT_UNARY(Tanh)
EDGERT_UNARY(Softplus)
EDGERT_UNARY(Softsign)
EDGERT_UNARY(Erf)
EDGERT_UNARY(Exp)
EDGERT_UNARY(Log)
EDGERT_UNARY(Sqrt)
EDGERT_UNARY(Reciprocal)
EDGERT_UNARY(Floor)
EDGERT_UNARY(Ceil)
EDGERT_UNARY(Round)
EDGERT_UNARY(Sin)
EDGERT_UNARY(Cos)
EDGERT_UNARY(Tan)
EDGERT_UNARY(Asin)
EDGERT_UNARY(Acos)
EDGERT_UNARY(Atan)
EDGERT_UNARY(Sinh)
EDGERT_UNARY(Cosh)
EDGERT_UNARY(Asinh)
EDGERT_UNARY(Acosh)
EDGERT_UNARY(Atanh)
EDGERT_UNARY(Abs)
EDGERT_UNARY(Neg)
EDGERT_UNARY(Sign)
EDGERT_UNARY(Not)
extern const OpDef kOpIdentity = {"Identity", 1, 1, 1, 1, 0, inferCopy, createCopy};
extern const OpDef kOpDropout = {"Dropout", 1, 3, 1, 2, 0b110, inferDropout, createDropout};
extern const OpDef kOpClip = {"Clip", 1, 3, 1, 1, 0, inferClip, createClip};

}  // namespace edgert::ops
