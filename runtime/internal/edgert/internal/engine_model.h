// An engine in memory: the graph with its shapes resolved, the memory plan, the target
// it was built for and how it was built. engine_file.{h,cpp} (de)serialise it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgert/internal/graph.h"
#include "edgert/status.h"

namespace edgert {

inline constexpr uint32_t kEngineFormatVersion = 1;

struct EngineTarget {
  std::string backend = "cpu";   // "cpu" or "cuda"
  std::string cpu_arch = "any";  // "any" for portable CPU engines
  std::vector<int> sm;           // CUDA compute capabilities
  std::string toString() const;
};

struct EngineModel {
  Graph graph;
  MemoryPlan plan;
  EngineTarget target;
  std::string edgert_version;
  std::string source;
  std::string build_options_json;
};

// The architecture this binary runs on ("x86_64", "aarch64", ...).
const char* hostCpuArch();

// Serialises to the on-disk format (header + flatbuffer + weights, checksummed).
Result<std::vector<uint8_t>> serializeEngine(const EngineModel& model);

// A file's bytes in 64-byte aligned memory, so weights can be used where they lie.
struct FileBytes {
  AlignedBuffer data;
  size_t size = 0;
};

// Copies bytes into 64-byte aligned memory (deserializing from caller memory).
Result<std::shared_ptr<const FileBytes>> copyFileBytes(const void* data, size_t size,
                                                       const std::string& origin);

// Verifies and parses; errors are prefixed with `origin` (the file name). The returned
// model's constants point into `bytes`, which it keeps alive.
Result<EngineModel> deserializeEngine(std::shared_ptr<const FileBytes> bytes,
                                      const std::string& origin);

// Human-readable, layer by layer (`edgert inspect`).
std::string describeEngine(const EngineModel& model, const std::string& origin);

// Reads a whole file into aligned memory; refuses files larger than max_bytes.
Result<std::shared_ptr<const FileBytes>> readFileBytes(const std::string& path, uint64_t max_bytes);

// Writes `bytes` to `path` via a temporary file in the same folder and a rename, so an
// interrupted write never leaves a partial file under the final name.
Status writeFileAtomically(const std::string& path, const void* data, size_t size);

}  // namespace edgert
