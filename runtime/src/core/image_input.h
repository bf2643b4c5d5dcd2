// setImageInput's shared half: argument checks and the kernel parameter block, plus the
// CPU implementation (the CUDA one runs the same per-pixel code as a kernel).
#pragma once

#include <cstddef>

#include "../../../kernels/image_sample.h"
#include "edgert/edgert.h"
#include "engine_impl.h"

namespace edgert {

struct ImageJob {
  EdgertImage params;                 // planes hold host addresses
  size_t item_offset = 0;             // elements from the binding's start to batch item `batch`
  size_t plane_bytes[3] = {0, 0, 0};  // bytes to read from each plane
};

Result<ImageJob> prepareImageJob(const EngineImpl& engine, const std::string& name, int batch,
                                 const ImageFrame& frame, const ImagePlacement& placement);

void runImageJobCpu(const EdgertImage& params, float* item);

}  // namespace edgert
