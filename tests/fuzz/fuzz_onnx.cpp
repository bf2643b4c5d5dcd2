// libFuzzer: ONNX import and the whole build must never crash on any bytes.
#include <cstdint>

#include "onnx_import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto m = edgert::importOnnxBytes(data, size, "fuzz.onnx", "");
  (void)m;
  return 0;
}
