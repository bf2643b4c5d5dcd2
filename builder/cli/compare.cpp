#include "compare.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "edgert/builder.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/half.h"
#include "edgert/internal/str.h"
#include "image_calibration.h"
#include "runtime_commands.h"

namespace edgert::cli {

namespace fs = std::filesystem;

namespace {

// One engine ready to run batches of the image source; outputs read back as float32.
struct Runner {
  std::shared_ptr<const Engine> engine;
  std::unique_ptr<ExecutionContext> ctx;

  static Result<Runner> fromBytes(const std::vector<uint8_t>& bytes, Backend backend,
                                  const std::string& origin) {
    RuntimeOptions ro;
    ro.backend = backend;
    ro.log = [](LogSeverity, const std::string&) {};
    EDGERT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
    Runner r;
    EDGERT_ASSIGN_OR_RETURN(r.engine, rt->deserializeEngine(bytes.data(), bytes.size(), origin));
    EDGERT_ASSIGN_OR_RETURN(r.ctx, r.engine->createExecutionContext());
    return r;
  }

  // Feeds `x` (float32 of the input's shape) and returns every float output, by name.
  Result<std::map<std::string, std::vector<float>>> run(const std::string& input,
                                                        const std::vector<float>& x) {
    const TensorInfo* in = engine->binding(input);
    if (in->dtype == DataType::kFloat16) {
      std::vector<uint16_t> h(x.size());
      for (size_t i = 0; i < x.size(); ++i) h[i] = floatToHalf(x[i]);
      EDGERT_RETURN_IF_ERROR(ctx->setInput(input, h.data(), h.size() * 2));
    } else {
      EDGERT_RETURN_IF_ERROR(ctx->setInput(input, x.data(), x.size() * 4));
    }
    EDGERT_RETURN_IF_ERROR(ctx->execute());
    std::map<std::string, std::vector<float>> out;
    for (const TensorInfo& b : engine->bindings()) {
      if (b.is_input) continue;
      std::vector<float> v(static_cast<size_t>(volume(b.dims)));
      if (b.dtype == DataType::kFloat32) {
        EDGERT_RETURN_IF_ERROR(ctx->getOutput(b.name, v.data(), b.bytes()));
      } else if (b.dtype == DataType::kFloat16) {
        std::vector<uint16_t> h(v.size());
        EDGERT_RETURN_IF_ERROR(ctx->getOutput(b.name, h.data(), b.bytes()));
        for (size_t i = 0; i < v.size(); ++i) v[i] = halfToFloat(h[i]);
      } else {
        continue;  // integer outputs (argmax ...) are not compared
      }
      out[b.name] = std::move(v);
    }
    return out;
  }
};

// Per-sample outputs of a whole run over the images: output name -> sample -> values.
using Samples = std::map<std::string, std::vector<std::vector<float>>>;

Result<Samples> runAll(Runner& r, CalibrationSource& src, const std::string& input,
                       const Dims& dims, int images) {
  Samples s;
  const int64_t batch = dims[0];
  std::vector<float> x(static_cast<size_t>(volume(dims)));
  for (int first = 0; first < images; first += static_cast<int>(batch)) {
    EDGERT_RETURN_IF_ERROR(src.getSamples(first, input, dims, x.data()));
    EDGERT_ASSIGN_OR_RETURN(auto out, r.run(input, x));
    for (auto& [name, v] : out) {
      const size_t per = v.size() / static_cast<size_t>(batch);
      for (int64_t i = 0; i < batch && first + i < images; ++i)
        s[name].emplace_back(v.begin() + i * per, v.begin() + (i + 1) * per);
    }
  }
  return s;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return aa == 0 && bb == 0 ? 1.0 : ab / std::sqrt(aa * bb + 1e-300);
}

double relError(const std::vector<float>& got, const std::vector<float>& want) {
  double d = 0, w = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    d += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    w += double(want[i]) * want[i];
  }
  return std::sqrt(d / std::max(w, 1e-300));
}

std::vector<size_t> topK(const std::vector<float>& v, size_t k) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::min(k, v.size());
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](size_t a, size_t b) { return v[a] > v[b]; });
  idx.resize(k);
  return idx;
}

double maskIou(const std::vector<float>& a, const std::vector<float>& b, double t) {
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool x = a[i] > t, y = b[i] > t;
    inter += x && y;
    uni += x || y;
  }
  return uni ? double(inter) / uni : 1.0;
}

// "file.jpg 281" per line (the file name, or its path under --data); '#' comments.
Result<std::map<std::string, int>> readLabels(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(StatusCode::kNotFound, strCat(path, ": cannot open labels"));
  std::map<std::string, int> labels;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string file;
    int cls;
    if (!(ss >> file >> cls) || cls < 0)
      return Status(StatusCode::kInvalidArgument,
                    strCat(path, ":", n, ": expected '<image file> <class index>'"));
    labels[file] = cls;
  }
  return labels;
}

struct OutputReport {
  std::string name;
  double cos_min = 1, cos_mean = 0, rel_max = 0, rel_mean = 0;
  int top1 = 0, top5 = 0, classified = 0;  // classifier outputs ([N, C], C > 1)
  std::vector<std::string> flips;          // images whose top-1 differs
  double iou_min = 1, iou_mean = 0, inter = 0, uni = 0;
  std::string iou_worst;
  int acc_ref = 0, acc_engine = 0, labelled = 0;
};

}  // namespace

int cmdCompare(const CompareFlags& f) {
  auto backend = parseBackend(f.backend);
  if (!backend.ok()) return fail(backend.status());
  auto file = readFileBytes(f.engine, uint64_t{8} << 30);
  if (!file.ok()) return fail(file.status());
  const std::vector<uint8_t> bytes(file.value()->data.get(),
                                   file.value()->data.get() + file.value()->size);
  auto model = deserializeEngine(file.value(), f.engine);
  if (!model.ok()) return fail(model.status());
  std::string spec_text = f.preprocess;
  if (spec_text.empty()) spec_text = recordedPreprocess(model->build_options_json);
  if (spec_text.empty())
    return fail(Status(
        StatusCode::kInvalidArgument,
        strCat(f.engine,
               " records no image pre-processing (built without --preprocess, not "
               "calibrated on images): give --preprocess, e.g. resize=256,mean=127,std=128")));
  auto spec = vision::parsePreprocessSpec(spec_text);
  if (!spec.ok()) return fail(spec.status());

  auto tested = Runner::fromBytes(bytes, backend.value(), f.engine);
  if (!tested.ok()) return fail(tested.status());
  std::string input;
  Dims dims;
  for (const TensorInfo& b : tested->engine->bindings())
    if (b.is_input) {
      if (!input.empty())
        return fail(Status(StatusCode::kUnsupported,
                           "compare feeds images to one input; the engine has several"));
      input = b.name;
      dims = b.dims;
    }
  BuildOptions ro;
  ro.target = "cpu";
  ro.shapes[input] = dims;
  auto ref_bytes = buildEngine(f.onnx, ro);
  if (!ref_bytes.ok()) return fail(ref_bytes.status().withContext("the FP32 reference"));
  auto ref = Runner::fromBytes(ref_bytes.value(), Backend::kCpu, "fp32 reference");
  if (!ref.ok()) return fail(ref.status());

  auto files = listImages(f.data);
  if (!files.ok()) return fail(files.status());
  auto src = imageFolderCalibration(f.data, spec.value());
  if (!src.ok()) return fail(src.status());
  const int n = static_cast<int>(files->size());
  fmt::print("comparing {} with {} in FP32 (CPU) on {} image(s) from {} ({})\n", f.engine, f.onnx,
             n, f.data, spec_text);
  auto a = runAll(ref.value(), *src.value(), input, dims, n);
  if (!a.ok()) return fail(a.status().withContext("fp32 reference"));
  auto b = runAll(tested.value(), *src.value(), input, dims, n);
  if (!b.ok()) return fail(b.status().withContext(f.engine));

  std::map<std::string, int> labels;
  if (!f.labels.empty()) {
    auto l = readLabels(f.labels);
    if (!l.ok()) return fail(l.status());
    labels = std::move(l).value();
  }
  nlohmann::json report;
  report["engine"] = f.engine;
  report["onnx"] = f.onnx;
  report["images"] = n;
  report["preprocess"] = spec_text;
  bool all_ok = true;
  for (const auto& [name, ra] : a.value()) {
    auto it = b->find(name);
    if (it == b->end()) continue;
    const auto& rb = it->second;
    OutputReport o;
    o.name = name;
    const TensorInfo* info = tested->engine->binding(name);
    const bool classifier = info && info->dims.size() == 2 && info->dims[1] > 1;
    // Reference outputs that are (nearly) empty - a detector's map of a photo without text -
    // have no meaningful direction: they are left out of cosine and relative error.
    std::vector<double> norms;
    for (int i = 0; i < n; ++i)
      norms.push_back(std::inner_product(ra[i].begin(), ra[i].end(), ra[i].begin(), 0.0));
    std::vector<double> sorted = norms;
    std::sort(sorted.begin(), sorted.end());
    const double floor = 1e-6 * sorted[sorted.size() / 2];
    int counted = 0;
    for (int i = 0; i < n; ++i) counted += norms[i] > floor;
    for (int i = 0; i < n; ++i) {
      if (norms[i] > floor) {
        const double c = cosine(ra[i], rb[i]), e = relError(rb[i], ra[i]);
        o.cos_min = std::min(o.cos_min, c);
        o.cos_mean += c / counted;
        o.rel_max = std::max(o.rel_max, e);
        o.rel_mean += e / counted;
      }
      if (f.mask_threshold >= 0) {
        const double iou = maskIou(ra[i], rb[i], f.mask_threshold);
        if (iou < o.iou_min) {
          size_t on = 0;
          for (float v : ra[i]) on += v > f.mask_threshold;
          o.iou_worst = fmt::format("{}, {} FP32 pixels above",
                                    fs::path((*files)[i]).filename().string(), on);
        }
        o.iou_min = std::min(o.iou_min, iou);
        for (size_t k = 0; k < ra[i].size(); ++k) {
          const bool p = ra[i][k] > f.mask_threshold, q = rb[i][k] > f.mask_threshold;
          o.inter += p && q;
          o.uni += p || q;
        }
        o.iou_mean += iou / n;
      }
      if (classifier) {
        const auto ta = topK(ra[i], 5), tb = topK(rb[i], 5);
        ++o.classified;
        o.top1 += ta[0] == tb[0];
        if (ta[0] != tb[0])
          o.flips.push_back(fmt::format("{} (FP32 {} {:.3g} vs {} {:.3g}; engine {} {:.3g})",
                                        fs::path((*files)[i]).filename().string(), ta[0],
                                        ra[i][ta[0]], ta[1], ra[i][ta[1]], tb[0], rb[i][tb[0]]));
        o.top5 += std::find(tb.begin(), tb.end(), ta[0]) != tb.end();
        const std::string base = fs::path((*files)[i]).filename().string();
        auto lab = labels.find(base);
        if (lab == labels.end()) lab = labels.find((*files)[i]);
        if (lab != labels.end()) {
          ++o.labelled;
          o.acc_ref += static_cast<int>(ta[0]) == lab->second;
          o.acc_engine += static_cast<int>(tb[0]) == lab->second;
        }
      }
    }
    fmt::print(
        "output {}: cosine min {:.5f} mean {:.5f}, relative error max {:.4f} mean {:.4f}{}\n", name,
        o.cos_min, o.cos_mean, o.rel_max, o.rel_mean,
        counted < n ? fmt::format(" ({} near-empty reference output(s) left out)", n - counted)
                    : "");
    nlohmann::json j = {{"cosine_min", o.cos_min},
                        {"cosine_mean", o.cos_mean},
                        {"rel_error_max", o.rel_max},
                        {"rel_error_mean", o.rel_mean}};
    if (classifier) {
      fmt::print("  top-1 agreement {}/{} ({:.1f}%), FP32 top-1 in the engine's top-5 {}/{}\n",
                 o.top1, o.classified, 100.0 * o.top1 / o.classified, o.top5, o.classified);
      for (size_t k = 0; k < o.flips.size() && k < 10; ++k)
        fmt::print("    differs: {}\n", o.flips[k]);
      if (o.flips.size() > 10) fmt::print("    ... {} more\n", o.flips.size() - 10);
      j["top1_agreement"] = double(o.top1) / o.classified;
      j["top1_differs"] = o.flips;
      j["top5_agreement"] = double(o.top5) / o.classified;
    }
    if (f.mask_threshold >= 0) {
      const double pooled = o.uni > 0 ? o.inter / o.uni : 1.0;
      fmt::print("  maps > {}: IoU of all pixels {:.4f}; per image min {:.4f} ({}) mean {:.4f}\n",
                 f.mask_threshold, pooled, o.iou_min, o.iou_worst, o.iou_mean);
      j["iou_pooled"] = pooled;
      j["iou_min"] = o.iou_min;
      j["iou_mean"] = o.iou_mean;
    }
    if (o.labelled) {
      fmt::print("  accuracy on {} labelled image(s): FP32 {:.1f}%, engine {:.1f}%\n", o.labelled,
                 100.0 * o.acc_ref / o.labelled, 100.0 * o.acc_engine / o.labelled);
      j["accuracy_fp32"] = double(o.acc_ref) / o.labelled;
      j["accuracy_engine"] = double(o.acc_engine) / o.labelled;
    }
    report["outputs"][name] = j;
    all_ok &= std::isfinite(o.cos_min);
  }

  if (f.per_layer) {
    if (f.calib_cache.empty())
      return fail(Status(StatusCode::kInvalidArgument,
                         "--per-layer builds INT8 variants of the model: give the --calib-cache "
                         "the engine was built with"));
    std::vector<std::string> layers;
    for (const Node& nd : model->graph.nodes)
      if (nd.precision == "int8") layers.push_back(nd.name);
    fmt::print("per layer: the worst output cosine when only that layer is INT8 ({} layers)\n",
               layers.size());
    std::vector<std::pair<double, std::string>> rows;
    for (const std::string& l : layers) {
      BuildOptions o;
      o.target = "cpu";
      o.precision = "int8";
      o.shapes[input] = dims;
      o.calib_cache = f.calib_cache;
      o.layer_precisions = {{"*", "fp32"}, {l, "int8"}};
      auto eb = buildEngine(f.onnx, o);
      if (!eb.ok()) return fail(eb.status().withContext(strCat("layer '", l, "'")));
      auto r = Runner::fromBytes(eb.value(), Backend::kCpu, l);
      if (!r.ok()) return fail(r.status());
      auto s = runAll(r.value(), *src.value(), input, dims, n);
      if (!s.ok()) return fail(s.status());
      double worst = 1;
      for (const auto& [name, ra] : a.value()) {
        double mid = 0;
        std::vector<double> nn;
        for (int i = 0; i < n; ++i)
          nn.push_back(std::inner_product(ra[i].begin(), ra[i].end(), ra[i].begin(), 0.0));
        std::vector<double> srt = nn;
        std::sort(srt.begin(), srt.end());
        mid = srt[srt.size() / 2];
        for (int i = 0; i < n; ++i)
          if (nn[i] > 1e-6 * mid) worst = std::min(worst, cosine(ra[i], s->at(name)[i]));
      }
      rows.push_back({worst, l});
    }
    std::sort(rows.begin(), rows.end());
    for (const auto& [c, l] : rows) {
      fmt::print("  {:.5f}  {}\n", c, l);
      report["per_layer"][l] = c;
    }
    if (!rows.empty())
      fmt::print("keep the first ones in FP16: --layer-precision '{}=fp16' ...\n",
                 rows.front().second);
  }
  if (!f.json.empty()) {
    const std::string text = report.dump(2);
    Status st = writeFileAtomically(f.json, text.data(), text.size());
    if (!st.ok()) return fail(st);
  }
  return all_ok ? 0 : 1;
}

}  // namespace edgert::cli
