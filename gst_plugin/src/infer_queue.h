// edgertinfer's worker: frames queue up in order, one thread runs inference on them
// (several at once when they have piled up, up to the batch size) and pushes each frame
// downstream as soon as its results are attached. Upstream keeps decoding meanwhile.
// When the queue is full, `submit` either waits (default: every frame is annotated) or,
// with drop_when_full, passes the frame through without inference and counts it.
#pragma once

#include <gst/video/video.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "edgert/vision/shared_inferencer.h"

namespace edgert::gst {

class InferQueue {
 public:
  struct Hooks {
    std::function<GstFlowReturn(GstBuffer*)> push;  // downstream (takes the buffer)
    // Called on the worker thread with each inferred frame's result, before it is pushed.
    std::function<void(GstBuffer*, const vision::FrameResult&, const vision::StageTimings&)>
        annotate;
    std::function<void(const std::string&)> error;  // inference failed (stream stops)
    std::function<void(guint64 dropped)> dropped;   // a frame passed without inference
    // Secondary mode: runs the model on the frame's regions instead of the whole frame
    // (one frame at a time, the regions batched; annotate is not called).
    std::function<Status(GstBuffer*, const vision::ImageView&, vision::StageTimings*)> secondary;
  };
  InferQueue(vision::SharedInferencer* inferencer, const GstVideoInfo& info, int batch,
             int max_queue, bool drop_when_full, Hooks hooks);
  ~InferQueue();  // drops what is queued and joins the worker

  // Takes ownership of a writable buffer; `infer` false passes it through in order.
  // Returns the last downstream flow (so upstream learns of EOS, flushing, errors).
  GstFlowReturn submit(GstBuffer* buffer, bool infer);
  // Waits until every queued frame has been pushed (before EOS and other serialized
  // events, which must follow the frames).
  GstFlowReturn drain();
  void setFlushing(bool flushing);
  void setInfo(const GstVideoInfo& info);  // call after drain()

 private:
  struct Job {
    GstBuffer* buffer = nullptr;
    bool infer = false;
    GstVideoFrame frame{};
    bool mapped = false;
  };
  void run();
  void release(Job& j);

  vision::SharedInferencer* inferencer_;
  GstVideoInfo info_;
  int batch_, max_queue_;
  bool drop_when_full_;
  Hooks hooks_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  int queued_infer_ = 0;
  bool busy_ = false, quit_ = false, flushing_ = false;
  GstFlowReturn flow_ = GST_FLOW_OK;
  guint64 dropped_ = 0;
  std::thread worker_;
};

}  // namespace edgert::gst
