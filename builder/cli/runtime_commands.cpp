#include "runtime_commands.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "edgert/edgert.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/half.h"
#include "edgert/internal/npy.h"
#include "edgert/internal/str.h"

namespace edgert::cli {

namespace fs = std::filesystem;

int fail(const Status& st) {
  fmt::print(stderr, "edgert: error: {}\n", st.toString());
  return 1;
}

namespace {

int cmdInspectEngine(const std::string& engine_path) {
  // Any engine can be inspected, whatever its target and this machine.
  auto bytes = readFileBytes(engine_path, uint64_t{8} << 30);
  if (!bytes.ok()) return fail(bytes.status());
  auto model = deserializeEngine(std::move(bytes).value(), engine_path);
  if (!model.ok()) return fail(model.status());
  fmt::print("{}", describeEngine(model.value(), engine_path));
  return 0;
}

// `streams` execution contexts of one engine, each on its own thread and stream (trtexec's
// --infStreams): one context cannot fill the GPU while a memory-bound layer runs, two can
// overlap it with another's compute-bound layer. Throughput from wall time over all of them.
int benchStreams(const std::vector<std::unique_ptr<ExecutionContext>>& ctxs, int64_t batch,
                 int warmup, int iterations) {
  std::latch ready(static_cast<std::ptrdiff_t>(ctxs.size()) + 1);
  std::vector<Result<std::vector<double>>> ms(ctxs.size(),
                                              Status(StatusCode::kInternal, "not run"));
  std::vector<Status> warm(ctxs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ctxs.size(); ++i)
    threads.emplace_back([&, i] {
      auto w = ctxs[i]->benchmark(warmup, 1);  // each context's graph captured before timing
      warm[i] = w.ok() ? Status::Ok() : w.status();
      ready.arrive_and_wait();
      if (warm[i].ok()) ms[i] = ctxs[i]->benchmark(0, iterations);
    });
  ready.arrive_and_wait();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::thread& t : threads) t.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t mem = 0;
  std::vector<double> medians;
  for (size_t i = 0; i < ctxs.size(); ++i) {
    if (!warm[i].ok()) return fail(warm[i]);
    if (!ms[i].ok()) return fail(ms[i].status());
    std::vector<double> v = ms[i].value();
    std::sort(v.begin(), v.end());
    medians.push_back(v[v.size() / 2]);
    mem += ctxs[i]->memoryUse().total();
  }
  // benchmark(0, n) runs two untimed executions before its n timed ones: they count as work.
  const double images =
      static_cast<double>(ctxs.size()) * (iterations + 2) * static_cast<double>(batch);
  fmt::print(
      "{} contexts at once (each on its own thread and stream), {} iterations each (batch {})\n",
      ctxs.size(), iterations, batch);
  fmt::print("  latency ms  median per stream:");
  for (double m : medians) fmt::print(" {:.4f}", m);
  fmt::print("\n  throughput  {:.1f} images/s over {:.3f} s of wall time\n", images / wall, wall);
  // Each context's own count: constants the engine shares between its contexts are in each.
  const ExecutionContext::MemoryUse one = ctxs.front()->memoryUse();
  auto mib = [](size_t b) { return static_cast<double>(b) / 1048576.0; };
  fmt::print(
      "  memory      {:.1f} MiB held by the contexts together; each: weights {:.1f}, activations "
      "{:.1f}, workspace {:.1f}\n",
      mib(mem), mib(one.weights), mib(one.activations), mib(one.workspace));
  return 0;
}

int cmdBench(const std::string& engine_path, const std::string& backend_name, int iterations,
             int warmup, const std::string& json_path, bool per_layer, bool cuda_graph,
             int streams) {
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
  if (streams > 1) {
    if (per_layer || !json_path.empty())
      return fail(
          Status(StatusCode::kInvalidArgument,
                 "edgert bench: --streams times throughput only (no --per-layer or --json)"));
    std::vector<std::unique_ptr<ExecutionContext>> ctxs;
    ctxs.push_back(std::move(ctx).value());
    for (int i = 1; i < streams; ++i) {
      auto c = engine.value()->createExecutionContext();
      if (!c.ok()) return fail(c.status());
      ctxs.push_back(std::move(c).value());
    }
    return benchStreams(ctxs, batch, warmup, iterations);
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
    // Achieved rates from what each layer's shapes imply (LayerTiming::flops / bytes).
    fmt::print("slowest layers:          TFLOP/s    GB/s\n");
    for (size_t i = 0; i < v.size() && i < 15; ++i) {
      const double s = std::max(v[i].ms, 1e-9) * 1e-3;
      const std::string tf =
          v[i].flops > 0 ? fmt::format("{:8.2f}", v[i].flops / s * 1e-12) : "       -";
      fmt::print("  {:8.4f} ms  {} {:7.1f}  {:<16} {:<22} {}\n", v[i].ms, tf, v[i].bytes / s * 1e-9,
                 v[i].op, v[i].tactic, v[i].name);
    }
    if (!json_path.empty()) {
      // Every layer in execution order (trtexec's --exportProfile).
      nlohmann::ordered_json j;
      j["engine"] = engine_path;
      j["batch"] = batch;
      j["total_ms"] = total;
      auto& arr = j["layers"] = nlohmann::ordered_json::array();
      for (const LayerTiming& l : layers.value())
        arr.push_back({{"name", l.name},
                       {"op", l.op},
                       {"tactic", l.tactic},
                       {"ms", l.ms},
                       {"flops", l.flops},
                       {"bytes", l.bytes}});
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

void addRuntimeCommands(CLI::App& app, RuntimeCommands& rc) {
  rc.inspect = app.add_subcommand("inspect",
                                  "Print an engine layer by layer, or an ONNX model's I/O and ops");
  rc.inspect_engine = rc.inspect->add_option("--engine", rc.i_engine, "Engine file");

  rc.run = app.add_subcommand("run", "Run an engine on images or input tensors (.npy, ONNX .pb)");
  rc.run->add_option("--engine", rc.r_engine, "Engine file")->required();
  rc.run->add_option("--backend", rc.r_backend, "cpu | cuda | auto");
  rc.run->add_option("--input", rc.r_inputs,
                     "name=file.npy | name=photo.jpg | name=folder/ (repeatable: several images "
                     "run in batches of the engine's batch size; the name may be omitted for "
                     "one input)");
  rc.run->add_option("--preprocess", rc.r_preprocess,
                     "Image pre-processing, e.g. resize=256,crop=224,mean=127,std=128,order=rgb "
                     "(default: what the engine was built with, edgert build --preprocess)");
  rc.run->add_option("--labels", rc.r_labels,
                     "Class names, one per line: classifier outputs print the top classes");
  rc.run
      ->add_option("--top-k", rc.r_topk,
                   "Classes to print per sample (default 5 with --labels or images; 0: none)")
      ->check(CLI::Range(0, 100000));
  rc.run->add_option("--json", rc.r_json,
                     "Also write the results as JSON ('-': only JSON, on stdout)");
  rc.run->add_option("--save-outputs", rc.r_save,
                     "Folder for <output name>.npy files (with images: every image's, stacked)");
  rc.run->add_option("--iterations", rc.r_iter, "Run this many times and report the median latency")
      ->check(CLI::Range(1, 1000000));

  rc.bench = app.add_subcommand("bench", "Time an engine: latency percentiles, throughput, memory");
  rc.bench->add_option("--engine", rc.be_engine, "Engine file")->required();
  rc.bench->add_option("--backend", rc.be_backend, "cpu | cuda | auto");
  rc.bench->add_option("--iterations", rc.be_iter, "Timed iterations")
      ->check(CLI::Range(1, 10000000));
  rc.bench->add_option("--warmup", rc.be_warm, "Untimed iterations first")
      ->check(CLI::Range(0, 1000000));
  rc.bench->add_option("--json", rc.be_json,
                       "Also write the results as JSON (with --per-layer: every layer, in order)");
  rc.bench->add_flag("--per-layer", rc.be_layers,
                     "Time every layer (eager) and list where the time goes");
  rc.bench->add_flag("--cuda-graph,!--no-cuda-graph", rc.be_graph,
                     "Replay the network as one CUDA graph (default) or launch every layer");
  rc.bench
      ->add_option("--streams", rc.be_streams,
                   "Run this many execution contexts at once, each on its own stream, and report "
                   "their throughput together")
      ->check(CLI::Range(1, 16));
}

std::optional<int> runRuntimeCommand(const RuntimeCommands& rc, const InputReaders& read) {
  if (rc.inspect->parsed() && !rc.i_engine.empty()) return cmdInspectEngine(rc.i_engine);
  if (rc.run->parsed()) return cmdRun(rc, read);
  if (rc.bench->parsed())
    return cmdBench(rc.be_engine, rc.be_backend, rc.be_iter, rc.be_warm, rc.be_json, rc.be_layers,
                    rc.be_graph, rc.be_streams);
  return std::nullopt;
}

}  // namespace edgert::cli
