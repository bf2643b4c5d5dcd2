// libFuzzer: build YAML parsing.
#include <cstdint>
#include <string>

#include "build_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)edgert::parseBuildConfig(std::string(reinterpret_cast<const char*>(data), size),
                                 "fuzz.yaml", "/nonexistent");
  return 0;
}
