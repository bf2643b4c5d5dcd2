// libFuzzer: the element YAML (edgertinfer) and the app YAML (edgert-app) parsers.
#include <cstdint>
#include <string>

#include "app_config.h"
#include "edgert/vision/element_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)edgert::vision::parseElementConfig(text, "fuzz.yaml", "/nonexistent");
  (void)edgert::app::parseAppConfig(text, "fuzz.yaml", "/nonexistent");
  return 0;
}
