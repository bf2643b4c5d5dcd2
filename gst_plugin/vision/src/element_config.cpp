#include "edgert/vision/element_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "edgert/internal/str.h"
#include "edgert/vision/yaml_section.h"

namespace edgert::vision {

namespace fs = std::filesystem;

namespace {

Status parseModel(const Section& s, const std::string& base, ModelConfig* m) {
  return s.forEach(
      {"engine", "onnx", "precision", "target", "shapes", "backend", "input"},
      [&](const std::string& k, const YAML::Node& v) -> Status {
        if (k == "engine" || k == "onnx") {
          std::string p;
          EDGERT_RETURN_IF_ERROR(s.string(k, v, &p));
          (k == "engine" ? m->engine : m->onnx) = resolveConfigPath(base, p);
          return Status::Ok();
        }
        if (k == "precision") return s.oneOf(k, v, {"fp32", "fp16", "int8"}, &m->precision);
        if (k == "target") return s.string(k, v, &m->target);
        if (k == "backend") return s.oneOf(k, v, {"cpu", "cuda", "auto"}, &m->backend);
        if (k == "input") return s.string(k, v, &m->input);
        // shapes: {input: [1, 3, 640, 640]}
        if (!v.IsMap()) return s.error(v, "'model.shapes' must map input names to dim lists");
        for (const auto& e : v) {
          const std::string name = e.first.Scalar();
          if (!e.second.IsSequence())
            return s.error(e.second, strCat("'model.shapes.", name, "' must be a list of dims"));
          Dims dims;
          for (const auto& d : e.second) {
            int64_t x;
            EDGERT_RETURN_IF_ERROR(s.integer("shapes." + name, d, &x, 1, int64_t{1} << 20));
            dims.push_back(x);
          }
          m->shapes[name] = dims;
        }
        return Status::Ok();
      });
}

Status parseTask(const Section& s, const std::string& base, ElementConfig* c) {
  DecoderOptions& d = c->decoder;
  bool have_type = false;
  const Status parsed = s.forEach(
      {"type", "format", "threshold", "nms_iou", "max_detections", "top_k", "softmax",
       "boxes_output", "scores_output", "background_class", "bin_threshold", "unclip_ratio",
       "min_size", "labels", "attach_tensors"},
      [&](const std::string& k, const YAML::Node& v) -> Status {
        std::string str;
        int64_t i;
        if (k == "type") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(
              k, v, {"classification", "detection", "textdet", "segmentation", "raw"}, &str));
          parseTaskType(str, &d.task);
          have_type = true;
        } else if (k == "format") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"yolov8", "yolov5", "ssd"}, &str));
          parseDetectionFormat(str, &d.format);
        } else if (k == "threshold") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &d.threshold, 0, 1));
        } else if (k == "nms_iou") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &d.nms_iou, 0, 1));
        } else if (k == "max_detections") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 100000));
          d.max_detections = static_cast<int>(i);
        } else if (k == "top_k") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 100000));
          d.top_k = static_cast<int>(i);
        } else if (k == "softmax") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"auto", "true", "false"}, &str));
          d.softmax = str == "auto"   ? SoftmaxMode::kAuto
                      : str == "true" ? SoftmaxMode::kAlways
                                      : SoftmaxMode::kNever;
        } else if (k == "boxes_output") {
          EDGERT_RETURN_IF_ERROR(s.string(k, v, &d.boxes_output));
        } else if (k == "scores_output") {
          EDGERT_RETURN_IF_ERROR(s.string(k, v, &d.scores_output));
        } else if (k == "background_class") {
          EDGERT_RETURN_IF_ERROR(s.boolean(k, v, &d.ssd_background));
        } else if (k == "bin_threshold") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &d.bin_threshold, 0, 1));
        } else if (k == "unclip_ratio") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &d.unclip_ratio, 0, 10));
        } else if (k == "min_size") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &d.min_size, 0, 1e4f));
        } else if (k == "labels") {
          EDGERT_RETURN_IF_ERROR(s.string(k, v, &str));
          c->labels_path = resolveConfigPath(base, str);
        } else {
          EDGERT_RETURN_IF_ERROR(s.boolean(k, v, &c->attach_tensors));
        }
        return Status::Ok();
      });
  if (!parsed.ok()) return parsed;
  if (!have_type) return s.error(s.node(), "'task.type' is required");
  return Status::Ok();
}

Status parseInference(const Section& s, ElementConfig* c) {
  return s.forEach(
      {"interval", "batch_size", "unique_id", "process_mode", "infer_on_id", "infer_on_labels",
       "object_interval"},
      [&](const std::string& k, const YAML::Node& v) -> Status {
        int64_t i;
        if (k == "interval") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 1 << 20));
          c->interval = static_cast<int>(i);
        } else if (k == "batch_size") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 1024));
          c->batch_size = static_cast<int>(i);
        } else if (k == "process_mode") {
          std::string mode;
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"primary", "secondary"}, &mode));
          c->secondary.enabled = mode == "secondary";
        } else if (k == "infer_on_id") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 0, std::numeric_limits<uint32_t>::max()));
          c->secondary.infer_on_id = static_cast<uint32_t>(i);
        } else if (k == "infer_on_labels") {
          if (!v.IsSequence()) return s.error(v, "'inference.infer_on_labels' must be a list");
          for (const auto& item : v) {
            std::string label;
            EDGERT_RETURN_IF_ERROR(s.string(k, item, &label));
            c->secondary.labels.push_back(label);
          }
        } else if (k == "object_interval") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 1 << 20));
          c->secondary.object_interval = static_cast<int>(i);
        } else {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 0, std::numeric_limits<uint32_t>::max()));
          c->unique_id = static_cast<uint32_t>(i);
        }
        return Status::Ok();
      });
}

}  // namespace

Status parsePreprocess(const Section& s, PreprocessSpec* p) {
  return s.forEach(
      {"resize", "resize_short", "interpolation", "scale", "mean", "std", "order", "layout",
       "pad_value"},
      [&](const std::string& k, const YAML::Node& v) -> Status {
        std::string str;
        int64_t i;
        if (k == "resize") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"stretch", "letterbox", "short-side"}, &str));
          p->resize = str == "stretch"     ? ResizeMode::kStretch
                      : str == "letterbox" ? ResizeMode::kLetterbox
                                           : ResizeMode::kShortSide;
        } else if (k == "interpolation") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"area", "linear", "pil"}, &str));
          p->interpolation = str == "area"     ? Interpolation::kArea
                             : str == "linear" ? Interpolation::kLinear
                                               : Interpolation::kPilBilinear;
        } else if (k == "resize_short") {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 1, 1 << 15));
          p->resize_short = static_cast<int>(i);
        } else if (k == "scale") {
          EDGERT_RETURN_IF_ERROR(s.number(k, v, &p->scale, -1e6f, 1e6f));
        } else if (k == "mean") {
          EDGERT_RETURN_IF_ERROR(s.triple(k, v, &p->mean, false));
        } else if (k == "std") {
          EDGERT_RETURN_IF_ERROR(s.triple(k, v, &p->std, true));
        } else if (k == "order") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"rgb", "bgr"}, &str));
          p->bgr = str == "bgr";
        } else if (k == "layout") {
          EDGERT_RETURN_IF_ERROR(s.oneOf(k, v, {"nchw", "nhwc"}, &str));
          p->nhwc = str == "nhwc";
        } else {
          EDGERT_RETURN_IF_ERROR(s.integer(k, v, &i, 0, 255));
          p->pad_value = static_cast<uint8_t>(i);
        }
        return Status::Ok();
      });
}

std::string resolveConfigPath(const std::string& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base) / p).lexically_normal().string();
}

Result<YAML::Node> loadYaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ":", e.mark.line + 1, ":", e.mark.column + 1,
                         ": YAML syntax error: ", e.msg));
  }
}

Result<ConfigText> readConfigFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open ", what));
  std::stringstream ss;
  ss << in.rdbuf();
  const fs::path p(path);
  return ConfigText{ss.str(), p.has_parent_path() ? p.parent_path().string() : "."};
}

Result<ElementConfig> parseElementConfig(const std::string& text, const std::string& origin,
                                         const std::string& base_dir) {
  EDGERT_ASSIGN_OR_RETURN(const YAML::Node root, loadYaml(text, origin));
  ElementConfig cfg;
  cfg.origin = origin;
  const Section top(origin, "", root);
  if (!root.IsMap())
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": expected a mapping with model, preprocess, task, inference"));
  try {
    bool have_task = false;
    const Status parsed = top.forEach({"model", "preprocess", "task", "inference"},
                                      [&](const std::string& k, const YAML::Node& v) -> Status {
                                        const Section s(origin, k, v);
                                        if (k == "model")
                                          return parseModel(s, base_dir, &cfg.model);
                                        if (k == "preprocess")
                                          return parsePreprocess(s, &cfg.preprocess);
                                        if (k == "inference") return parseInference(s, &cfg);
                                        have_task = true;
                                        return parseTask(s, base_dir, &cfg);
                                      });
    if (!parsed.ok()) return parsed;
    if (!have_task)
      return Status(StatusCode::kInvalidArgument, strCat(origin, ": 'task' is required"));
  } catch (const YAML::Exception& e) {
    return Status(StatusCode::kInvalidArgument, strCat(origin, ":", e.mark.line + 1, ": ", e.msg));
  }
  if (!cfg.model.engine.empty() && !cfg.model.onnx.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat(origin, ": give 'model.engine' or 'model.onnx', not both"));
  EDGERT_RETURN_IF_ERROR(checkSecondary(cfg));
  return cfg;
}

Status checkSecondary(const ElementConfig& cfg) {
  if (cfg.secondary.enabled && cfg.decoder.task != TaskType::kClassification)
    return Status(StatusCode::kInvalidArgument,
                  strCat(cfg.origin.empty() ? "edgertinfer" : cfg.origin,
                         ": process_mode secondary runs classifiers on regions (task.type "
                         "classification); this model's task is ",
                         taskTypeName(cfg.decoder.task)));
  return Status::Ok();
}

Result<ElementConfig> loadElementConfig(const std::string& path) {
  EDGERT_ASSIGN_OR_RETURN(ConfigText t, readConfigFile(path, "element config"));
  return parseElementConfig(t.text, path, t.base_dir);
}

}  // namespace edgert::vision
