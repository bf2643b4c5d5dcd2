// Shared by the decoder files; not installed.
#pragma once

#include <string>
#include <vector>

#include "edgert/types.h"
#include "edgert/vision/decoders.h"

namespace edgert::vision {

std::string labelFor(const DecoderOptions& o, int class_id);

Status decodeDetections(const std::vector<TensorView>& outputs, const DecoderOptions& o,
                        const FrameTransform& t, FrameResult* r);
Status decodeTextRegions(const TensorView& prob, const DecoderOptions& o, const FrameTransform& t,
                         FrameResult* r);

}  // namespace edgert::vision
