#include "edgert/builder.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "build_graph.h"
#include "calib_cache.h"
#include "calibrator.h"
#include "edgert/edgert.h"
#include "edgert/internal/backends.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/op.h"
#include "edgert/internal/str.h"
#include "onnx_import.h"
#include "passes.h"
#include "qdq_import.h"
#include "quantize_graph.h"
#include "tactic_choice.h"
#include "timed_precision.h"
#include "timing_cache.h"

namespace edgert {

namespace {
// "a,b,,c" -> {"a", "b", "", "c"}: the comma lists of --shapes and --target.
std::vector<std::string> splitList(const std::string& spec) {
  std::vector<std::string> items;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t end = spec.find(',', pos);
    if (end == std::string::npos) end = spec.size();
    items.push_back(spec.substr(pos, end - pos));
    pos = end + 1;
  }
  return items;
}
}  // namespace

Result<std::map<std::string, Dims>> parseShapes(const std::string& spec) {
  std::map<std::string, Dims> out;
  for (const std::string& item : splitList(spec)) {
    if (item.empty()) continue;
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size())
      return Status(StatusCode::kInvalidArgument,
                    strCat("shape '", item, "' is not of the form name:1x3x224x224"));
    Dims dims;
    const std::string d = item.substr(colon + 1);
    size_t p = 0;
    while (p <= d.size()) {
      size_t x = d.find('x', p);
      if (x == std::string::npos) x = d.size();
      const std::string num = d.substr(p, x - p);
      if (num.empty() || num.size() > 12 || !std::all_of(num.begin(), num.end(), ::isdigit))
        return Status(StatusCode::kInvalidArgument,
                      strCat("shape '", item, "': '", num, "' is not a non-negative dim"));
      dims.push_back(std::stoll(num));
      p = x + 1;
    }
    out[item.substr(0, colon)] = std::move(dims);
  }
  return out;
}

std::vector<std::string> supportedOps() {
  std::vector<std::string> ops;
  for (const OpDef* d : allOps())
    if (!isInternalOp(d->name)) ops.push_back(d->name);
  ops.push_back("Constant");  // imported as a constant
  ops.push_back("Upsample");  // imported as Resize
  std::sort(ops.begin(), ops.end());
  return ops;
}

// cpu | host (this machine's GPU, else cpu) | cuda (this GPU) | jetson-orin | jetson-thor |
// sm_XX[,sm_YY]
Result<EngineTarget> resolveTarget(const std::string& spec) {
  EngineTarget t;
  t.cpu_arch = "any";  // weights are fp32 in a portable layout; the CPU fallback runs anywhere
  if (spec == "cpu") return t;
  t.backend = "cuda";
  if (spec == "host" || spec == "cuda") {
    Status st = cudaAvailable();
    if (!st.ok()) {
      if (spec == "host") {
        t.backend = "cpu";
        return t;
      }
      return st.withContext("--target cuda");
    }
    t.sm = cudaDeviceSms();
    return t;
  }
  if (spec == "jetson-orin") {
    t.sm = {87};
  } else if (spec == "jetson-thor") {
    t.sm = {110};
  } else {
    for (const std::string& item : splitList(spec)) {
      if (item.size() < 5 || item.size() > 7 || item.rfind("sm_", 0) != 0 ||
          item.find_first_not_of("0123456789", 3) != std::string::npos)
        return Status(
            StatusCode::kInvalidArgument,
            strCat("target '", spec,
                   "' is not cpu, host, cuda, jetson-orin, jetson-thor or sm_XX[,sm_YY]"));
      t.sm.push_back(std::stoi(item.substr(3)));
    }
  }
  // An offline build for a GPU the host lacks still needs the CUDA kernels' registry to
  // assign layers; without it every layer would silently become a CPU fallback.
  if (!cudaBackendCompiled())
    return Status(StatusCode::kUnsupported,
                  strCat("target '", spec,
                         "' needs edgert's CUDA backend, and this edgert was built without it (no "
                         "CUDA toolkit at build time): build edgert with nvcc, or use --target "
                         "cpu"));
  return t;
}

namespace {

Result<std::vector<uint8_t>> buildImported(ImportedModel im, const std::string& onnx_path,
                                           const BuildOptions& opt, BuildReport* report);

Status checkOptions(const BuildOptions& opt) {
  if (opt.input_format != "fp32" && opt.input_format != "fp16")
    return Status(StatusCode::kInvalidArgument,
                  strCat("input format must be fp32 or fp16, got '", opt.input_format, "'"));
  if (opt.precision != "fp32" && opt.precision != "fp16" && opt.precision != "int8")
    return Status(StatusCode::kInvalidArgument,
                  strCat("precision must be fp32, fp16 or int8, got '", opt.precision, "'"));
  EDGERT_RETURN_IF_ERROR(parseCalibAlgo(opt.calib_algo).status());
  if (!(opt.calib_percentile > 0 && opt.calib_percentile <= 100))
    return Status(StatusCode::kInvalidArgument,
                  strCat("calibration percentile must be in (0, 100], got ", opt.calib_percentile));
  for (const auto& [v, what] : {std::pair{opt.int8_min_cosine, "int8 minimum cosine"},
                                std::pair{opt.int8_min_top1, "int8 minimum top-1 agreement"}})
    if (!(v >= 0 && v <= 1))
      return Status(StatusCode::kInvalidArgument, strCat(what, " must be in [0, 1], got ", v));
  if (opt.calib_batches < 0)
    return Status(StatusCode::kInvalidArgument,
                  strCat("calibration batches must be >= 0, got ", opt.calib_batches));
  if (!opt.layer_precisions.empty() && opt.precision != "int8")
    return Status(StatusCode::kInvalidArgument,
                  "layer_precisions applies to int8 builds (precision int8)");
  return Status::Ok();
}

}  // namespace

Result<std::vector<uint8_t>> buildEngine(const std::string& onnx_path, const BuildOptions& opt,
                                         BuildReport* report) {
  EDGERT_RETURN_IF_ERROR(checkOptions(opt));
  if (opt.progress) opt.progress("import", 0);
  EDGERT_ASSIGN_OR_RETURN(ImportedModel im, importOnnx(onnx_path));
  return buildImported(std::move(im), onnx_path, opt, report);
}

Result<std::vector<uint8_t>> buildFromGraph(ImportedModel model, const std::string& origin,
                                            const BuildOptions& opt, BuildReport* report) {
  EDGERT_RETURN_IF_ERROR(checkOptions(opt));
  return buildImported(std::move(model), origin, opt, report);
}

Result<std::vector<uint8_t>> buildEngineFromMemory(const void* data, size_t size,
                                                   const std::string& origin,
                                                   const BuildOptions& opt, BuildReport* report) {
  EDGERT_RETURN_IF_ERROR(checkOptions(opt));
  EDGERT_ASSIGN_OR_RETURN(ImportedModel im, importOnnxBytes(data, size, origin, ""));
  return buildImported(std::move(im), origin, opt, report);
}

namespace {

// Automatic mixed precision (BuildOptions::int8_min_cosine, int8_min_top1): measures each INT8
// candidate's cost alone (its worst cosine), then keeps the costliest in float until the whole
// network is close enough by both measures. (Ranking by the top-1 margin each layer alone takes
// from the misclassified samples was tried for the top-1 target: EfficientNet-Lite0's near-tie
// photo still needed 29 layers in float instead of 30 - its flip is the sum of many layers'
// small errors, not a few layers' - and was removed.)
Status keepSensitiveLayers(const Graph& g, const CalibrationCache& thresholds,
                           const BuildOptions& opt, const QuantizeOptions& qopt,
                           std::map<std::string, std::string>& precisions, BuildReport& rep) {
  if (!opt.calibration)
    return Status(StatusCode::kInvalidArgument,
                  "int8_min_cosine / int8_min_top1 compare with the float network on calibration "
                  "samples: give --calib-dir as well as the cache");
  const int batches = std::max(1, opt.int8_check_batches);
  EDGERT_ASSIGN_OR_RETURN(const BatchOutputs ref, runOnSamples(g, *opt.calibration, batches));
  struct Check {
    double cosine, top1;
  };
  auto checkWith = [&](const std::map<std::string, std::string>& p) -> Result<Check> {
    Graph q = g;
    EDGERT_RETURN_IF_ERROR(quantizeGraph(q, thresholds, p, qopt).status());
    EDGERT_ASSIGN_OR_RETURN(const BatchOutputs out, runOnSamples(q, *opt.calibration, batches));
    const auto [top1, samples] = top1Agreement(g, ref, out);
    rep.int8_check_samples = samples;
    return Check{minCosine(g, ref, out), top1};
  };
  auto met = [&] {
    return rep.int8_cosine >= opt.int8_min_cosine && rep.int8_top1 >= opt.int8_min_top1;
  };
  EDGERT_ASSIGN_OR_RETURN(const Check all, checkWith(precisions));
  rep.int8_cosine = rep.int8_cosine_all = all.cosine;
  rep.int8_top1 = rep.int8_top1_all = all.top1;
  if (met()) return Status::Ok();
  std::vector<std::pair<double, std::string>> alone;
  const std::vector<std::string> layers = int8CandidateLayers(g);
  for (size_t i = 0; i < layers.size(); ++i) {
    if (opt.progress) opt.progress("int8 sensitivity", double(i) / layers.size());
    auto it = precisions.find(layers[i]);
    if (it != precisions.end() && it->second != "int8") continue;
    EDGERT_ASSIGN_OR_RETURN(const Check c, checkWith({{"*", "fp32"}, {layers[i], "int8"}}));
    alone.push_back({c.cosine, layers[i]});
  }
  if (opt.progress) opt.progress("int8 sensitivity", 1);
  std::sort(alone.begin(), alone.end());
  for (size_t i = 0; i < alone.size() && !met(); ++i) {
    if (opt.progress) opt.progress("int8 mixed precision", double(i) / alone.size());
    precisions[alone[i].second] = "fp16";
    rep.int8_auto_float.push_back({alone[i].second, alone[i].first});
    EDGERT_ASSIGN_OR_RETURN(const Check now, checkWith(precisions));
    rep.int8_cosine = now.cosine;
    rep.int8_top1 = now.top1;
  }
  if (opt.progress) opt.progress("int8 mixed precision", 1);
  return Status::Ok();
}

// Thresholds from the cache or by calibrating (then cached), then the quantisation pass.
// `calib` (may be null): thresholds a build of the same model found earlier (used as they are,
// no cache read, no calibration), or where this one's go.
Status quantizeForInt8(Graph& g, const std::string& fingerprint, const ExplicitQuantization* eq,
                       const BuildOptions& opt, BuildReport& rep, QuantizeReport* plan,
                       CalibrationCache* calib) {
  QuantizeOptions qopt;
  qopt.allow_unsigned = !opt.int8_symmetric;
  auto report = [&](QuantizeReport q) {
    rep.int8_layers = q.int8_layers;
    rep.quantize_layers = q.quantize_nodes;
    rep.int8_pools = q.int8_pools;
    rep.int8_bias_corrected = q.bias_corrected;
    rep.int8_unsigned_tensors = q.unsigned_tensors;
    rep.int8_adaptively_rounded = q.adaptively_rounded;
    rep.int8_kept_float = q.kept_float;
    rep.int8_unsupported = q.unsupported;
    if (plan) *plan = std::move(q);
  };
  if (eq) {
    // Explicit quantisation: the model's own scales and weights, no calibration; layers whose
    // input the model does not quantise stay float.
    qopt.given_weights = &eq->weights;
    qopt.zero_points = &eq->zero_points;
    qopt.float_without_threshold = true;
    qopt.correct_bias = false;
    EDGERT_ASSIGN_OR_RETURN(QuantizeReport q,
                            quantizeGraph(g, eq->thresholds, opt.layer_precisions, qopt));
    rep.int8_explicit = true;
    report(std::move(q));
    return Status::Ok();
  }
  // Before calibration: it changes the activations calibration measures.
  rep.int8_equalized_pairs = equalizeCrossLayer(g);
  // EDGERT_INT8_NO_ADAPTIVE_ROUNDING=1: nearest rounding (to compare); the cache then has none.
  const bool adaptive_rounding = std::getenv("EDGERT_INT8_NO_ADAPTIVE_ROUNDING") == nullptr;
  CalibrationCache cache;
  const bool cached = !opt.calib_cache.empty() && std::filesystem::exists(opt.calib_cache);
  if (calib && !calib->thresholds.empty()) {
    cache = *calib;
  } else if (cached) {
    EDGERT_ASSIGN_OR_RETURN(cache, loadCalibrationCache(opt.calib_cache));
    EDGERT_RETURN_IF_ERROR(checkCalibrationModel(cache, fingerprint, opt.calib_cache));
    rep.int8_cache_without_means = cache.means.empty();
    rep.int8_cache_without_rounding = cache.version < 3;
  } else {
    if (!opt.calibration)
      return Status(StatusCode::kInvalidArgument,
                    "precision int8 needs calibration data: --calib-dir DIR with images (or "
                    "--calib-cache FILE written by an earlier build of this model)");
    EDGERT_ASSIGN_OR_RETURN(const CalibAlgo algo, parseCalibAlgo(opt.calib_algo));
    const auto t0 = std::chrono::steady_clock::now();
    EDGERT_ASSIGN_OR_RETURN(CalibrationRun run,
                            calibrate(
                                g, *opt.calibration, opt.calib_batches, algo, opt.calib_percentile,
                                [&](double f) {
                                  if (opt.progress) opt.progress("int8 calibration", f);
                                },
                                true, adaptive_rounding));
    rep.calib_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rep.calib_batches_run = run.batches;
    cache.model = fingerprint;
    cache.algorithm = opt.calib_algo;
    cache.percentile = opt.calib_percentile;
    cache.thresholds = std::move(run.thresholds);
    cache.means = std::move(run.means);
    cache.clipped_means = std::move(run.clipped_means);
    cache.rounding = adaptiveRounding(g, run.window_moments);
    if (!opt.calib_cache.empty()) {
      const std::string text = formatCalibrationCache(cache);
      EDGERT_RETURN_IF_ERROR(writeFileAtomically(opt.calib_cache, text.data(), text.size()));
      rep.calib_cache_written = opt.calib_cache;
    }
  }
  if (calib) *calib = cache;
  std::map<std::string, std::string> precisions = opt.layer_precisions;
  if (opt.int8_min_cosine > 0 || opt.int8_min_top1 > 0)
    EDGERT_RETURN_IF_ERROR(keepSensitiveLayers(g, cache, opt, qopt, precisions, rep));
  EDGERT_ASSIGN_OR_RETURN(QuantizeReport q, quantizeGraph(g, cache, precisions, qopt));
  report(std::move(q));
  return Status::Ok();
}

// Whether a float layer of a GPU engine runs in FP16 (NHWC): every one of an FP16 engine, and
// an INT8 engine's unless the build config keeps the layer in FP32.
bool gpuFloatLayerInFp16(const BuildOptions& opt, const std::string& layer) {
  if (opt.precision == "fp16") return true;
  const std::string* lp = layerPrecision(opt.layer_precisions, layer);
  return opt.precision == "int8" && !(lp && *lp == "fp32");
}

}  // namespace

Status optimizeGraph(Graph& g, const std::string& onnx_path, const BuildOptions& opt,
                     const EngineTarget& target, BuildReport& rep, PassStats& stats,
                     QuantizeReport* plan, CalibrationCache* calib) {
  auto progress = [&](const std::string& stage, double f) {
    if (opt.progress) opt.progress(stage, f);
  };
  const std::string fingerprint = opt.precision == "int8" ? modelFingerprint(g) : "";
  // Q/DQ models: their scales and int8 weights, taken before constant folding dequantises.
  std::optional<ExplicitQuantization> explicit_q;
  if (opt.precision == "int8" && hasQdq(g)) explicit_q = takeExplicitQuantization(g);
  rep.onnx_nodes = g.nodes.size();
  EDGERT_RETURN_IF_ERROR(resolveInputShapes(g, opt, onnx_path));
  if (opt.input_format == "fp16") halfInputBindings(g);
  Status st =
      inferAndFold(g, stats, [&](double f) { progress("shape inference + constant folding", f); });
  if (!st.ok()) return st.withContext(onnx_path);
  simplifyTransposes(g, stats);
  removeIdentities(g, stats);
  // On the GPU, 2-D convolutions in FP16 or INT8 run on NHWC kernels that pad asymmetrically
  // (EfficientNet's stride-2 "same" pads: ~20% of EfficientNet-Lite0's FP16 time as Pad
  // layers); an FP32 one runs on cuDNN's legacy API, which pads symmetrically only.
  foldPadIntoConv(g, stats, [&](const Node& conv) {
    if (target.backend != "cuda") return true;
    if (conv.inputs.empty() || conv.inputs[0] < 0 || g.tensors[conv.inputs[0]].dims.size() != 4)
      return false;
    return gpuFloatLayerInFp16(opt, conv.name);
  });
  foldBatchNorm(g, stats);
  fuseConvEpilogues(g, stats);
  if (opt.fuse_elementwise) fuseElementwise(g, stats);
  eliminateDeadCode(g, stats);
  if (opt.precision == "int8") {
    EDGERT_RETURN_IF_ERROR(
        quantizeForInt8(g, fingerprint, explicit_q ? &*explicit_q : nullptr, opt, rep, plan, calib)
            .withContext(onnx_path));
    eliminateDeadCode(g, stats);
  }
  return Status::Ok();
}

namespace {

// Tactic timing needs the GPU the engine is for: this machine's.
bool timesTactics(const BuildOptions& opt, const EngineTarget& target) {
  if (!opt.tactic_timing || target.backend != "cuda") return false;
  const std::vector<int> sms = cudaDeviceSms();
  return !sms.empty() && std::find(target.sm.begin(), target.sm.end(), sms[0]) != target.sm.end();
}

// What the builds of one timed precision choice share: the timing cache (loaded once), the
// calibration thresholds (found once), and what each build timed.
struct BuildState {
  bool timing_loaded = false;
  TimingCache timing;
  CalibrationCache calib;
  // Each timed convolution's best time by layer name, and the last build's INT8 ones in graph
  // order.
  std::map<std::string, double> conv_ms;
  std::vector<std::pair<std::string, double>> int8_ms;
};

Result<std::vector<uint8_t>> buildOne(ImportedModel im, const std::string& onnx_path,
                                      const BuildOptions& opt, BuildReport* report,
                                      BuildState* state) {
  auto progress = [&](const std::string& stage, double f) {
    if (opt.progress) opt.progress(stage, f);
  };
  EDGERT_ASSIGN_OR_RETURN(EngineTarget target, resolveTarget(opt.target));
  if (opt.precision == "fp16" && target.backend != "cuda")
    return Status(
        StatusCode::kUnsupported,
        strCat(
            "precision fp16 needs a CUDA target (--target host|cuda|jetson-orin|sm_XX); target '",
            opt.target, "' resolved to the CPU backend, which runs fp32"));
  progress("import", 1);
  Graph& g = im.graph;
  BuildReport rep;
  PassStats stats;
  EDGERT_RETURN_IF_ERROR(optimizeGraph(g, onnx_path, opt, target, rep, stats, nullptr,
                                       state ? &state->calib : nullptr));
  // Not INT8 GPU engines yet: the split's arena model knows only float32 and fp16 tensors.
  const bool int8_gpu = opt.precision == "int8" && target.backend == "cuda";
  const BatchSplitReport split =
      int8_gpu ? BatchSplitReport{}
               : splitBatchForMemory(g, opt.batch_split, opt.precision == "fp16");
  if (split.chains) eliminateDeadCode(g, stats);
  finalizeOutputs(g);
  std::vector<std::string> fallback;
  const bool timing = timesTactics(opt, target);
  BuildState local;
  BuildState& st = state ? *state : local;
  TimingCache& cache = st.timing;
  if (!opt.timing_cache.empty() && !st.timing_loaded) {
    EDGERT_ASSIGN_OR_RETURN(cache, loadTimingCache(opt.timing_cache));
  }
  st.timing_loaded = true;
  // The GPU and the build of edgert (its tactics and kernels) the timings hold for.
  const std::string device = timing ? strCat(cudaDeviceName(), " [", cudaTacticSetId(), "]") : "";
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    // A max pool on int8 (quantize_graph.cpp) runs with the INT8 layers, on their NHWC int8.
    const bool int8_pool = n.op == "MaxPool" && !n.inputs.empty() && n.inputs[0] >= 0 &&
                           g.tensors[n.inputs[0]].dtype == DataType::kInt8;
    n.precision = n.op == "EdgertQConv" || int8_pool ? "int8" : "fp32";
    n.tactic = "cpu-ref";
    if (target.backend != "cuda") continue;
    // INT8 on the GPU: quantisation layers with the INT8 ones (NHWC int8 between them), the
    // float layers in FP16 unless the build config asks for FP32.
    if (int8_gpu && (n.op == "QuantizeLinear" || n.op == "DequantizeLinear")) n.precision = "int8";
    const bool float_fp16 = gpuFloatLayerInFp16(opt, n.name);
    NodeContext c = nodeContext(g, n, true);
    c.fp16 = n.precision == "int8" || float_fp16;
    if (cudaSupportsNode(c)) {
      n.tactic = "cuda";
      // FP16: convolutions and GEMMs on tensor cores with FP32 accumulation; the float
      // layers between convolutions may keep their activations in NHWC fp16 (the runtime
      // does so where it has such a kernel, and converts where the chain ends).
      bool float_out = true;
      for (const ValueInfo& v : c.out) float_out &= v.dtype == DataType::kFloat32;
      const bool tc = n.op == "Conv" || n.op == "Gemm" || n.op == "MatMul";
      if (float_fp16 && (tc || float_out) && n.precision != "int8") n.precision = "fp16";
      if (timing && (n.op == "Conv" || n.op == "EdgertQConv")) {
        progress("tactic timing", double(i) / g.nodes.size());
        const NodeContext tc_ctx = nodeContext(g, n, true);
        const std::string key =
            strCat(device, "\t", layerSignature(tc_ctx), " ws<=", opt.max_workspace_mib, "MiB");
        if (auto it = cache.entries.find(key); it != cache.entries.end()) {
          n.tactic = it->second.tactic;
          st.conv_ms[n.name] = it->second.ms;
          ++rep.tactics_cached;
        } else {
          auto times = cudaTimeTactics(tc_ctx);
          if (!times.ok())
            return times.status().withContext(strCat("timing ", n.op, " '", n.name, "'"));
          if (!times->empty()) {
            const TacticTime& best = chooseTactic(times.value(), opt.max_workspace_mib << 20);
            n.tactic = best.tactic;
            cache.entries[key] = {best.tactic, best.ms};
            st.conv_ms[n.name] = best.ms;
            cache.dirty = true;
            ++rep.tactics_timed;
          }
        }
      }
    } else {
      n.tactic = "cpu-fallback";
      fallback.push_back(strCat(n.op, " '", n.name, "'"));
    }
  }
  rep.cpu_fallback_layers = fallback;
  if (timing) progress("tactic timing", 1);
  if (!opt.timing_cache.empty() && cache.dirty) {
    EDGERT_RETURN_IF_ERROR(saveTimingCache(opt.timing_cache, cache));
    cache.dirty = false;
  }
  st.int8_ms.clear();  // this build's INT8 layers only
  for (const Node& n : g.nodes)
    if (n.op == "EdgertQConv" && st.conv_ms.count(n.name))
      st.int8_ms.push_back({n.name, st.conv_ms[n.name]});
  progress("memory plan", 0);
  EngineModel m;
  m.plan = planMemory(g);
  // Scratch: the largest any kernel asks for.
  for (const Node& n : g.nodes) {
    const NodeContext c = nodeContext(g, n, true);
    auto k = findOp(n.op)->create_cpu(c);
    if (!k.ok()) return k.status().withContext(onnx_path);
    m.plan.scratch_bytes = std::max<uint64_t>(m.plan.scratch_bytes, k.value()->scratchBytes());
  }
  progress("memory plan", 1);
  EDGERT_RETURN_IF_ERROR(
      validateGraph(g).withContext(strCat(onnx_path, ": internal check after optimisation")));
  m.target = target;
  m.edgert_version = versionString();
  m.source = std::filesystem::path(onnx_path).filename().string();
  nlohmann::json bo;
  bo["precision"] = opt.precision;
  bo["target"] = opt.target;
  bo["opset"] = im.opset;
  if (opt.input_format != "fp32") bo["input_format"] = opt.input_format;
  if (!opt.calib_preprocess.empty()) bo["preprocess"] = opt.calib_preprocess;
  if (opt.precision == "int8") {
    bo["int8"]["layers"] = rep.int8_layers;
    if (!opt.calib_preprocess.empty()) bo["int8"]["preprocess"] = opt.calib_preprocess;
    bo["int8"]["calibration"] = rep.calib_batches_run
                                    ? strCat(rep.calib_batches_run, " batches, ", opt.calib_algo)
                                    : std::string("from cache ") + opt.calib_cache;
    for (const auto& [k, v] : opt.layer_precisions) bo["int8"]["layer_precisions"][k] = v;
    if (opt.int8_symmetric) bo["int8"]["symmetric"] = true;
    if (rep.int8_explicit) bo["int8"]["calibration"] = "explicit (the model's Q/DQ scales)";
    for (const auto& [k, v] : rep.int8_auto_float) bo["int8"]["kept_float_auto"].push_back(k);
    if (rep.int8_cosine > -2) bo["int8"]["check_cosine"] = rep.int8_cosine;
    if (rep.int8_top1 >= 0) bo["int8"]["check_top1"] = rep.int8_top1;
  }
  bo["producer"] = im.producer;
  for (const auto& [k, v] : opt.shapes) bo["shapes"][k] = dimsToString(v);
  for (const auto& [k, v] : opt.freeze) bo["frozen_inputs"].push_back(k);
  // Names come from the model file and need not be valid UTF-8.
  m.build_options_json = bo.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const TensorEntry& t : g.tensors)
    if (t.isConstant()) rep.weight_bytes += t.constant->bytes();
  m.graph = std::move(g);
  progress("write", 0);
  EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, serializeEngine(m));
  progress("write", 1);
  rep.layers = m.graph.nodes.size();
  rep.folded_nodes = stats.folded;
  rep.removed_nodes = stats.removed;
  rep.arena_bytes = m.plan.arena_bytes;
  rep.split_chains = split.chains;
  rep.split_layers = split.layers;
  rep.arena_unsplit_bytes = split.arena_before;
  rep.engine_bytes = bytes.size();
  if (report) *report = rep;
  return bytes;
}

BuildOptions withProgressPrefix(BuildOptions o, const std::string& prefix) {
  if (o.progress)
    o.progress = [p = o.progress, prefix](const std::string& stage, double f) {
      p(prefix + stage, f);
    };
  return o;
}

// BuildOptions::int8_timed_precision: the all-INT8 build, the same network timed in FP16, then
// the engines with layers moved to FP16 (those faster there; those more than 1.4x faster, whose
// move pays for a conversion more surely; every candidate), timed whole; the fastest wins.
Result<std::vector<uint8_t>> buildImported(ImportedModel im, const std::string& onnx_path,
                                           const BuildOptions& opt, BuildReport* report) {
  EDGERT_ASSIGN_OR_RETURN(const EngineTarget target, resolveTarget(opt.target));
  if (opt.precision != "int8" || !opt.int8_timed_precision || target.backend != "cuda")
    return buildOne(std::move(im), onnx_path, opt, report, nullptr);
  if (!timesTactics(opt, target)) {
    EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes,
                            buildOne(std::move(im), onnx_path, opt, report, nullptr));
    if (report && !report->int8_explicit)
      report->int8_timed_note =
          opt.tactic_timing
              ? "every candidate stays INT8: choosing FP16 where it is faster needs the "
                "engine's GPU in this machine (build on the target, or keep layers in FP16 "
                "with layer_precisions)"
              : "every candidate stays INT8: choosing FP16 where it is faster needs tactic "
                "timing";
    return bytes;
  }
  const ImportedModel original = im;
  BuildState st;
  BuildReport rep;
  EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> best,
                          buildOne(std::move(im), onnx_path, opt, &rep, &st));
  auto done = [&](std::vector<uint8_t> bytes) {
    if (report) *report = rep;
    return bytes;
  };
  if (rep.int8_explicit || st.int8_ms.empty()) return done(std::move(best));

  BuildOptions fo = withProgressPrefix(opt, "FP16 timing: ");
  fo.precision = "fp16";
  fo.layer_precisions.clear();
  fo.int8_min_cosine = fo.int8_min_top1 = 0;
  fo.batch_split = 0;  // the INT8 layers' batch
  BuildState fs;
  fs.timing = std::move(st.timing);
  fs.timing_loaded = true;
  BuildReport frep;
  auto fp16 = buildOne(original, onnx_path, fo, &frep, &fs);
  st.timing = std::move(fs.timing);
  if (!fp16.ok()) return fp16.status().withContext("timing the INT8 layers in FP16");
  rep.tactics_timed += frep.tactics_timed;
  rep.tactics_cached += frep.tactics_cached;
  rep.int8_faster_in_fp16 =
      layersFasterInFp16(st.int8_ms, fs.conv_ms, opt.layer_precisions, kFasterInFp16);
  if (rep.int8_faster_in_fp16.empty()) return done(std::move(best));

  const std::vector<PrecisionChoice> choices =
      precisionChoices(st.int8_ms, fs.conv_ms, opt.layer_precisions);

  // A timing that fails (the context does not fit beside the builder's own memory) leaves the
  // engine all INT8 and says so; it does not fail a build that would succeed without it.
  auto int8_ms = medianEngineMs(best, strCat(onnx_path, " (all INT8, timed)"));
  if (!int8_ms.ok()) {
    rep.int8_timed_note = strCat("every candidate stays INT8: timing the engine failed: ",
                                 int8_ms.status().message());
    return done(std::move(best));
  }
  rep.int8_timed_engines = {{"all INT8", 0, int8_ms.value()}};
  const BuildReport all_int8 = rep;
  for (const PrecisionChoice& choice : choices) {
    BuildOptions mo = withProgressPrefix(opt, "mixed precision: ");
    for (const std::string& l : choice.layers) mo.layer_precisions[l] = "fp16";
    // The accuracy check ran on the all-INT8 build; its float layers stay float.
    for (const auto& [layer, cosine] : all_int8.int8_auto_float)
      mo.layer_precisions[layer] = "fp16";
    mo.int8_min_cosine = mo.int8_min_top1 = 0;
    BuildReport mrep;
    EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> mixed,
                            buildOne(original, onnx_path, mo, &mrep, &st));
    auto timed = medianEngineMs(
        mixed, strCat(onnx_path, " (", choice.name, ", ", choice.layers.size(), " layers, timed)"));
    if (!timed.ok()) {
      rep.int8_timed_note =
          strCat("the '", choice.name, "' engine was not timed: ", timed.status().message());
      continue;
    }
    const double ms = timed.value();
    rep.int8_timed_engines.push_back({choice.name, choice.layers.size(), ms});
    rep.tactics_timed += mrep.tactics_timed;
    rep.tactics_cached += mrep.tactics_cached;
    if (ms >= rep.int8_timed_engines[rep.int8_timed_kept].ms) continue;
    best = std::move(mixed);
    // The kept engine's own counts, with the accuracy check and calibration of the first build.
    BuildReport kept = mrep;
    for (double BuildReport::*f :
         {&BuildReport::int8_cosine_all, &BuildReport::int8_cosine, &BuildReport::int8_top1_all,
          &BuildReport::int8_top1, &BuildReport::calib_seconds})
      kept.*f = all_int8.*f;
    kept.int8_check_samples = all_int8.int8_check_samples;
    kept.int8_auto_float = all_int8.int8_auto_float;
    kept.calib_batches_run = all_int8.calib_batches_run;
    kept.calib_cache_written = all_int8.calib_cache_written;
    kept.tactics_timed = rep.tactics_timed;
    kept.tactics_cached = rep.tactics_cached;
    kept.int8_faster_in_fp16 = rep.int8_faster_in_fp16;
    kept.int8_timed_engines = rep.int8_timed_engines;
    kept.int8_timed_kept = rep.int8_timed_engines.size() - 1;
    kept.int8_timed_note = rep.int8_timed_note;
    rep = std::move(kept);
  }
  return done(std::move(best));
}

}  // namespace

Status buildEngineFile(const std::string& onnx_path, const std::string& engine_path,
                       const BuildOptions& options, BuildReport* report) {
  EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, buildEngine(onnx_path, options, report));
  return writeFileAtomically(engine_path, bytes.data(), bytes.size());
}

}  // namespace edgert
