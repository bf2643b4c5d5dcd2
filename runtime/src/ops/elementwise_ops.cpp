#include "edgert/internal/elementwise_ops.h"

#include <map>
#include <string_view>

#include "../../../kernels/kernel_params.h"

namespace edgert {

std::optional<UnaryKernelOp> unaryKernelOp(const NodeContext& c) {
  static const std::map<std::string_view, int> kOps = {{"Relu", kUnRelu},
                                                       {"Sigmoid", kUnSigmoid},
                                                       {"Tanh", kUnTanh},
                                                       {"LeakyRelu", kUnLeakyRelu},
                                                       {"HardSigmoid", kUnHardSigmoid},
                                                       {"HardSwish", kUnHardSwish},
                                                       {"Elu", kUnElu},
                                                       {"Exp", kUnExp},
                                                       {"Log", kUnLog},
                                                       {"Sqrt", kUnSqrt},
                                                       {"Neg", kUnNeg},
                                                       {"Abs", kUnAbs},
                                                       {"Erf", kUnErf},
                                                       {"Gelu", kUnGelu},
                                                       {"Softplus", kUnSoftplus},
                                                       {"Clip", kUnClip},
                                                       {"Reciprocal", kUnReciprocal},
                                                       {"Selu", kUnSelu},
                                                       {"Floor", kUnFloor},
                                                       {"Ceil", kUnCeil}};
  const auto it = kOps.find(c.op);
  if (it == kOps.end() || !c.has(0)) return std::nullopt;
  UnaryKernelOp u;
  u.code = it->second;
  const AttrMap& at = *c.attrs;
  switch (u.code) {
    case kUnLeakyRelu:
      u.a = at.getFloat("alpha", 0.01f).value();
      u.has_params = true;
      break;
    case kUnElu:
      u.a = at.getFloat("alpha", 1.f).value();
      u.has_params = true;
      break;
    case kUnHardSigmoid:
      u.a = at.getFloat("alpha", 0.2f).value();
      u.b = at.getFloat("beta", 0.5f).value();
      u.has_params = true;
      break;
    case kUnSelu:
      u.a = at.getFloat("alpha", 1.67326319217681884765625f).value();
      u.b = at.getFloat("gamma", 1.05070102214813232421875f).value();
      u.has_params = true;
      break;
    case kUnGelu:
      if (at.getString("approximate", "none").value() == "tanh") u.code = kUnGeluTanh;
      break;
    case kUnClip:
      // Bounds must be known at build time (absent: unbounded).
      if ((c.has(1) && !c.constant(1)) || (c.has(2) && !c.constant(2))) return std::nullopt;
      u.a = c.has(1) ? static_cast<float>(c.constant(1)->doubleAt(0)) : -3.402823466e38f;
      u.b = c.has(2) ? static_cast<float>(c.constant(2)->doubleAt(0)) : 3.402823466e38f;
      u.has_params = true;
      break;
    default:
      break;
  }
  return u;
}

std::optional<int> binaryKernelOp(const NodeContext& c) {
  static const std::map<std::string_view, int> kOps = {
      {"Add", kBiAdd}, {"Sub", kBiSub}, {"Mul", kBiMul}, {"Div", kBiDiv},
      {"Max", kBiMax}, {"Min", kBiMin}, {"Pow", kBiPow}, {"PRelu", kBiPRelu}};
  const auto it = kOps.find(c.op);
  if (it == kOps.end() || c.numInputs() != 2) return std::nullopt;
  return it->second;
}

}  // namespace edgert
