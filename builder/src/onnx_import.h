// ONNX -> edgert Graph. Normalises every opset's variant of an op into the newest form
// (attributes that became inputs, Upsample -> Resize, ...), resolves external data
// safely, and lists all unsupported ops at once.
#pragma once

#include <map>
#include <string>

#include "edgert/builder.h"
#include "edgert/internal/graph.h"

namespace edgert {

struct ImportedModel {
  Graph graph;  // nodes as imported (not yet shape-checked); input dims may be -1
  int64_t opset = 0;
  std::string producer;
  std::vector<int> graph_outputs;
};

Result<ImportedModel> importOnnx(const std::string& path);
// The same from bytes; `origin` names them in errors and `base_dir` resolves external data
// (empty: external data is refused).
Result<ImportedModel> importOnnxBytes(const void* data, size_t size, const std::string& origin,
                                      const std::string& base_dir);

}  // namespace edgert
