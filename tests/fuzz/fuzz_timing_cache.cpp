// libFuzzer: the tactic timing cache parser (a file users pass with --timing-cache).
#include <cstdint>
#include <string>

#include "timing_cache.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::parseTimingCache(std::string(reinterpret_cast<const char*>(data), size),
                                 "fuzz.cache");
  return 0;
}
