#include "edgert/internal/host_tensor.h"

#include <cstdlib>
#include <limits>

#include "edgert/internal/half.h"
#include "edgert/internal/str.h"

namespace edgert {

void AlignedFree::operator()(void* p) const {
  std::free(p);
}

AlignedBuffer allocateAligned(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (p) std::memset(p, 0, rounded);
  return AlignedBuffer(static_cast<uint8_t*>(p));
}

Result<HostTensor> HostTensor::create(DataType dtype, Dims dims) {
  const size_t esize = dataTypeSize(dtype);
  if (esize == 0) return Status(StatusCode::kInvalidArgument, "tensor of undefined dtype");
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) {
      return Status(StatusCode::kInvalidArgument,
                    strCat("tensor dims ", dimsToString(dims), " are not static"));
    }
    if (d != 0 && n > std::numeric_limits<uint64_t>::max() / esize / static_cast<uint64_t>(d)) {
      return Status(StatusCode::kOutOfMemory,
                    strCat("tensor dims ", dimsToString(dims), " overflow"));
    }
    n *= static_cast<uint64_t>(d);
  }
  HostTensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  const uint64_t bytes = n * esize;
  if (bytes > 0) {
    t.owned_ = allocateAligned(bytes);
    if (!t.owned_) {
      return Status(StatusCode::kOutOfMemory, strCat("cannot allocate ", bytes, " bytes"));
    }
  }
  return t;
}

HostTensor HostTensor::view(DataType dtype, Dims dims, const void* data,
                            std::shared_ptr<const void> keepalive) {
  HostTensor t;
  t.dtype_ = dtype;
  t.dims_ = std::move(dims);
  t.external_ = data;
  t.keepalive_ = std::move(keepalive);
  return t;
}

int64_t HostTensor::intAt(int64_t i) const {
  const void* p = data();
  switch (dtype_) {
    case DataType::kInt64:
      return static_cast<const int64_t*>(p)[i];
    case DataType::kInt32:
      return static_cast<const int32_t*>(p)[i];
    case DataType::kInt8:
      return static_cast<const int8_t*>(p)[i];
    case DataType::kUInt8:
      return static_cast<const uint8_t*>(p)[i];
    case DataType::kBool:
      return static_cast<const uint8_t*>(p)[i] != 0;
    default:
      return static_cast<int64_t>(doubleAt(i));
  }
}

double HostTensor::doubleAt(int64_t i) const {
  const void* p = data();
  switch (dtype_) {
    case DataType::kFloat32:
      return static_cast<const float*>(p)[i];
    case DataType::kFloat64:
      return static_cast<const double*>(p)[i];
    case DataType::kFloat16:
      return halfToFloat(static_cast<const uint16_t*>(p)[i]);
    default:
      return static_cast<double>(intAt(i));
  }
}

std::vector<int64_t> HostTensor::toInt64Vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = intAt(static_cast<int64_t>(i));
  return v;
}

HostTensor HostTensor::clone() const {
  HostTensor t = std::move(create(dtype_, dims_).value());
  if (bytes()) std::memcpy(t.mutableData(), data(), bytes());
  return t;
}

}  // namespace edgert
