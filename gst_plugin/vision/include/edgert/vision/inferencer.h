// One model applied to frames: loads (or builds and caches) the engine, preprocesses,
// runs and decodes. Shared by edgertinfer, edgert-app and the tests; no GStreamer here.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgert/edgert.h"
#include "edgert/vision/element_config.h"
#include "edgert/vision/image.h"
#include "edgert/vision/results.h"

namespace edgert::vision {

struct StageTimings {
  double preprocess_ms = 0, inference_ms = 0, postprocess_ms = 0;
};

class Inferencer {
 public:
  // Loads the engine named by the config (one copy per process and backend, shared by
  // every Inferencer that names the same file), or builds `model.onnx` on first use into
  // "<model>.<precision>.<target>.engine" beside it and reuses that file while it is newer
  // than the model and loads. `log` receives one line per notable event (build, cache).
  static Result<std::unique_ptr<Inferencer>> create(const ElementConfig& config,
                                                    const LogCallback& log = {});

  // Frames per execution (the engine's batch dim).
  int batchSize() const { return batch_; }
  int netWidth() const { return width_; }
  int netHeight() const { return height_; }
  Backend backend() const { return ctx_->backend(); }
  const std::string& enginePath() const { return engine_path_; }
  const ElementConfig& config() const { return config_; }

  // Runs up to batchSize() frames; `results` gets one entry per frame.
  Status infer(const std::vector<ImageView>& frames, std::vector<FrameResult>* results);
  const StageTimings& lastTimings() const { return timings_; }

 private:
  Inferencer() = default;
  Status bind();

  ElementConfig config_;
  std::string engine_path_;
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<ExecutionContext> ctx_;
  const TensorInfo* input_ = nullptr;
  std::vector<const TensorInfo*> outputs_;
  int batch_ = 1, channels_ = 3, height_ = 0, width_ = 0;
  std::vector<float> input_host_;
  std::vector<std::vector<uint8_t>> output_host_;
  std::vector<std::vector<float>> output_float_;
  StageTimings timings_;
  // Frames go to the backend as they are (ExecutionContext::setImageInput: one upload and
  // one kernel on the GPU) instead of being pre-processed on the CPU.
  bool device_preprocess_ = false;
};

}  // namespace edgert::vision
