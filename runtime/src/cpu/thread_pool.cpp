#include "thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgert::cpu {

namespace {

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins (for up to kSpin) until `ready()`; false if it never was. A network's layers come one
// after the other: a worker that sleeps on the condition variable between them is woken by
// the kernel's scheduler, which on the small VMs measured took longer than the 0.1-0.3 ms
// layers themselves (EfficientNet-Lite0's depthwise layers ran no faster on two threads).
template <class F>
bool spinUntil(F ready) {
  constexpr auto kSpin = std::chrono::microseconds(200);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    if (ready()) return true;
    cpuRelax();
    if (i % 256 == 0 && std::chrono::steady_clock::now() - t0 > kSpin) return ready();
  }
}

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_.store(true);
      state_.store(state_.load() + (uint64_t{1} << 16));
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // False when another caller holds the pool.
  bool run(int parts, const std::function<void(int)>& part) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    job_.store(&part, std::memory_order_relaxed);
    pending_.store(parts - 1, std::memory_order_relaxed);
    {
      // One word holds the generation and the part count, so a worker that was not in the
      // last job can never pair this job's count with a stale generation.
      std::lock_guard<std::mutex> l(m_);
      const uint64_t gen = (state_.load(std::memory_order_relaxed) >> 16) + 1;
      state_.store((gen << 16) | static_cast<uint64_t>(parts), std::memory_order_release);
    }
    cv_.notify_all();
    part(0);
    auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!spinUntil(done)) {
      std::unique_lock<std::mutex> l(m_);
      done_.wait(l, done);
    }
    return true;
  }

 private:
  void work(int index) {
    uint64_t seen = 0;  // the state before any job: this thread may start after the first
    for (;;) {
      auto fresh = [&] { return state_.load(std::memory_order_acquire) != seen; };
      if (!spinUntil(fresh)) {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, fresh);
      }
      seen = state_.load(std::memory_order_acquire);
      if (stop_.load()) return;
      // A worker in this job is waited for, so the next job (and its job_) cannot start
      // before it has run; one that is not may skip generations.
      if (index >= static_cast<int>(seen & 0xFFFF)) continue;
      (*job_.load(std::memory_order_relaxed))(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> l(m_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_, m_;
  std::condition_variable cv_, done_;
  std::atomic<const std::function<void(int)>*> job_{nullptr};
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> state_{0};  // generation << 16 | parts
  std::atomic<bool> stop_{false};
};

Pool& pool() {
  static Pool p(cpuThreads());
  return p;
}

}  // namespace

int cpuThreads() {
  static const int n = [] {
    if (const char* e = std::getenv("EDGERT_CPU_THREADS")) {
      const int v = std::atoi(e);
      if (v >= 1) return std::min(v, 256);
    }
    return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 16);
  }();
  return n;
}

void parallelFor(int64_t n, int64_t min_per_part,
                 const std::function<void(int, int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int64_t want = std::min<int64_t>(cpuThreads(), n / std::max<int64_t>(1, min_per_part));
  if (want <= 1) return fn(0, 0, n);
  const int parts = static_cast<int>(want);
  auto part = [&](int i) {
    const int64_t b = n * i / parts, e = n * (i + 1) / parts;
    if (b < e) fn(i, b, e);
  };
  if (!pool().run(parts, part)) fn(0, 0, n);
}

}  // namespace edgert::cpu
