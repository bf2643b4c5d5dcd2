// NumPy .npy reading and writing (format versions 1-3, C order, little-endian).
#pragma once

#include <string>

#include "edgert/internal/host_tensor.h"

namespace edgert {

// Parses .npy bytes; `origin` names them in errors.
Result<HostTensor> parseNpy(const uint8_t* data, size_t size, const std::string& origin);
Result<HostTensor> readNpy(const std::string& path);
// Serialises (version 1.0 header).
std::string encodeNpy(DataType dtype, const Dims& dims, const void* data);
// Writes atomically (temp file + rename).
Status writeNpy(const std::string& path, DataType dtype, const Dims& dims, const void* data);

}  // namespace edgert
