#include "edgert/vision/shared_inferencer.h"

#include <map>
#include <sstream>

#include "edgert/internal/str.h"

namespace edgert::vision {

std::string sharingKey(const ElementConfig& c) {
  std::ostringstream k;
  const auto& m = c.model;
  k << m.engine << '|' << m.onnx << '|' << m.precision << '|' << m.target << '|' << m.backend << '|'
    << m.input << '|';
  for (const auto& [n, d] : m.shapes) {
    k << n << ':';
    for (int64_t x : d) k << x << 'x';
  }
  const auto& p = c.preprocess;
  k << '|' << int(p.resize) << ',' << int(p.interpolation) << ',' << p.resize_short << ','
    << p.scale << ',' << p.mean[0] << ',' << p.mean[1] << ',' << p.mean[2] << ',' << p.std[0] << ','
    << p.std[1] << ',' << p.std[2] << ',' << p.bgr << ',' << p.nhwc << ',' << int(p.pad_value);
  const auto& d = c.decoder;
  k << '|' << int(d.task) << ',' << int(d.format) << ',' << d.threshold << ',' << d.nms_iou << ','
    << d.max_detections << ',' << d.top_k << ',' << int(d.softmax) << ',' << d.boxes_output << ','
    << d.scores_output << ',' << d.ssd_background << ',' << d.bin_threshold << ',' << d.unclip_ratio
    << ',' << d.min_size << ',' << d.labels.size();
  k << '|' << c.labels_path << '|' << c.attach_tensors << '|' << c.batch_size;
  return k.str();
}

Result<std::shared_ptr<SharedInferencer>> SharedInferencer::acquire(const ElementConfig& config,
                                                                    const LogCallback& log) {
  static std::mutex registry_mu;
  static std::map<std::string, std::weak_ptr<SharedInferencer>> registry;
  std::lock_guard<std::mutex> lock(registry_mu);
  const std::string key = sharingKey(config);
  if (auto s = registry[key].lock()) return s;
  EDGERT_ASSIGN_OR_RETURN(std::unique_ptr<Inferencer> inf, Inferencer::create(config, log));
  std::shared_ptr<SharedInferencer> s(new SharedInferencer(std::move(inf)));
  registry[key] = s;
  return s;
}

SharedInferencer::SharedInferencer(std::unique_ptr<Inferencer> inferencer)
    : inferencer_(std::move(inferencer)), worker_([this] { run(); }) {}

SharedInferencer::~SharedInferencer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void SharedInferencer::setBatchWait(std::chrono::microseconds wait) {
  std::lock_guard<std::mutex> lock(mu_);
  batch_wait_ = wait;
}

SharedInferencer::Stats SharedInferencer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

Status SharedInferencer::infer(const std::vector<ImageView>& frames,
                               std::vector<FrameResult>* results, StageTimings* timings) {
  if (frames.empty() || static_cast<int>(frames.size()) > batchSize())
    return Status(StatusCode::kInvalidArgument,
                  strCat(frames.size(), " frames for an engine of batch ", batchSize()));
  Request r{&frames, results, timings, Status::Ok()};
  std::unique_lock<std::mutex> lock(mu_);
  queue_.push_back(&r);
  cv_.notify_all();
  cv_.wait(lock, [&] { return r.done; });
  return r.status;
}

void SharedInferencer::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return quit_ || !queue_.empty(); });
    if (quit_ && queue_.empty()) return;
    if (batch_wait_.count() > 0) {
      const auto deadline = std::chrono::steady_clock::now() + batch_wait_;
      cv_.wait_until(lock, deadline, [&] {
        size_t queued = 0;
        for (const Request* r : queue_) queued += r->frames->size();
        return quit_ || queued >= size_t(inferencer_->batchSize());
      });
    }
    // Whole requests, first come first served, as many as fit one execution.
    std::vector<Request*> take;
    std::vector<ImageView> views;
    while (!queue_.empty() &&
           views.size() + queue_.front()->frames->size() <= size_t(inferencer_->batchSize())) {
      Request* r = queue_.front();
      queue_.pop_front();
      take.push_back(r);
      views.insert(views.end(), r->frames->begin(), r->frames->end());
    }
    lock.unlock();
    std::vector<FrameResult> results;
    const Status st = inferencer_->infer(views, &results);
    lock.lock();
    size_t at = 0;
    for (Request* r : take) {
      r->status = st;
      const size_t n = r->frames->size();
      if (st.ok())
        r->results->assign(results.begin() + static_cast<long>(at),
                           results.begin() + static_cast<long>(at + n));
      if (r->timings) *r->timings = inferencer_->lastTimings();
      at += n;
      r->done = true;
    }
    ++stats_.executions;
    stats_.frames += views.size();
    stats_.largest_batch = std::max(stats_.largest_batch, static_cast<int>(views.size()));
    stats_.most_callers = std::max(stats_.most_callers, static_cast<int>(take.size()));
    cv_.notify_all();
  }
}

}  // namespace edgert::vision
