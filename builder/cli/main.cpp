// edgert: build, inspect and run engines.
#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "../src/build_config.h"
#include "../src/npy.h"
#include "../src/onnx_import.h"
#include "edgert/builder.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/half.h"
#include "edgert/internal/str.h"
#include "tensor_calibration.h"
#ifdef EDGERT_CLI_HAS_OPENCV
#include "compare.h"
#include "edgert/vision/element_config.h"
#include "edgert/vision/yaml_section.h"
#include "image_calibration.h"
#endif

namespace fs = std::filesystem;
using namespace edgert;

namespace {

int fail(const Status& st) {
  fmt::print(stderr, "edgert: error: {}\n", st.toString());
  return 1;
}

// One line per stage; on a terminal it redraws in place.
void showProgress(const std::string& stage, double f) {
  static std::string last;
  const bool tty = ::isatty(2);
  if (tty) {
    fmt::print(stderr, "\r  {:<40} {:3.0f}%", stage, f * 100);
    if (f >= 1) fmt::print(stderr, "\n");
  } else if (f >= 1 && stage != last) {
    fmt::print(stderr, "  {:<40} done\n", stage);
  }
  if (f >= 1) last = stage;
}

struct BuildFlags {
  std::string onnx, output, config, shapes, precision, target, timing_cache, input_format;
  bool quiet = false, verbose = false, no_fuse = false, no_timing = false;
  int workspace_mib = 0, batch_split = -1;
  // INT8
  std::string calib_dir, calib_algo, calib_cache, calib_preprocess;
  double calib_percentile = 0, int8_min_cosine = -1;
  int calib_batches = -1, int8_check_batches = 0;
  std::vector<std::string> layer_precisions;  // NAME=PREC
};

// The calibration image source from --calib-dir / calibration.images, pre-processed as
// --calib-preprocess or calibration.preprocess says. Sets `spec_text` to the CLI form of the
// pre-processing (recorded in the engine, so `edgert compare` feeds images the same way).
Status setImageCalibration(const BuildFlags& f, const BuildConfig* cfg, BuildOptions& opt,
                           std::string* spec_text) {
  const std::string dir = !f.calib_dir.empty() ? f.calib_dir : (cfg ? cfg->calib_images : "");
  if (dir.empty()) return Status::Ok();
  if (cli::holdsTensorFiles(dir)) {
    // Tensors come pre-processed: a pre-processing spec would be silently ignored.
    if (!f.calib_preprocess.empty() || (cfg && cfg->calib_preprocess))
      return Status(StatusCode::kInvalidArgument,
                    strCat(dir,
                           " holds tensor files (.npy / .pb), already pre-processed: drop "
                           "the calibration pre-processing"));
    EDGERT_ASSIGN_OR_RETURN(opt.calibration, cli::tensorFolderCalibration(dir));
    return Status::Ok();
  }
#ifdef EDGERT_CLI_HAS_OPENCV
  vision::PreprocessSpec spec;
  if (!f.calib_preprocess.empty()) {
    EDGERT_ASSIGN_OR_RETURN(spec, vision::parsePreprocessSpec(f.calib_preprocess));
  } else if (cfg && cfg->calib_preprocess) {
    vision::Section sec(cfg->origin, "calibration.preprocess", cfg->calib_preprocess);
    EDGERT_RETURN_IF_ERROR(vision::parsePreprocess(sec, &spec));
  }
  *spec_text = vision::formatPreprocessSpec(spec);
  EDGERT_ASSIGN_OR_RETURN(opt.calibration, cli::imageFolderCalibration(dir, spec));
  return Status::Ok();
#else
  (void)opt;
  (void)spec_text;
  return Status(StatusCode::kUnsupported,
                strCat("calibration images (", dir,
                       ") need OpenCV, and this edgert was built without it "
                       "(EDGERT_WITH_OPENCV=OFF); give --calib-cache from another build"));
#endif
}

int cmdBuild(const BuildFlags& f) {
  BuildOptions opt;
  std::string model = f.onnx, out = f.output;
  std::optional<BuildConfig> cfg;
  if (!f.config.empty()) {
    auto c = loadBuildConfig(f.config);
    if (!c.ok()) return fail(c.status());
    cfg = std::move(c).value();
    opt = cfg->options;
    if (model.empty()) model = cfg->model;
    if (out.empty()) out = cfg->output;
  }
  if (model.empty()) return fail(Status(StatusCode::kInvalidArgument, "give --onnx or --config"));
  if (out.empty())
    return fail(Status(StatusCode::kInvalidArgument, "give --output (or output: in the config)"));
  if (!f.precision.empty()) opt.precision = f.precision;
  if (!f.target.empty()) opt.target = f.target;
  if (!f.shapes.empty()) {
    auto s = parseShapes(f.shapes);
    if (!s.ok()) return fail(s.status());
    for (auto& [k, v] : s.value()) opt.shapes[k] = v;
  }
  if (!f.quiet) opt.progress = showProgress;
  if (f.no_fuse) opt.fuse_elementwise = false;
  if (!f.timing_cache.empty()) opt.timing_cache = f.timing_cache;
  if (f.no_timing) opt.tactic_timing = false;
  if (f.workspace_mib > 0) opt.max_workspace_mib = static_cast<size_t>(f.workspace_mib);
  if (f.batch_split >= 0) opt.batch_split = f.batch_split;
  if (!f.input_format.empty()) opt.input_format = f.input_format;
  if (!f.calib_algo.empty()) opt.calib_algo = f.calib_algo;
  if (f.calib_percentile > 0) opt.calib_percentile = f.calib_percentile;
  if (f.calib_batches >= 0) opt.calib_batches = f.calib_batches;
  if (!f.calib_cache.empty()) opt.calib_cache = f.calib_cache;
  if (f.int8_min_cosine >= 0) opt.int8_min_cosine = f.int8_min_cosine;
  if (f.int8_check_batches > 0) opt.int8_check_batches = f.int8_check_batches;
  for (const std::string& lp : f.layer_precisions) {
    const size_t eq = lp.rfind('=');
    if (eq == std::string::npos || eq == 0)
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat("--layer-precision '", lp, "' is not NAME=int8|fp16|fp32")));
    opt.layer_precisions[lp.substr(0, eq)] = lp.substr(eq + 1);
  }
  std::string preprocess;
  if (opt.precision == "int8") {
    Status st = setImageCalibration(f, cfg ? &*cfg : nullptr, opt, &preprocess);
    if (!st.ok()) return fail(st);
  }
  opt.calib_preprocess = preprocess;
  const auto t0 = std::chrono::steady_clock::now();
  BuildReport rep;
  Status st = buildEngineFile(model, out, opt, &rep);
  if (!st.ok()) return fail(st);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(
      "built {} from {} in {:.2f} s: {} ONNX nodes -> {} layers ({} folded, {} removed), "
      "activations {:.1f} MiB, weights {:.1f} MiB, engine {:.1f} MiB\n",
      out, model, secs, rep.onnx_nodes, rep.layers, rep.folded_nodes, rep.removed_nodes,
      rep.arena_bytes / 1048576.0, rep.weight_bytes / 1048576.0, rep.engine_bytes / 1048576.0);
  if (opt.precision == "int8") {
    if (rep.int8_explicit)
      fmt::print(
          "int8: explicit quantisation (the model's QuantizeLinear/DequantizeLinear "
          "scales, no calibration)\n");
    else if (rep.calib_batches_run)
      fmt::print("int8: calibrated on {} batch(es) in {:.1f} s ({}{}){}\n", rep.calib_batches_run,
                 rep.calib_seconds, opt.calib_algo,
                 opt.calib_algo == "percentile" ? fmt::format(" {}", opt.calib_percentile) : "",
                 rep.calib_cache_written.empty()
                     ? ""
                     : fmt::format(", thresholds cached in {}", rep.calib_cache_written));
    else
      fmt::print("int8: thresholds from the calibration cache {}\n", opt.calib_cache);
    fmt::print(
        "int8: {} layer(s) in INT8, {} quantize layer(s), {} kept in float, {} conv "
        "pair(s) equalised{}\n",
        rep.int8_layers, rep.quantize_layers, rep.int8_kept_float.size(), rep.int8_equalized_pairs,
        rep.int8_unsupported.empty()
            ? ""
            : fmt::format(", {} cannot be INT8", rep.int8_unsupported.size()));
    for (const std::string& u : rep.int8_unsupported) fmt::print("  float: {}\n", u);
    if (rep.int8_cosine > -2) {
      fmt::print("int8: worst output cosine vs float on the check batches: {:.5f}",
                 rep.int8_cosine);
      if (!rep.int8_auto_float.empty())
        fmt::print(" (all INT8: {:.5f}; kept in float:", rep.int8_cosine_all);
      for (size_t i = 0; i < rep.int8_auto_float.size(); ++i)
        fmt::print("{} {} ({:.4f} alone)", i ? "," : "", rep.int8_auto_float[i].first,
                   rep.int8_auto_float[i].second);
      fmt::print("{}\n", rep.int8_auto_float.empty() ? "" : ")");
      if (rep.int8_cosine < opt.int8_min_cosine)
        fmt::print(stderr,
                   "edgert: warning: INT8 stays below --int8-min-cosine {} with every "
                   "candidate layer kept in float\n",
                   opt.int8_min_cosine);
    }
  }
  if (rep.split_chains)
    fmt::print(
        "batch split: {} chain(s) of {} layers run in parts of the batch ({:.1f} MiB "
        "of activations whole)\n",
        rep.split_chains, rep.split_layers, rep.arena_unsplit_bytes / 1048576.0);
  if (rep.tactics_timed || rep.tactics_cached)
    fmt::print("tactics: {} layer(s) timed on this GPU, {} from the timing cache{}\n",
               rep.tactics_timed, rep.tactics_cached,
               opt.timing_cache.empty() ? "" : fmt::format(" ({})", opt.timing_cache));
  if (f.verbose) {
    // Per-layer choices (precision, tactic, shapes) as the engine records them.
    auto bytes = readFileBytes(out, uint64_t{8} << 30);
    if (bytes.ok()) {
      auto engine = deserializeEngine(std::move(bytes).value(), out);
      if (engine.ok()) fmt::print("{}", describeEngine(engine.value(), out));
    }
  }
  if (!rep.cpu_fallback_layers.empty()) {
    fmt::print(stderr,
               "edgert: warning: {} layer(s) have no CUDA implementation and run on the CPU:",
               rep.cpu_fallback_layers.size());
    for (size_t i = 0; i < rep.cpu_fallback_layers.size() && i < 10; ++i)
      fmt::print(stderr, "{} {}", i ? "," : "", rep.cpu_fallback_layers[i]);
    fmt::print(stderr, "{}\n", rep.cpu_fallback_layers.size() > 10 ? ", ..." : "");
  }
  return 0;
}

int cmdInspect(const std::string& engine_path, const std::string& onnx) {
  if (!onnx.empty()) {
    auto m = importOnnx(onnx);
    if (!m.ok()) return fail(m.status());
    fmt::print("model {}  opset {}  producer '{}'\n", onnx, m->opset, m->producer);
    std::map<std::string, int> ops;
    for (const auto& n : m->graph.nodes) ops[n.op]++;
    for (const auto& b : m->graph.bindings) {
      const auto& t = m->graph.tensors[b.tensor];
      std::string dims;
      for (size_t i = 0; i < b.model_dims.size(); ++i)
        dims += strCat(i ? "x" : "", b.model_dims[i] >= 0
                                         ? std::to_string(b.model_dims[i])
                                         : (b.dim_names[i].empty() ? "?" : b.dim_names[i]));
      fmt::print("  {} {} {} {}\n", b.is_input ? "input " : "output", t.name,
                 b.is_input ? dataTypeName(t.dtype) : "", dims);
    }
    fmt::print("ops ({} nodes, all supported):\n", m->graph.nodes.size());
    for (const auto& [op, n] : ops) fmt::print("  {:<24} {}\n", op, n);
    return 0;
  }
  // Any engine can be inspected, whatever its target and this machine.
  auto bytes = readFileBytes(engine_path, uint64_t{8} << 30);
  if (!bytes.ok()) return fail(bytes.status());
  auto model = deserializeEngine(std::move(bytes).value(), engine_path);
  if (!model.ok()) return fail(model.status());
  fmt::print("{}", describeEngine(model.value(), engine_path));
  return 0;
}

std::string summarize(const HostTensor& t) {
  const int64_t n = t.numel();
  if (n == 0) return "empty";
  double mn = t.doubleAt(0), mx = mn, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = t.doubleAt(i);
    mn = std::min(mn, v);
    mx = std::max(mx, v);
    sum += v;
  }
  std::string first;
  for (int64_t i = 0; i < std::min<int64_t>(n, 5); ++i)
    first += fmt::format("{}{:.6g}", i ? ", " : "", t.doubleAt(i));
  return fmt::format("min {:.6g} max {:.6g} mean {:.6g}  [{}{}]", mn, mx,
                     sum / static_cast<double>(n), first, n > 5 ? ", ..." : "");
}

int cmdRun(const std::string& engine_path, const std::string& backend_name,
           const std::vector<std::string>& inputs, const std::string& save_dir, int iterations) {
  auto backend = parseBackend(backend_name);
  if (!backend.ok()) return fail(backend.status());
  auto rt =
      Runtime::create({.backend = backend.value(), .log = [](LogSeverity s, const std::string& m) {
                         if (s != LogSeverity::kVerbose) fmt::print(stderr, "edgert: {}\n", m);
                       }});
  if (!rt.ok()) return fail(rt.status());
  auto engine = rt.value()->loadEngine(engine_path);
  if (!engine.ok()) return fail(engine.status());
  auto ctx = engine.value()->createExecutionContext();
  if (!ctx.ok()) return fail(ctx.status());
  std::vector<const TensorInfo*> engine_inputs;
  for (const TensorInfo& b : engine.value()->bindings())
    if (b.is_input) engine_inputs.push_back(&b);
  std::map<std::string, std::string> files;
  for (const std::string& spec : inputs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      if (engine_inputs.size() != 1)
        return fail(Status(StatusCode::kInvalidArgument,
                           strCat("--input '", spec, "' has no name= and the engine has ",
                                  engine_inputs.size(), " inputs")));
      files[engine_inputs[0]->name] = spec;
    } else {
      files[spec.substr(0, eq)] = spec.substr(eq + 1);
    }
  }
  std::vector<HostTensor> keep;
  for (const TensorInfo* in : engine_inputs) {
    auto f = files.find(in->name);
    if (f == files.end())
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat("missing --input for '", in->name, "' (", dataTypeName(in->dtype),
                                " ", dimsToString(in->dims), ")")));
    auto t = readTensorFile(f->second);
    if (!t.ok()) return fail(t.status());
    if (t->dtype() == DataType::kFloat32 && in->dtype == DataType::kFloat16) {
      // An engine built with --input-format fp16 takes float32 files too.
      HostTensor h = HostTensor::create(DataType::kFloat16, t->dims()).value();
      for (int64_t i = 0; i < t->numel(); ++i)
        h.mutableAs<uint16_t>()[i] = floatToHalf(t->as<float>()[i]);
      t = std::move(h);
    }
    if (t->dtype() != in->dtype)
      return fail(Status(StatusCode::kInvalidArgument,
                         strCat(f->second, ": input '", in->name, "' is ", dataTypeName(in->dtype),
                                " but the file holds ", dataTypeName(t->dtype()))));
    Status st = ctx.value()->checkInputShape(in->name, t->dims());
    if (!st.ok()) return fail(st.withContext(f->second));
    st = ctx.value()->setInput(in->name, t->data(), t->bytes());
    if (!st.ok()) return fail(st);
    files.erase(f);
  }
  if (!files.empty())
    return fail(Status(StatusCode::kInvalidArgument,
                       strCat("'", files.begin()->first, "' is not an input of this engine")));
  std::vector<double> ms;
  for (int i = 0; i < std::max(1, iterations); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Status st = ctx.value()->execute();
    if (!st.ok()) return fail(st);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  fmt::print("ran {} on {} backend: {} iteration(s), median {:.3f} ms\n", engine_path,
             backendName(rt.value()->backend()), ms.size(), ms[ms.size() / 2]);
  if (!save_dir.empty()) {
    std::error_code ec;
    fs::create_directories(save_dir, ec);
    if (ec)
      return fail(
          Status(StatusCode::kIoError, strCat(save_dir, ": cannot create folder: ", ec.message())));
  }
  for (const TensorInfo& b : engine.value()->bindings()) {
    if (b.is_input) continue;
    auto host = HostTensor::create(b.dtype, b.dims);
    if (!host.ok()) return fail(host.status());
    Status st = ctx.value()->getOutput(b.name, host->mutableData(), b.bytes());
    if (!st.ok()) return fail(st);
    const void* data = host->data();
    const HostTensor& view = host.value();
    fmt::print("  output {} {} {}: {}\n", b.name, dataTypeName(b.dtype), dimsToString(b.dims),
               summarize(view));
    if (!save_dir.empty()) {
      std::string file = b.name;
      for (char& c : file)
        if (c == '/' || c == '\\' || c == ':') c = '_';
      const std::string path = (fs::path(save_dir) / (file + ".npy")).string();
      st = writeNpy(path, b.dtype, b.dims, data);
      if (!st.ok()) return fail(st);
    }
  }
  if (!save_dir.empty()) fmt::print("outputs written to {}/\n", save_dir);
  return 0;
}

int cmdBench(const std::string& engine_path, const std::string& backend_name, int iterations,
             int warmup, const std::string& json_path, bool per_layer, bool cuda_graph) {
  // The CUDA backend captures the network as one CUDA graph from the second run on
  // (trtexec's --useCudaGraph, on by default here); --no-cuda-graph times eager launches.
  if (!cuda_graph) setenv("EDGERT_CUDA_GRAPH", "0", 1);
  auto backend = parseBackend(backend_name);
  if (!backend.ok()) return fail(backend.status());
  RuntimeOptions ro;
  ro.backend = backend.value();
  auto rt = Runtime::create(ro);
  if (!rt.ok()) return fail(rt.status());
  auto engine = rt.value()->loadEngine(engine_path);
  if (!engine.ok()) return fail(engine.status());
  auto ctx = engine.value()->createExecutionContext();
  if (!ctx.ok()) return fail(ctx.status());
  int64_t batch = 1;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const TensorInfo& b : engine.value()->bindings()) {
    if (!b.is_input) continue;
    if (!b.dims.empty()) batch = b.dims[0];
    // Random data, not zeros: zeros can run faster than real inputs.
    std::vector<uint8_t> data(b.bytes());
    if (b.dtype == DataType::kFloat32)
      for (size_t i = 0; i < data.size() / 4; ++i)
        reinterpret_cast<float*>(data.data())[i] = u(rng);
    if (b.dtype == DataType::kFloat16)
      for (size_t i = 0; i < data.size() / 2; ++i)
        reinterpret_cast<uint16_t*>(data.data())[i] = floatToHalf(u(rng));
    Status st = ctx.value()->setInput(b.name, data.data(), data.size());
    if (!st.ok()) return fail(st);
  }
  if (per_layer) {
    auto layers = ctx.value()->profileLayers(std::max(iterations, 1));
    if (!layers.ok()) return fail(layers.status());
    std::vector<LayerTiming> v = layers.value();
    double total = 0;
    for (const auto& l : v) total += l.ms;
    std::stable_sort(v.begin(), v.end(),
                     [](const LayerTiming& a, const LayerTiming& b) { return a.ms > b.ms; });
    fmt::print("per layer (median of {}, eager, no CUDA graph): {:.4f} ms in {} layers\n",
               iterations, total, v.size());
    std::map<std::string, double> by_op;
    for (const auto& l : v) by_op[l.op] += l.ms;
    for (const auto& [op, ms] : by_op)
      fmt::print("  {:<20} {:8.4f} ms {:5.1f}%\n", op, ms, 100 * ms / std::max(total, 1e-12));
    fmt::print("slowest layers:\n");
    for (size_t i = 0; i < v.size() && i < 15; ++i)
      fmt::print("  {:8.4f} ms  {:<16} {:<22} {}\n", v[i].ms, v[i].op, v[i].tactic, v[i].name);
    if (!json_path.empty()) {
      // Every layer in execution order (trtexec's --exportProfile).
      nlohmann::ordered_json j;
      j["engine"] = engine_path;
      j["batch"] = batch;
      j["total_ms"] = total;
      auto& arr = j["layers"] = nlohmann::ordered_json::array();
      for (const LayerTiming& l : layers.value())
        arr.push_back({{"name", l.name}, {"op", l.op}, {"tactic", l.tactic}, {"ms", l.ms}});
      const std::string text = j.dump(1) + "\n";
      Status st = writeFileAtomically(json_path, text.data(), text.size());
      if (!st.ok()) return fail(st);
    }
    return 0;
  }
  auto ms = ctx.value()->benchmark(warmup, iterations);
  if (!ms.ok()) return fail(ms.status());
  std::vector<double> v = ms.value();
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
  };
  const double median = pct(0.5);
  const double ips = 1000.0 / median;
  const ExecutionContext::MemoryUse mem = ctx.value()->memoryUse();
  auto toMib = [](size_t b) { return static_cast<double>(b) / 1048576.0; };
  const double mib = toMib(mem.total());
  const char* be = backendName(ctx.value()->backend());
  fmt::print("{} on {}{}: {} iterations after {} warm-up\n", engine_path, be,
             ctx.value()->backend() == Backend::kCuda
                 ? (cuda_graph ? " (CUDA graph replay)" : " (eager launches)")
                 : "",
             v.size(), warmup);
  fmt::print("  latency ms  min {:.4f}  median {:.4f}  p90 {:.4f}  p99 {:.4f}\n", v.front(), median,
             pct(0.9), pct(0.99));
  fmt::print("  throughput  {:.1f} inferences/s  {:.1f} images/s (batch {})\n", ips,
             ips * static_cast<double>(batch), batch);
  fmt::print(
      "  memory      {:.1f} MiB held by the context: weights {:.1f}, activations {:.1f}, "
      "workspace {:.1f}\n",
      mib, toMib(mem.weights), toMib(mem.activations), toMib(mem.workspace));
  if (!json_path.empty()) {
    const std::string j = fmt::format(
        "{{\"engine\": \"{}\", \"backend\": \"{}\", \"batch\": {}, \"iterations\": {}, \"min_ms\": "
        "{:.5f}, "
        "\"median_ms\": {:.5f}, \"p90_ms\": {:.5f}, \"p99_ms\": {:.5f}, \"images_per_s\": {:.2f}, "
        "\"memory_mib\": {:.2f}, \"weights_mib\": {:.2f}, \"activations_mib\": {:.2f}, "
        "\"workspace_mib\": {:.2f}}}\n",
        engine_path, be, batch, v.size(), v.front(), median, pct(0.9), pct(0.99),
        ips * static_cast<double>(batch), mib, toMib(mem.weights), toMib(mem.activations),
        toMib(mem.workspace));
    Status st = writeFileAtomically(json_path, j.data(), j.size());
    if (!st.ok()) return fail(st);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{fmt::format("edgert {}: build, inspect and run inference engines", versionString())};
  app.require_subcommand(1);
  app.set_version_flag("--version", versionString());

  auto* build = app.add_subcommand("build", "Build an engine from an ONNX model");
  BuildFlags bf;
  build->add_option("--onnx", bf.onnx, "ONNX model file");
  build->add_option("-o,--output", bf.output, "Engine file to write");
  build->add_option("--config", bf.config, "Build YAML (configs/build/*.yaml); flags override it");
  build->add_option("--shapes", bf.shapes, "Input shapes, e.g. input:1x3x224x224[,other:1x4]");
  build->add_option("--precision", bf.precision, "fp32 | fp16 (CUDA) | int8 (CPU backend)")
      ->check(CLI::IsMember({"fp32", "fp16", "int8"}));
  build->add_option("--target", bf.target,
                    "cpu | host | cuda | jetson-orin | jetson-thor | sm_XX[,sm_YY]");
  build->add_flag("-q,--quiet", bf.quiet, "No progress output");
  build->add_flag("-v,--verbose", bf.verbose, "Print every layer with its precision and tactic");
  build->add_option("--timing-cache", bf.timing_cache,
                    "Read and extend this tactic timing cache (GPU builds skip layers it has)");
  build->add_flag("--no-tactic-timing", bf.no_timing,
                  "Take cuDNN's heuristic choice instead of timing each convolution");
  build
      ->add_option("--workspace-mib", bf.workspace_mib,
                   "Most scratch memory a timed tactic may use, MiB (default 256)")
      ->check(CLI::Range(1, 1 << 20));
  build->add_option("--calib-dir", bf.calib_dir,
                    "INT8: folder of calibration images, or of pre-processed .npy / .pb tensors "
                    "(one sample each)");
  build->add_option("--calib-algo", bf.calib_algo, "INT8: percentile (default) | entropy | minmax")
      ->check(CLI::IsMember({"entropy", "minmax", "percentile"}));
  build
      ->add_option("--calib-percentile", bf.calib_percentile,
                   "INT8: percentile of |x| for --calib-algo percentile (default 99.99)")
      ->check(CLI::Range(1e-9, 100.0));
  build
      ->add_option("--calib-batches", bf.calib_batches,
                   "INT8: calibrate on at most N batches (default: every image once)")
      ->check(CLI::Range(0, 1 << 24));
  build->add_option("--calib-cache", bf.calib_cache,
                    "INT8: thresholds file: read when it exists (no images needed), else written");
  build->add_option("--calib-preprocess", bf.calib_preprocess,
                    "INT8: image pre-processing, e.g. resize=256,mean=127,std=128,order=rgb "
                    "(keys resize, scale, mean, std, order, layout, pad, interp)");
  build
      ->add_option(
          "--int8-min-cosine", bf.int8_min_cosine,
          "INT8: keep the layers INT8 hurts most in float until every output's cosine "
          "similarity with the float network reaches this on the check batches (e.g. 0.99)")
      ->check(CLI::Range(0.0, 1.0));
  build
      ->add_option("--int8-check-batches", bf.int8_check_batches,
                   "INT8: calibration batches --int8-min-cosine compares on (default 8)")
      ->check(CLI::Range(1, 1 << 20));
  build->add_option("--layer-precision", bf.layer_precisions,
                    "INT8: NAME=fp16|fp32|int8 for one layer (repeatable): keep it out of INT8");
  build
      ->add_option("--input-format", bf.input_format,
                   "fp16: float32 inputs become float16 bindings (TensorRT's "
                   "--inputIOFormats=fp16:chw); default fp32")
      ->check(CLI::IsMember({"fp32", "fp16"}));
  build
      ->add_option("--batch-split", bf.batch_split,
                   "Run the chains of per-sample layers around the largest activations in "
                   "parts of at most N images where that saves 5% of activation memory "
                   "(default 64; 0: never)")
      ->check(CLI::Range(0, 1 << 20));
  build->add_flag("--no-fuse-elementwise", bf.no_fuse,
                  "Keep elementwise ops as separate layers (to compare or debug accuracy)");

  auto* inspect = app.add_subcommand(
      "inspect", "Print an engine layer by layer, or an ONNX model's I/O and ops");
  std::string i_engine, i_onnx;
  auto* i_eopt = inspect->add_option("--engine", i_engine, "Engine file");
  auto* i_oopt =
      inspect->add_option("--onnx", i_onnx, "ONNX model (lists every unsupported op at once)");
  i_eopt->excludes(i_oopt);

  auto* run = app.add_subcommand("run", "Run an engine on input tensors (.npy or ONNX .pb)");
  std::string r_engine, r_backend = "auto", r_save;
  std::vector<std::string> r_inputs;
  int r_iter = 1;
  run->add_option("--engine", r_engine, "Engine file")->required();
  run->add_option("--backend", r_backend, "cpu | cuda | auto");
  run->add_option("--input", r_inputs,
                  "name=file.npy (repeatable; the name may be omitted for one input)");
  run->add_option("--save-outputs", r_save, "Folder for <output name>.npy files");
  run->add_option("--iterations", r_iter, "Run this many times and report the median latency")
      ->check(CLI::Range(1, 1000000));

  auto* compare = app.add_subcommand(
      "compare", "Compare an engine with the ONNX model in FP32 on real images (INT8 accuracy)");
#ifdef EDGERT_CLI_HAS_OPENCV
  cli::CompareFlags cf;
  compare->add_option("--onnx", cf.onnx, "The ONNX model the engine was built from")->required();
  compare->add_option("--engine", cf.engine, "Engine file")->required();
  compare->add_option("--data", cf.data, "Folder of images")->required();
  compare->add_option("--labels", cf.labels,
                      "'<image file> <class index>' per line: accuracy of both");
  compare->add_option("--preprocess", cf.preprocess,
                      "Image pre-processing (default: what the engine's calibration used)");
  compare->add_option("--backend", cf.backend, "cpu | cuda | auto (the engine's)");
  compare->add_option("--mask-threshold", cf.mask_threshold,
                      "Also the IoU of outputs thresholded at this (probability maps)");
  compare->add_flag("--per-layer", cf.per_layer,
                    "The cosine each INT8 layer gives alone (with --calib-cache)");
  compare->add_option("--calib-cache", cf.calib_cache, "The engine's calibration cache");
  compare->add_option("--json", cf.json, "Write the report as JSON");
#endif

  auto* bench =
      app.add_subcommand("bench", "Time an engine: latency percentiles, throughput, memory");
  std::string be_engine, be_backend = "auto", be_json;
  int be_iter = 200, be_warm = 20;
  bench->add_option("--engine", be_engine, "Engine file")->required();
  bench->add_option("--backend", be_backend, "cpu | cuda | auto");
  bench->add_option("--iterations", be_iter, "Timed iterations")->check(CLI::Range(1, 10000000));
  bench->add_option("--warmup", be_warm, "Untimed iterations first")->check(CLI::Range(0, 1000000));
  bench->add_option("--json", be_json,
                    "Also write the results as JSON (with --per-layer: every layer, in order)");
  bool be_layers = false, be_graph = true;
  bench->add_flag("--per-layer", be_layers,
                  "Time every layer (eager) and list where the time goes");
  bench->add_flag("--cuda-graph,!--no-cuda-graph", be_graph,
                  "Replay the network as one CUDA graph (default) or launch every layer");

  auto* ops = app.add_subcommand("ops", "List the supported ONNX ops");
  bool ops_md = false;
  ops->add_flag("--markdown", ops_md, "As a Markdown table (for the README)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (build->parsed()) return cmdBuild(bf);
    if (inspect->parsed()) {
      if (i_engine.empty() && i_onnx.empty())
        return fail(Status(StatusCode::kInvalidArgument, "give --engine or --onnx"));
      return cmdInspect(i_engine, i_onnx);
    }
    if (run->parsed()) return cmdRun(r_engine, r_backend, r_inputs, r_save, r_iter);
    if (compare->parsed()) {
#ifdef EDGERT_CLI_HAS_OPENCV
      return cli::cmdCompare(cf);
#else
      return fail(Status(StatusCode::kUnsupported,
                         "compare reads images with OpenCV, and this edgert was built without it"));
#endif
    }
    if (bench->parsed())
      return cmdBench(be_engine, be_backend, be_iter, be_warm, be_json, be_layers, be_graph);
    if (ops->parsed()) {
      const auto list = supportedOps();
      if (!ops_md) {
        for (const auto& o : list) fmt::print("{}\n", o);
        return 0;
      }
      fmt::print("| | | | | | |\n|---|---|---|---|---|---|\n");
      for (size_t i = 0; i < list.size(); i += 6) {
        fmt::print("|");
        for (size_t j = i; j < i + 6; ++j) fmt::print(" {} |", j < list.size() ? list[j] : "");
        fmt::print("\n");
      }
      return 0;
    }
  } catch (const std::exception& e) {
    // Nothing below should throw; this keeps a library bug from becoming a crash.
    return fail(Status(StatusCode::kInternal, e.what()));
  }
  return 0;
}
