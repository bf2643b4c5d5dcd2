#include "edgert/vision/inferencer.h"

#include <chrono>
#include <cstring>

#include "edgert/internal/half.h"
#include "edgert/internal/str.h"
#include "engine_cache.h"

namespace edgert::vision {

namespace {

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool convertible(DataType t) {
  return t == DataType::kFloat32 || t == DataType::kFloat16 || t == DataType::kInt64 ||
         t == DataType::kInt32 || t == DataType::kUInt8 || t == DataType::kInt8 ||
         t == DataType::kBool;
}

void toFloat(DataType t, const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    switch (t) {
      case DataType::kFloat32:
        std::memcpy(&dst[i], src + 4 * i, 4);
        break;
      case DataType::kFloat16: {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = halfToFloat(h);
        break;
      }
      case DataType::kInt64: {
        int64_t v;
        std::memcpy(&v, src + 8 * i, 8);
        dst[i] = static_cast<float>(v);
        break;
      }
      case DataType::kInt32: {
        int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        dst[i] = static_cast<float>(v);
        break;
      }
      case DataType::kInt8:
        dst[i] = static_cast<int8_t>(src[i]);
        break;
      default:
        dst[i] = src[i];
        break;
    }
  }
}

}  // namespace

Result<std::unique_ptr<Inferencer>> Inferencer::create(const ElementConfig& config,
                                                       const LogCallback& log) {
  std::unique_ptr<Inferencer> inf(new Inferencer());
  inf->config_ = config;
  if (!config.labels_path.empty()) {
    EDGERT_ASSIGN_OR_RETURN(inf->config_.decoder.labels, loadLabels(config.labels_path));
  }
  EDGERT_ASSIGN_OR_RETURN(LoadedEngine le, acquireEngine(config.model, log));
  inf->engine_ = le.engine;
  inf->engine_path_ = le.path;
  EDGERT_RETURN_IF_ERROR(inf->bind().withContext(le.path));
  EDGERT_ASSIGN_OR_RETURN(inf->ctx_, inf->engine_->createExecutionContext());
  // On the GPU the frame is uploaded as it is and resized there; PIL-exact resizing stays
  // on the CPU.
  inf->device_preprocess_ = inf->ctx_->backend() == Backend::kCuda &&
                            config.preprocess.interpolation != Interpolation::kPilBilinear;
  // The host staging buffer only for CPU pre-processing.
  if (!inf->device_preprocess_)
    inf->input_host_.assign(static_cast<size_t>(volume(inf->input_->dims)), 0.f);
  return inf;
}

Status Inferencer::bind() {
  std::vector<const TensorInfo*> inputs;
  for (const auto& b : engine_->bindings()) (b.is_input ? inputs : outputs_).push_back(&b);
  if (!config_.model.input.empty()) {
    input_ = engine_->binding(config_.model.input);
    if (!input_ || !input_->is_input)
      return Status(StatusCode::kInvalidArgument,
                    strCat("the engine has no input '", config_.model.input, "'"));
  } else if (inputs.size() == 1) {
    input_ = inputs[0];
  } else {
    std::string names;
    for (auto* i : inputs) names += (names.empty() ? "" : ", ") + i->name;
    return Status(StatusCode::kInvalidArgument,
                  strCat("the engine has ", inputs.size(), " inputs (", names,
                         "); name the image one with 'model.input'"));
  }
  const Dims& d = input_->dims;
  if (d.size() != 4 || input_->dtype != DataType::kFloat32)
    return Status(
        StatusCode::kUnsupported,
        strCat("input '", input_->name, "' is ", dataTypeName(input_->dtype), " ", dimsToString(d),
               "; an image input is float32 [N, C, H, W] (or [N, H, W, C] ",
               "with preprocess.layout nhwc)"));
  const bool nhwc = config_.preprocess.nhwc;
  batch_ = static_cast<int>(d[0]);
  channels_ = static_cast<int>(nhwc ? d[3] : d[1]);
  height_ = static_cast<int>(nhwc ? d[1] : d[2]);
  width_ = static_cast<int>(nhwc ? d[2] : d[3]);
  if (channels_ != 1 && channels_ != 3)
    return Status(StatusCode::kUnsupported,
                  strCat("input '", input_->name, "' ", dimsToString(d), " has ", channels_,
                         " channels at dim ", nhwc ? 3 : 1, "; images have 1 or 3 (layout ",
                         nhwc ? "nhwc" : "nchw", ")"));
  if (config_.batch_size > batch_)
    return Status(
        StatusCode::kInvalidArgument,
        strCat("batch-size ", config_.batch_size, " exceeds the engine's batch ", batch_,
               " (input '", input_->name, "' ", dimsToString(d), "); rebuild with --shapes ",
               input_->name, ":", config_.batch_size, "x..."));
  if (config_.decoder.task == TaskType::kDetection &&
      config_.decoder.format == DetectionFormat::kSsd && outputs_.size() < 2)
    return Status(StatusCode::kInvalidArgument,
                  "task.format ssd needs two outputs (boxes, scores)");
  output_host_.resize(outputs_.size());
  output_float_.resize(outputs_.size());
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!convertible(outputs_[i]->dtype))
      return Status(StatusCode::kUnsupported, strCat("output '", outputs_[i]->name, "' is ",
                                                     dataTypeName(outputs_[i]->dtype)));
    if (outputs_[i]->dims.empty() || outputs_[i]->dims[0] != batch_)
      return Status(StatusCode::kUnsupported,
                    strCat("output '", outputs_[i]->name, "' ", dimsToString(outputs_[i]->dims),
                           " does not start with the batch dim ", batch_));
    if (outputs_[i]->dtype != DataType::kFloat32) output_host_[i].resize(outputs_[i]->bytes());
    output_float_[i].resize(static_cast<size_t>(volume(outputs_[i]->dims)));
  }
  return Status::Ok();
}

Status Inferencer::infer(const std::vector<ImageView>& frames, std::vector<FrameResult>* results) {
  if (frames.empty() || static_cast<int>(frames.size()) > batch_)
    return Status(StatusCode::kInvalidArgument,
                  strCat(frames.size(), " frames for an engine of batch ", batch_));
  auto t0 = std::chrono::steady_clock::now();
  const size_t per_image = input_host_.size() / batch_;
  std::vector<FrameTransform> transforms;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (device_preprocess_) {
      ImageFrame f;
      ImagePlacement p;
      transforms.push_back(devicePlacement(frames[i], config_.preprocess, width_, height_, &f, &p));
      EDGERT_RETURN_IF_ERROR(ctx_->setImageInput(input_->name, static_cast<int>(i), f, p));
      continue;
    }
    EDGERT_ASSIGN_OR_RETURN(
        FrameTransform t, preprocessImage(frames[i], config_.preprocess, width_, height_, channels_,
                                          input_host_.data() + i * per_image));
    transforms.push_back(t);
  }
  if (!device_preprocess_)
    EDGERT_RETURN_IF_ERROR(
        ctx_->setInput(input_->name, input_host_.data(), input_host_.size() * sizeof(float)));
  timings_.preprocess_ms = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  EDGERT_RETURN_IF_ERROR(ctx_->execute());
  // float32 outputs land where the decoders read them; others are converted after.
  for (size_t o = 0; o < outputs_.size(); ++o) {
    const bool f32 = outputs_[o]->dtype == DataType::kFloat32;
    EDGERT_RETURN_IF_ERROR(
        ctx_->getOutput(outputs_[o]->name,
                        f32 ? static_cast<void*>(output_float_[o].data()) : output_host_[o].data(),
                        outputs_[o]->bytes()));
  }
  timings_.inference_ms = msSince(t0);
  t0 = std::chrono::steady_clock::now();
  results->assign(frames.size(), FrameResult{});
  for (size_t o = 0; o < outputs_.size(); ++o)
    if (outputs_[o]->dtype != DataType::kFloat32)
      toFloat(outputs_[o]->dtype, output_host_[o].data(), output_float_[o].size(),
              output_float_[o].data());
  for (size_t i = 0; i < frames.size(); ++i) {
    std::vector<TensorView> views;
    for (size_t o = 0; o < outputs_.size(); ++o) {
      const size_t per = output_float_[o].size() / batch_;
      views.push_back({outputs_[o]->name,
                       std::vector<int64_t>(outputs_[o]->dims.begin() + 1, outputs_[o]->dims.end()),
                       output_float_[o].data() + i * per});
    }
    FrameResult& r = (*results)[i];
    EDGERT_RETURN_IF_ERROR(decodeOutputs(views, config_.decoder, transforms[i], &r));
    if (config_.attach_tensors || config_.decoder.task == TaskType::kRaw) {
      for (const auto& v : views) {
        const size_t n = static_cast<size_t>(volume(v.dims));
        r.tensors.push_back({v.name, v.dims, std::vector<float>(v.data, v.data + n)});
      }
    }
  }
  timings_.postprocess_ms = msSince(t0);
  return Status::Ok();
}

}  // namespace edgert::vision
