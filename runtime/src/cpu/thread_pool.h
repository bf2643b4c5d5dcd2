// Threads for the CPU backend's own kernels (OpenBLAS has its own for the GEMMs).
#pragma once

#include <cstdint>
#include <functional>

namespace edgert::cpu {

// Runs fn(part, begin, end) over [0, n) in up to cpuThreads() contiguous parts (part <
// cpuThreads(), e.g. to pick a scratch buffer), the calling thread taking part 0, and returns when
// all are done. Parts never overlap, so a kernel that writes only its part's outputs gives the same
// bits however it is split. Below `min_per_part` items per part, fewer parts. While another
// thread's parallelFor holds the pool, this one runs serially (several contexts may run at once;
// none waits for another).
void parallelFor(int64_t n, int64_t min_per_part,
                 const std::function<void(int, int64_t, int64_t)>& fn);

// EDGERT_CPU_THREADS, else the machine's hardware threads (at most 16).
int cpuThreads();

}  // namespace edgert::cpu
