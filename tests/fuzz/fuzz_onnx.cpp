// libFuzzer: ONNX import and the whole build (shape inference, constant folding with the
// CPU kernels, planning, serialisation) must never crash on any bytes; an INT8 build as well,
// which takes a Q/DQ model's scales and weights apart (qdq_import.cpp) and quantises with them
// (without Q/DQ nodes it stops at once: no calibration data).
#include <cstdint>

#include "edgert/builder.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::buildEngineFromMemory(data, size, "fuzz.onnx", {});
  edgert::BuildOptions int8;
  int8.precision = "int8";
  (void)edgert::buildEngineFromMemory(data, size, "fuzz.onnx", int8);
  return 0;
}
