// edgert: build, inspect and run engines.
#include <unistd.h>

#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>

#include "../src/build_config.h"
#include "../src/onnx_import.h"
#include "../src/tensor_proto.h"
#include "edgert/builder.h"
#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/str.h"
#include "runtime_commands.h"
#include "tensor_calibration.h"
#ifdef EDGERT_CLI_HAS_OPENCV
#include "compare.h"
#include "edgert/vision/element_config.h"
#include "edgert/vision/yaml_section.h"
#include "image_calibration.h"
#endif

namespace fs = std::filesystem;
using namespace edgert;
using cli::fail;

namespace {

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
  bool quiet = false, verbose = false, no_fuse = false, no_timing = false, symmetric = false;
  bool no_timed_precision = false;
  int workspace_mib = 0, batch_split = -1;
  // INT8
  std::string calib_dir, calib_algo, calib_cache, calib_preprocess;
  double calib_percentile = 0, int8_min_cosine = -1, int8_min_top1 = -1;
  int calib_batches = -1, int8_check_batches = 0;
  std::vector<std::string> layer_precisions;  // NAME=PREC
  std::vector<std::string> keep_float;        // quantize --keep-fp NAME
};

// The model's image pre-processing from --preprocess or the build YAML's
// calibration.preprocess, in the CLI form (empty when neither gives one). Recorded in the engine,
// so `edgert run` and `edgert compare` feed images the way calibration did.
Result<std::string> modelPreprocess(const BuildFlags& f, const BuildConfig* cfg) {
  if (f.calib_preprocess.empty() &&
      !(cfg && cfg->calib_preprocess && !cfg->calib_preprocess.IsNull()))
    return std::string();
#ifdef EDGERT_CLI_HAS_OPENCV
  vision::PreprocessSpec spec;
  if (!f.calib_preprocess.empty()) {
    EDGERT_ASSIGN_OR_RETURN(spec, vision::parsePreprocessSpec(f.calib_preprocess));
  } else {
    vision::Section sec(cfg->origin, "calibration.preprocess", cfg->calib_preprocess);
    EDGERT_RETURN_IF_ERROR(vision::parsePreprocess(sec, &spec));
  }
  return vision::formatPreprocessSpec(spec);
#else
  return Status(StatusCode::kUnsupported,
                "image pre-processing (--preprocess) needs OpenCV, and this edgert was built "
                "without it (EDGERT_WITH_OPENCV=OFF)");
#endif
}

// The calibration source from --calib-dir / calibration.images: images pre-processed as
// `spec_text` says, or tensor files.
Status setCalibration(const BuildFlags& f, const BuildConfig* cfg, BuildOptions& opt,
                      const std::string& spec_text) {
  const std::string dir = !f.calib_dir.empty() ? f.calib_dir : (cfg ? cfg->calib_images : "");
  if (dir.empty()) return Status::Ok();
  if (cli::holdsTensorFiles(dir)) {
    // Tensors come pre-processed: a pre-processing spec would be silently ignored.
    if (!spec_text.empty())
      return Status(StatusCode::kInvalidArgument,
                    strCat(dir,
                           " holds tensor files (.npy / .pb), already pre-processed: drop "
                           "the calibration pre-processing"));
    EDGERT_ASSIGN_OR_RETURN(opt.calibration, cli::tensorFolderCalibration(dir));
    return Status::Ok();
  }
#ifdef EDGERT_CLI_HAS_OPENCV
  vision::PreprocessSpec spec;
  if (!spec_text.empty()) {
    EDGERT_ASSIGN_OR_RETURN(spec, vision::parsePreprocessSpec(spec_text));
  }
  opt.calib_preprocess = vision::formatPreprocessSpec(spec);
  EDGERT_ASSIGN_OR_RETURN(opt.calibration, cli::imageFolderCalibration(dir, spec));
  return Status::Ok();
#else
  (void)opt;
  return Status(StatusCode::kUnsupported,
                strCat("calibration images (", dir,
                       ") need OpenCV, and this edgert was built without it "
                       "(EDGERT_WITH_OPENCV=OFF); give --calib-cache from another build"));
#endif
}

// The build options from the YAML (--config) and the flags over it, the model and the output.
Status optionsFromFlags(const BuildFlags& f, BuildOptions& opt, std::string& model,
                        std::string& out) {
  model = f.onnx;
  out = f.output;
  std::optional<BuildConfig> cfg;
  if (!f.config.empty()) {
    EDGERT_ASSIGN_OR_RETURN(cfg, loadBuildConfig(f.config));
    opt = cfg->options;
    if (model.empty()) model = cfg->model;
    if (out.empty()) out = cfg->output;
  }
  if (model.empty()) return Status(StatusCode::kInvalidArgument, "give --onnx or --config");
  if (out.empty())
    return Status(StatusCode::kInvalidArgument, "give --output (or output: in the config)");
  if (!f.precision.empty()) opt.precision = f.precision;
  if (!f.target.empty()) opt.target = f.target;
  if (!f.shapes.empty()) {
    EDGERT_ASSIGN_OR_RETURN(auto shapes, parseShapes(f.shapes));
    for (auto& [k, v] : shapes) opt.shapes[k] = v;
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
  if (f.int8_min_top1 >= 0) opt.int8_min_top1 = f.int8_min_top1;
  if (f.int8_check_batches > 0) opt.int8_check_batches = f.int8_check_batches;
  if (f.symmetric) opt.int8_symmetric = true;
  if (f.no_timed_precision) opt.int8_timed_precision = false;
  for (const std::string& lp : f.layer_precisions) {
    const size_t eq = lp.rfind('=');
    if (eq == std::string::npos || eq == 0)
      return Status(StatusCode::kInvalidArgument,
                    strCat("--layer-precision '", lp, "' is not NAME=int8|fp16|fp32"));
    opt.layer_precisions[lp.substr(0, eq)] = lp.substr(eq + 1);
  }
  for (const std::string& name : f.keep_float) opt.layer_precisions[name] = "fp16";
  EDGERT_ASSIGN_OR_RETURN(const std::string preprocess, modelPreprocess(f, cfg ? &*cfg : nullptr));
  opt.calib_preprocess = preprocess;
  if (opt.precision == "int8")
    EDGERT_RETURN_IF_ERROR(setCalibration(f, cfg ? &*cfg : nullptr, opt, preprocess));
  return Status::Ok();
}

int cmdBuild(const BuildFlags& f) {
  BuildOptions opt;
  std::string model, out;
  if (Status st = optionsFromFlags(f, opt, model, out); !st.ok()) return fail(st);
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
    if (rep.int8_cache_without_means)
      fmt::print(stderr,
                 "edgert: warning: {} has no per-channel means (a cache of edgert before "
                 "calibration cache version 2): the INT8 layers get no bias correction and lose "
                 "accuracy; delete it and calibrate again\n",
                 opt.calib_cache);
    if (rep.int8_cache_without_rounding)
      fmt::print(stderr,
                 "edgert: warning: {} has no adaptive rounding (a cache of edgert before "
                 "calibration cache version 3): the weights round to nearest and lose "
                 "accuracy; delete it and calibrate again\n",
                 opt.calib_cache);
    fmt::print(
        "int8: {} layer(s) in INT8{}, {} quantize layer(s), {} kept in float, {} conv "
        "pair(s) equalised, {} bias-corrected, {} adaptively rounded, {} unsigned tensor(s){}\n",
        rep.int8_layers, rep.int8_pools ? fmt::format(" (and {} max pool(s))", rep.int8_pools) : "",
        rep.quantize_layers, rep.int8_kept_float.size(), rep.int8_equalized_pairs,
        rep.int8_bias_corrected, rep.int8_adaptively_rounded, rep.int8_unsigned_tensors,
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
      // Only when asked for: the arg-max of a detector's map or a segmentation means nothing.
      if (opt.int8_min_top1 > 0) {
        fmt::print("int8: top-1 agreement with float on the {} check sample(s): {:.1f}%",
                   rep.int8_check_samples, 100 * rep.int8_top1);
        if (!rep.int8_auto_float.empty())
          fmt::print(" (all INT8: {:.1f}%)", 100 * rep.int8_top1_all);
        fmt::print("\n");
      }
      if (rep.int8_cosine < opt.int8_min_cosine || rep.int8_top1 < opt.int8_min_top1)
        fmt::print(stderr,
                   "edgert: warning: INT8 stays below --int8-min-cosine {} / --int8-min-top1 {} "
                   "with every candidate layer kept in float\n",
                   opt.int8_min_cosine, opt.int8_min_top1);
    }
  }
  if (!rep.int8_timed_note.empty()) fmt::print("int8: {}\n", rep.int8_timed_note);
  if (!rep.int8_timed_engines.empty()) {
    // Each engine timed whole on this GPU, the kept one marked.
    fmt::print("int8: {} layer(s) faster in FP16 alone on this GPU; engines timed whole:",
               rep.int8_faster_in_fp16.size());
    for (size_t i = 0; i < rep.int8_timed_engines.size(); ++i) {
      const auto& e = rep.int8_timed_engines[i];
      fmt::print("{} {}{} {:.3f} ms{}", i ? "," : "", e.choice,
                 e.fp16_layers ? fmt::format(" ({} layers)", e.fp16_layers) : "", e.ms,
                 i == rep.int8_timed_kept ? " (kept)" : "");
    }
    fmt::print("\n");
    if (f.verbose)
      for (const auto& l : rep.int8_faster_in_fp16)
        fmt::print("  {}: {:.4f} ms INT8, {:.4f} ms FP16\n", l.layer, l.int8_ms, l.fp16_ms);
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

// edgert quantize: the INT8 build's calibration as a Q/DQ ONNX model (issue #12).
int cmdQuantize(BuildFlags f, bool unsigned_activations) {
  BuildOptions opt;
  std::string model, out;
  f.precision = "int8";
  if (Status st = optionsFromFlags(f, opt, model, out); !st.ok()) return fail(st);
  opt.int8_symmetric = !unsigned_activations;
  QdqExportReport rep;
  if (Status st = exportQdqOnnx(model, out, opt, &rep); !st.ok()) return fail(st);
  const BuildReport& b = rep.build;
  fmt::print(
      "wrote {} from {}: {} layer(s) quantised ({} bias-corrected, {} adaptively rounded), "
      "{} left in float, {} activation Q/DQ pair(s){}\n",
      out, model, rep.int8_layers, b.int8_bias_corrected, b.int8_adaptively_rounded,
      rep.float_layers, rep.activation_pairs,
      rep.unsigned_pairs ? fmt::format(" ({} uint8)", rep.unsigned_pairs) : "");
  if (b.calib_batches_run)
    fmt::print("int8: calibrated on {} batch(es) in {:.1f} s ({}){}\n", b.calib_batches_run,
               b.calib_seconds, opt.calib_algo,
               b.calib_cache_written.empty()
                   ? ""
                   : fmt::format(", thresholds cached in {}", b.calib_cache_written));
  else
    fmt::print("int8: thresholds from the calibration cache {}\n", opt.calib_cache);
  if (rep.opset_from != rep.opset_to)
    fmt::print("onnx: opset {} -> {} (per-channel DequantizeLinear)\n", rep.opset_from,
               rep.opset_to);
  if (rep.folded_batch_norms)
    fmt::print("onnx: {} batch norm(s) folded into their convolutions\n", rep.folded_batch_norms);
  if (!b.int8_auto_float.empty()) {
    fmt::print("int8: kept in float for --int8-min-cosine / --int8-min-top1:");
    for (size_t i = 0; i < b.int8_auto_float.size(); ++i)
      fmt::print("{} {}", i ? "," : "", b.int8_auto_float[i].first);
    fmt::print("\n");
  }
  if (b.int8_cosine > -2)
    fmt::print("int8: worst output cosine vs float on the check batches: {:.5f}\n", b.int8_cosine);
  for (const std::string& u : b.int8_unsupported) fmt::print("  float: {}\n", u);
  fmt::print("activations: {}\n",
             unsigned_activations
                 ? "ReLU / Clip(0, ...) outputs uint8 (ONNX Runtime, edgert; TensorRT takes "
                   "only symmetric int8)"
                 : "symmetric int8 (TensorRT, ONNX Runtime, edgert)");
  return 0;
}

int cmdInspectOnnx(const std::string& onnx) {
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

// The INT8 options build and quantize share.
void addInt8Options(CLI::App* sub, BuildFlags& f) {
  sub->add_option("--calib-dir", f.calib_dir,
                  "INT8: folder of calibration images, or of pre-processed .npy / .pb tensors "
                  "(one sample each)");
  sub->add_option("--calib-algo", f.calib_algo, "INT8: percentile (default) | entropy | minmax")
      ->check(CLI::IsMember({"entropy", "minmax", "percentile"}));
  sub->add_option("--calib-percentile", f.calib_percentile,
                  "INT8: percentile of |x| for --calib-algo percentile (default 99.99)")
      ->check(CLI::Range(1e-9, 100.0));
  sub->add_option("--calib-batches", f.calib_batches,
                  "INT8: calibrate on at most N batches (default: every image once)")
      ->check(CLI::Range(0, 1 << 24));
  sub->add_option("--calib-cache", f.calib_cache,
                  "INT8: thresholds file: read when it exists (no images needed), else written");
  sub->add_option("--preprocess,--calib-preprocess", f.calib_preprocess,
                  "The model's image pre-processing, e.g. resize=256,crop=224,mean=127,std=128,"
                  "order=rgb (keys resize, crop, scale, mean, std, order, layout, pad, interp): "
                  "applied to calibration images and recorded for edgert run / compare");
  sub->add_option("--int8-min-cosine", f.int8_min_cosine,
                  "INT8: keep the layers INT8 hurts most in float until every output's cosine "
                  "similarity with the float network reaches this on the check batches (e.g. 0.99)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--int8-min-top1", f.int8_min_top1,
                  "INT8: the same until this fraction of the check samples has the float "
                  "network's top-1 class (first output; 1 = every sample)")
      ->check(CLI::Range(0.0, 1.0));
  sub->add_option("--int8-check-batches", f.int8_check_batches,
                  "INT8: calibration batches --int8-min-cosine / --int8-min-top1 compare on "
                  "(default 8)")
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--layer-precision", f.layer_precisions,
                  "INT8: NAME=fp16|fp32|int8 for one layer (repeatable): keep it out of INT8");
}

}  // namespace

// The whole command line; `edgert` (tools_main.cpp) hands its arguments here when the
// edgert-builder module is installed beside it.
extern "C" __attribute__((visibility("default"))) int edgert_cli_main(int argc, char** argv) {
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
  addInt8Options(build, bf);
  build->add_flag("--no-timed-precision", bf.no_timed_precision,
                  "INT8 on this GPU: keep every candidate layer INT8 instead of keeping those "
                  "faster in FP16 there (when the engine, timed whole, is then faster)");
  build->add_flag("--int8-symmetric", bf.symmetric,
                  "INT8: every tensor symmetric (zero point 0), as TensorRT's explicit "
                  "quantisation; default: ReLU outputs unsigned (half the rounding step)");
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

  auto* quantize = app.add_subcommand(
      "quantize",
      "Calibrate an ONNX model and write it with QuantizeLinear/DequantizeLinear (for TensorRT "
      "10, ONNX Runtime or edgert build)");
  BuildFlags qf;
  bool q_unsigned = false;
  quantize->add_option("--onnx", qf.onnx, "ONNX model file (float)");
  quantize->add_option("-o,--output", qf.output, "Q/DQ ONNX model to write");
  quantize->add_option("--config", qf.config, "Build YAML (its calibration and layer_precisions)");
  quantize->add_option("--shapes", qf.shapes,
                       "Input shapes for calibration, e.g. input:8x3x224x224");
  quantize->add_flag("-q,--quiet", qf.quiet, "No progress output");
  addInt8Options(quantize, qf);
  quantize->add_option("--keep-fp", qf.keep_float,
                       "Layer to leave unquantised (repeatable; as --layer-precision NAME=fp16)");
  quantize->add_flag("--unsigned-activations", q_unsigned,
                     "Write ReLU / Clip(0, ...) outputs as uint8 (half the rounding step; ONNX "
                     "Runtime and edgert, not TensorRT)");

  cli::RuntimeCommands rc;
  cli::addRuntimeCommands(app, rc);
  std::string i_onnx;
  rc.inspect->add_option("--onnx", i_onnx, "ONNX model (lists every unsupported op at once)")
      ->excludes(rc.inspect_engine);

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
    if (quantize->parsed()) return cmdQuantize(qf, q_unsigned);
    if (rc.inspect->parsed() && rc.i_engine.empty()) {
      if (i_onnx.empty())
        return fail(Status(StatusCode::kInvalidArgument, "give --engine or --onnx"));
      return cmdInspectOnnx(i_onnx);
    }
    cli::InputReaders readers{readTensorFile, nullptr};
#ifdef EDGERT_CLI_HAS_OPENCV
    readers.images = [](const std::vector<std::string>& files, const std::string& preprocess,
                        const std::string& name, const Dims& dims, float* out) -> Status {
      int crop = 0;
      EDGERT_ASSIGN_OR_RETURN(vision::PreprocessSpec spec,
                              vision::parsePreprocessSpec(preprocess, &crop));
      const int64_t h = spec.nhwc ? dims[1] : dims[2], w = spec.nhwc ? dims[2] : dims[3];
      if (crop > 0 && (crop != h || crop != w))
        return Status(StatusCode::kInvalidArgument,
                      strCat("--preprocess crop=", crop, " but input '", name, "' is ",
                             dimsToString(dims), " (", w, "x", h, ")"));
      return cli::readImageBatch(files, spec, name, dims, out);
    };
#endif
    if (auto code = cli::runRuntimeCommand(rc, readers)) return *code;
    if (compare->parsed()) {
#ifdef EDGERT_CLI_HAS_OPENCV
      return cli::cmdCompare(cf);
#else
      return fail(Status(StatusCode::kUnsupported,
                         "compare reads images with OpenCV, and this edgert was built without it"));
#endif
    }
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
