// Building from a graph already in memory: what buildEngine does after importing ONNX. Tests
// use it to build graphs of edgert's internal ops (EdgertQConv...), which ONNX files cannot
// name.
#pragma once

#include <string>
#include <vector>

#include "edgert/builder.h"
#include "onnx_import.h"

namespace edgert {

Result<std::vector<uint8_t>> buildFromGraph(ImportedModel model, const std::string& origin,
                                            const BuildOptions& options,
                                            BuildReport* report = nullptr);

}  // namespace edgert
