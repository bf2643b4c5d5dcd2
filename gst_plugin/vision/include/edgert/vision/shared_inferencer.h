// One Inferencer serving every caller with the same model configuration, so frames from
// several streams (several edgertinfer elements naming the same config) are batched into
// one execution: a caller's frames wait while the engine is busy, and the next execution
// takes the waiting frames of all callers, in arrival order, up to the batch size.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgert/vision/inferencer.h"

namespace edgert::vision {

class SharedInferencer {
 public:
  // The instance for this configuration (created on first use; freed with its last user).
  // Configurations that differ in anything but `unique_id` and `interval` get their own
  // instance (and their own execution context; the engine itself is still shared).
  static Result<std::shared_ptr<SharedInferencer>> acquire(const ElementConfig& config,
                                                           const LogCallback& log = {});
  ~SharedInferencer();

  // Blocks until `frames` (at most batchSize()) are inferred; thread safe.
  Status infer(const std::vector<ImageView>& frames, std::vector<FrameResult>* results,
               StageTimings* timings = nullptr);

  int batchSize() const { return inferencer_->batchSize(); }
  int netWidth() const { return inferencer_->netWidth(); }
  int netHeight() const { return inferencer_->netHeight(); }
  Backend backend() const { return inferencer_->backend(); }
  const std::string& enginePath() const { return inferencer_->enginePath(); }

  // How long the worker holds a partial batch waiting for other callers' frames before it
  // runs it (default 0: run whatever is queued). Trades latency for fuller batches, as
  // nvstreammux's batched-push-timeout does.
  void setBatchWait(std::chrono::microseconds wait);

  struct Stats {
    uint64_t executions = 0, frames = 0;
    int largest_batch = 0;
    int most_callers = 0;  // requests (one per calling stream) served by one execution
  };
  Stats stats() const;

 private:
  struct Request {
    const std::vector<ImageView>* frames;
    std::vector<FrameResult>* results;
    StageTimings* timings;
    Status status;
    bool done = false;
  };
  explicit SharedInferencer(std::unique_ptr<Inferencer> inferencer);
  void run();

  std::unique_ptr<Inferencer> inferencer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Request*> queue_;
  bool quit_ = false;
  std::chrono::microseconds batch_wait_{0};
  Stats stats_;
  std::thread worker_;
};

// The key that decides which configurations share (exposed for tests).
std::string sharingKey(const ElementConfig& config);

}  // namespace edgert::vision
