// The fused epilogue of Conv and Gemm layers (set by the builder's fusion pass):
// y = act(x + bias + residual); the activation's name and parameters are the node's
// `_act`, `_act_alpha`, `_act_beta` attributes, the residual its input 3 (Conv only).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "op_util.h"

namespace edgert::ops {

enum class Act {
  kNone,
  kRelu,
  kClip,
  kLeakyRelu,
  kHardSwish,
  kHardSigmoid,
  kSigmoid,
  kSilu,
  kGelu,
  kGeluTanh
};

struct Epilogue {
  Act act = Act::kNone;
  float alpha = 0.f, beta = 0.f;
  bool residual = false;
};

inline Result<Epilogue> parseEpilogue(const NodeContext& c) {
  Epilogue e;
  std::string act;
  EDGERT_TRY_ATTR(act, attrStr(c, "_act", ""));
  EDGERT_TRY_ATTR(e.alpha, attrFloat(c, "_act_alpha", 0.f));
  EDGERT_TRY_ATTR(e.beta, attrFloat(c, "_act_beta", 0.f));
  static const std::pair<const char*, Act> kActs[] = {{"", Act::kNone},
                                                      {"Relu", Act::kRelu},
                                                      {"Clip", Act::kClip},
                                                      {"LeakyRelu", Act::kLeakyRelu},
                                                      {"HardSwish", Act::kHardSwish},
                                                      {"HardSigmoid", Act::kHardSigmoid},
                                                      {"Sigmoid", Act::kSigmoid},
                                                      {"Silu", Act::kSilu},
                                                      {"Gelu", Act::kGelu},
                                                      {"GeluTanh", Act::kGeluTanh}};
  bool found = false;
  for (const auto& [name, a] : kActs)
    if (act == name) {
      e.act = a;
      found = true;
    }
  if (!found) return c.invalid("fused activation '", act, "' is unknown");
  e.residual = c.has(3);
  return e;
}

inline float applyAct(const Epilogue& e, float v) {
  switch (e.act) {
    case Act::kNone:
      return v;
    case Act::kRelu:
      return v > 0.f ? v : 0.f;
    case Act::kClip:
      return std::min(e.beta, std::max(e.alpha, v));
    case Act::kLeakyRelu:
      return v >= 0.f ? v : e.alpha * v;
    case Act::kHardSwish:
      return v * std::max(0.f, std::min(1.f, v / 6.f + 0.5f));
    case Act::kHardSigmoid:
      return std::max(0.f, std::min(1.f, e.alpha * v + e.beta));
    case Act::kSigmoid:
      return 1.f / (1.f + std::exp(-v));
    case Act::kSilu:
      return v / (1.f + std::exp(-v));
    case Act::kGelu:  // the formulas of the Gelu op (unary.cpp)
      return 0.5f * v * (1.f + std::erf(v * 0.7071067811865476f));
    case Act::kGeluTanh:
      return 0.5f * v * (1.f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
  }
  return v;
}

}  // namespace edgert::ops
