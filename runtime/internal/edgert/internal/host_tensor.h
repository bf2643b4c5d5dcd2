// HostTensor: an owned, 64-byte aligned host buffer with dtype and dims. Used for
// constants (weights, folded shape values) by the builder and the loaded engine.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "edgert/status.h"
#include "edgert/types.h"

namespace edgert {

struct AlignedFree {
  void operator()(void* p) const;
};
using AlignedBuffer = std::unique_ptr<uint8_t[], AlignedFree>;
// 64-byte aligned, zero-initialised; null if size is 0 or allocation failed.
AlignedBuffer allocateAligned(size_t bytes);

class HostTensor {
 public:
  HostTensor() = default;
  // Allocates zeroed storage; an error if the size overflows or allocation fails.
  static Result<HostTensor> create(DataType dtype, Dims dims);
  // Adopts external read-only memory (an engine's weight section); `keepalive` owns it.
  static HostTensor view(DataType dtype, Dims dims, const void* data,
                         std::shared_ptr<const void> keepalive);

  DataType dtype() const { return dtype_; }
  const Dims& dims() const { return dims_; }
  int64_t numel() const { return volume(dims_); }
  size_t bytes() const { return static_cast<size_t>(numel()) * dataTypeSize(dtype_); }
  const void* data() const { return external_ ? external_ : owned_.get(); }
  void* mutableData() { return owned_.get(); }
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data());
  }
  template <class T>
  T* mutableAs() {
    return reinterpret_cast<T*>(owned_.get());
  }

  // Element i converted to int64 / double (any integer, bool or float dtype).
  int64_t intAt(int64_t i) const;
  double doubleAt(int64_t i) const;
  // All elements as int64 (shape tensors, axes, pads).
  std::vector<int64_t> toInt64Vector() const;

  HostTensor clone() const;

 private:
  DataType dtype_ = DataType::kUndefined;
  Dims dims_;
  AlignedBuffer owned_;
  const void* external_ = nullptr;
  std::shared_ptr<const void> keepalive_;
};

}  // namespace edgert
