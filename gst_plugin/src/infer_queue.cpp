#include "infer_queue.h"

#include "frame_view.h"

namespace edgert::gst {

InferQueue::InferQueue(vision::SharedInferencer* inferencer, const GstVideoInfo& info, int batch,
                       int max_queue, bool drop_when_full, Hooks hooks)
    : inferencer_(inferencer),
      info_(info),
      batch_(std::max(1, batch)),
      max_queue_(std::max(max_queue, batch_)),
      drop_when_full_(drop_when_full),
      hooks_(std::move(hooks)),
      worker_([this] { run(); }) {}

InferQueue::~InferQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  worker_.join();
  for (auto& j : jobs_) release(j);
}

void InferQueue::release(Job& j) {
  if (j.mapped) gst_video_frame_unmap(&j.frame);
  j.mapped = false;
  if (j.buffer) gst_buffer_unref(j.buffer);
  j.buffer = nullptr;
}

GstFlowReturn InferQueue::submit(GstBuffer* buffer, bool infer) {
  std::unique_lock<std::mutex> lock(mu_);
  if (infer && queued_infer_ >= max_queue_) {
    if (drop_when_full_) {
      infer = false;
      ++dropped_;
      const guint64 n = dropped_;
      lock.unlock();
      hooks_.dropped(n);
      lock.lock();
    } else {
      cv_.wait(lock, [&] {
        return queued_infer_ < max_queue_ || flushing_ || quit_ || flow_ != GST_FLOW_OK;
      });
    }
  }
  if (flushing_ || flow_ != GST_FLOW_OK) {
    const GstFlowReturn ret = flushing_ ? GST_FLOW_FLUSHING : flow_;
    gst_buffer_unref(buffer);
    return ret;
  }
  Job j;
  j.buffer = buffer;
  j.infer = infer;
  if (infer) {
    if (!gst_video_frame_map(&j.frame, &info_, buffer, GST_MAP_READ)) {
      gst_buffer_unref(buffer);
      return GST_FLOW_ERROR;
    }
    j.mapped = true;
    ++queued_infer_;
  }
  jobs_.push_back(j);
  cv_.notify_all();
  return GST_FLOW_OK;
}

GstFlowReturn InferQueue::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return (jobs_.empty() && !busy_) || flushing_ || flow_ != GST_FLOW_OK; });
  return flushing_ ? GST_FLOW_FLUSHING : flow_;
}

void InferQueue::setFlushing(bool flushing) {
  std::unique_lock<std::mutex> lock(mu_);
  flushing_ = flushing;
  cv_.notify_all();
  if (!flushing) {
    // FLUSH_STOP: the worker has dropped the old frames; start clean.
    cv_.wait(lock, [&] { return !busy_; });
    for (auto& j : jobs_) release(j);
    jobs_.clear();
    queued_infer_ = 0;
    flow_ = GST_FLOW_OK;
  }
}

void InferQueue::setInfo(const GstVideoInfo& info) {
  std::lock_guard<std::mutex> lock(mu_);
  info_ = info;
}

void InferQueue::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return quit_ || (!jobs_.empty() && !flushing_); });
    if (quit_) return;
    // The frames at the front: pass-throughs alone, or up to `batch` frames to infer.
    size_t n = 0;
    const bool infer = jobs_.front().infer;
    while (n < jobs_.size() && jobs_[n].infer == infer && (!infer || n < size_t(batch_)) &&
           (infer || n == 0))
      ++n;
    std::vector<Job> work(jobs_.begin(), jobs_.begin() + static_cast<long>(n));
    busy_ = true;
    lock.unlock();

    bool ok = true;
    if (infer && hooks_.secondary) {
      for (auto& j : work) {
        vision::StageTimings timings;
        const Status st = hooks_.secondary(j.buffer, imageViewOf(j.frame), &timings);
        gst_video_frame_unmap(&j.frame);
        j.mapped = false;
        if (!st.ok()) {
          ok = false;
          hooks_.error(st.message());
          break;
        }
      }
    } else if (infer) {
      std::vector<vision::ImageView> views;
      for (auto& j : work) views.push_back(imageViewOf(j.frame));
      std::vector<vision::FrameResult> results;
      vision::StageTimings timings;
      const Status st = inferencer_->infer(views, &results, &timings);
      if (!st.ok()) {
        ok = false;
        hooks_.error(st.message());
      } else {
        for (size_t i = 0; i < work.size(); ++i) {
          gst_video_frame_unmap(&work[i].frame);
          work[i].mapped = false;
          hooks_.annotate(work[i].buffer, results[i], timings);
        }
      }
    }
    GstFlowReturn ret = ok ? GST_FLOW_OK : GST_FLOW_ERROR;
    for (auto& j : work) {
      if (j.mapped) gst_video_frame_unmap(&j.frame);
      j.mapped = false;
      if (ret == GST_FLOW_OK) {
        ret = hooks_.push(j.buffer);  // takes the buffer
      } else {
        gst_buffer_unref(j.buffer);
      }
      j.buffer = nullptr;
    }

    lock.lock();
    for (size_t i = 0; i < n; ++i) {
      if (jobs_.front().infer) --queued_infer_;
      jobs_.pop_front();
    }
    busy_ = false;
    // Downstream said stop (flushing, EOS, error, not linked): drop the rest.
    if (ret != GST_FLOW_OK && flow_ == GST_FLOW_OK) flow_ = ret;
    if (flushing_ || flow_ != GST_FLOW_OK) {
      for (auto& j : jobs_) release(j);
      jobs_.clear();
      queued_infer_ = 0;
    }
    cv_.notify_all();
  }
}

}  // namespace edgert::gst
