// Element types and shapes shared by the runtime API and the builder.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace edgert {

// Values equal ONNX's TensorProto.DataType so files and tools agree without a table.
enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kInt32 = 6,
  kInt64 = 7,
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
};

// Bytes per element; 0 for kUndefined or an unknown value.
size_t dataTypeSize(DataType t);
// "float32", "int64", ...; "undefined" for anything else.
const char* dataTypeName(DataType t);
// True for the values above other than kUndefined (used to validate files).
bool isValidDataType(int32_t v);

// Dimensions of a tensor. A dim of -1 is dynamic (unknown until build or bind time).
using Dims = std::vector<int64_t>;

// Number of elements (1 for a scalar). Dynamic dims count as 0; saturates at INT64_MAX.
int64_t volume(const Dims& dims);
// "1x3x224x224"; dynamic dims print as "?" and a scalar as "scalar".
std::string dimsToString(const Dims& dims);

// Maximum tensor rank edgert accepts; kernels keep per-dim state in fixed arrays.
inline constexpr int kMaxRank = 8;
// Largest element count of one tensor edgert accepts (far beyond any vision model; keeps
// byte sizes far from 64-bit overflow).
inline constexpr int64_t kMaxTensorElements = int64_t{1} << 40;

}  // namespace edgert
