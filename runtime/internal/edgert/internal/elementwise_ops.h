// Which ONNX elementwise nodes the shared elementwise math (kernels/elementwise_math.h)
// computes, and with which op code and parameters: one table for the CUDA layers and the
// builder's chain fusion.
#pragma once

#include <optional>

#include "edgert/internal/op.h"

namespace edgert {

struct UnaryKernelOp {
  int code = 0;  // EdgertUnary
  float a = 0, b = 0;
  bool has_params = false;  // a and b mean something (alpha/beta, clip bounds)
};

// Relu, Sigmoid, Clip with constant bounds, LeakyRelu(alpha), Gelu(approximate) ...;
// nullopt for any other node.
std::optional<UnaryKernelOp> unaryKernelOp(const NodeContext& c);

// Add, Sub, Mul, Div, Pow, PRelu, and two-input Max / Min as an EdgertBinary code.
std::optional<int> binaryKernelOp(const NodeContext& c);

}  // namespace edgert
