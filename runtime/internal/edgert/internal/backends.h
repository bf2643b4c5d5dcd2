// What the builder may ask of the backends compiled into libedgert.
#pragma once

#include <vector>

#include "edgert/internal/op.h"
#include "edgert/status.h"

namespace edgert {

// OK when the CUDA backend is compiled in and this machine has a GPU, cuDNN and cuBLASLt.
Status cudaAvailable();
// Compute capabilities of this machine's GPUs (10*major+minor); empty without one.
std::vector<int> cudaDeviceSms();
// Whether a node (with shapes) has a CUDA implementation; false without the CUDA backend.
bool cudaSupportsNode(const NodeContext& node);

}  // namespace edgert
