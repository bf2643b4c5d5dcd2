// libFuzzer: the INT8 calibration cache parser (a file users pass with --calib-cache).
#include <cstdint>
#include <string>

#include "calib_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = edgert::parseCalibrationCache(std::string(reinterpret_cast<const char*>(data), size),
                                         "fuzz.calib");
  // What parses must format and parse back to exactly the same thresholds, means (%.17g is
  // exact) and rounding bits.
  if (c.ok()) {
    auto again = edgert::parseCalibrationCache(edgert::formatCalibrationCache(c.value()), "again");
    if (!again.ok() || again->thresholds != c->thresholds || again->means != c->means ||
        again->clipped_means != c->clipped_means || again->rounding != c->rounding ||
        again->model != c->model)
      __builtin_trap();
  }
  return 0;
}
