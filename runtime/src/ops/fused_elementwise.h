// The EdgertElementwise program of a node, checked, as the kernels' parameter block
// (input addresses left to the caller). Shared by the CPU kernel and the CUDA layer.
#pragma once

#include "../../../kernels/kernel_params.h"
#include "edgert/internal/op.h"

namespace edgert::ops {

Result<EdgertFused> fusedProgram(const NodeContext& c);

}  // namespace edgert::ops
