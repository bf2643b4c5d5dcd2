#include "thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgert::cpu {

namespace {

class Pool {
 public:
  explicit Pool(int threads) {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> l(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // False when another caller holds the pool.
  bool run(int parts, const std::function<void(int)>& part) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> l(m_);
      job_ = &part;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    cv_.notify_all();
    part(0);
    std::unique_lock<std::mutex> l(m_);
    done_.wait(l, [&] { return pending_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> l(m_);
        cv_.wait(l, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index >= parts_) continue;
        job = job_;
      }
      (*job)(index);
      std::lock_guard<std::mutex> l(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex busy_, m_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
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
