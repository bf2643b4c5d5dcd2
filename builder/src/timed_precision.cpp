#include "timed_precision.h"

#include <algorithm>

#include "edgert/edgert.h"
#include "edgert/internal/str.h"
#include "quantize_graph.h"

namespace edgert {

std::vector<BuildReport::TimedLayer> layersFasterInFp16(
    const std::vector<std::pair<std::string, double>>& int8_ms,
    const std::map<std::string, double>& fp16_ms,
    const std::map<std::string, std::string>& layer_precisions, double fraction) {
  std::vector<BuildReport::TimedLayer> out;
  for (const auto& [name, i8] : int8_ms) {
    if (layerPrecision(layer_precisions, name)) continue;
    auto f = fp16_ms.find(name);
    if (f != fp16_ms.end() && f->second < fraction * i8) out.push_back({name, i8, f->second});
  }
  return out;
}

std::vector<PrecisionChoice> precisionChoices(
    const std::vector<std::pair<std::string, double>>& int8_ms,
    const std::map<std::string, double>& fp16_ms,
    const std::map<std::string, std::string>& layer_precisions) {
  std::vector<PrecisionChoice> out;
  auto add = [&](const std::string& name, const std::vector<BuildReport::TimedLayer>& layers) {
    PrecisionChoice c{name, {}};
    for (const auto& l : layers) c.layers.insert(l.layer);
    if (c.layers.empty()) return;
    for (const PrecisionChoice& o : out)
      if (o.layers == c.layers) return;
    out.push_back(std::move(c));
  };
  const auto faster = layersFasterInFp16(int8_ms, fp16_ms, layer_precisions, kFasterInFp16);
  if (faster.empty()) return out;
  add("faster in FP16", faster);
  add("over 1.4x faster in FP16", layersFasterInFp16(int8_ms, fp16_ms, layer_precisions, 1 / 1.4));
  add("all FP16", layersFasterInFp16(int8_ms, fp16_ms, layer_precisions, 1e30));
  return out;
}

Result<double> medianEngineMs(const std::vector<uint8_t>& engine, const std::string& origin,
                              int iterations) {
  RuntimeOptions ro;
  ro.backend = Backend::kCuda;
  ro.log = [](LogSeverity, const std::string&) {};
  EDGERT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  EDGERT_ASSIGN_OR_RETURN(auto e, rt->deserializeEngine(engine.data(), engine.size(), origin));
  EDGERT_ASSIGN_OR_RETURN(auto ctx, e->createExecutionContext());
  // Zeros: uninitialised device memory could hold NaNs, whose float paths may run slower.
  for (const TensorInfo& t : e->bindings()) {
    if (!t.is_input) continue;
    const std::vector<uint8_t> zeros(t.bytes(), 0);
    EDGERT_RETURN_IF_ERROR(ctx->setInput(t.name, zeros.data(), zeros.size()));
  }
  EDGERT_ASSIGN_OR_RETURN(std::vector<double> ms, ctx->benchmark(5, iterations));
  if (ms.empty()) return Status(StatusCode::kInternal, strCat(origin, ": no timing"));
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace edgert
