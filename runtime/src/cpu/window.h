// Index arithmetic of sliding windows, shared by the CPU kernels and the ops that call them.
#pragma once

#include <cstdint>

namespace edgert::cpu {

// First output index o >= 0 whose input index o * s + off is >= lo (with lo = the input's size:
// the end of the outputs that read inside it).
inline int64_t firstValid(int64_t off, int64_t s, int64_t lo) {
  const int64_t num = lo - off;
  return num <= 0 ? 0 : (num + s - 1) / s;
}

}  // namespace edgert::cpu
