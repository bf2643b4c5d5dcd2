// libFuzzer: .npy parsing.
#include <cstdint>

#include "edgert/internal/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::parseNpy(data, size, "fuzz.npy");
  return 0;
}
