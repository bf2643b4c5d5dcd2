// libFuzzer: ONNX import and the whole build (shape inference, constant folding with the
// CPU kernels, planning, serialisation) must never crash on any bytes.
#include <cstdint>

#include "edgert/builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::buildEngineFromMemory(data, size, "fuzz.onnx", {});
  return 0;
}
