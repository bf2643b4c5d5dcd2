// libFuzzer: engine loading, context creation and one execution must never crash.
#include <cstdint>

#include "edgert/edgert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto rt = [] {
    edgert::RuntimeOptions o;
    o.backend = edgert::Backend::kCpu;
    o.log = [](edgert::LogSeverity, const std::string&) {};
    return std::move(edgert::Runtime::create(o).value());
  }();
  auto e = rt->deserializeEngine(data, size, "fuzz.engine");
  if (!e.ok()) return 0;
  auto ctx = e.value()->createExecutionContext();
  if (ctx.ok() && ctx.value()->deviceMemoryBytes() < (64u << 20)) (void)ctx.value()->execute();
  (void)e.value()->describe();
  return 0;
}
