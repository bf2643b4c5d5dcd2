#include "calibrator.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>

#include "edgert/edgert.h"
#include "edgert/internal/backends.h"
#include "edgert/internal/engine_model.h"
#include "edgert/internal/half.h"
#include "edgert/internal/op.h"
#include "edgert/internal/str.h"
#include "quantize_graph.h"

namespace edgert {

std::string modelFingerprint(const Graph& g) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  auto str = [&](const std::string& s) {
    const uint64_t n = s.size();
    XXH3_64bits_update(st, &n, sizeof n);
    XXH3_64bits_update(st, s.data(), s.size());
  };
  auto name = [&](int t) { str(t < 0 ? std::string("<none>") : g.tensors[t].name); };
  for (const Node& n : g.nodes) {
    str(n.op);
    str(n.name);
    for (int t : n.inputs) name(t);
    str("->");
    for (int t : n.outputs) name(t);
  }
  for (const TensorEntry& t : g.tensors)
    if (t.isConstant()) {
      str(t.name);
      XXH3_64bits_update(st, t.constant->data(), t.constant->bytes());
    }
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

namespace {

// The float network with every tensor calibration observes made an output binding.
Result<std::vector<uint8_t>> calibrationEngine(const Graph& g, const std::set<int>& observe,
                                               bool cuda) {
  EngineModel m;
  m.graph = g;
  std::set<int> bound;
  for (const Binding& b : m.graph.bindings) bound.insert(b.tensor);
  for (int t : observe)
    if (!bound.count(t)) {
      Binding b;
      b.tensor = t;
      b.model_dims = m.graph.tensors[t].dims;
      b.dim_names.assign(b.model_dims.size(), "");
      m.graph.bindings.push_back(std::move(b));
    }
  m.plan = planMemory(m.graph);
  for (const Node& n : m.graph.nodes) {
    auto k = findOp(n.op)->create_cpu(nodeContext(m.graph, n, true));
    if (!k.ok()) return k.status();
    m.plan.scratch_bytes = std::max<uint64_t>(m.plan.scratch_bytes, k.value()->scratchBytes());
  }
  if (cuda) {
    m.target.backend = "cuda";
    m.target.sm = cudaDeviceSms();
  }
  m.edgert_version = versionString();
  m.source = "calibration";
  return serializeEngine(m);
}

int64_t batchSize(const Graph& g) {
  for (const Binding& b : g.bindings)
    if (b.is_input && !g.tensors[b.tensor].dims.empty())
      return std::max<int64_t>(1, g.tensors[b.tensor].dims[0]);
  return 1;
}

// Feeds batch `b` of the source to every input of `g`.
Status feedBatch(const Graph& g, CalibrationSource& source, int b, ExecutionContext& c) {
  const int64_t batch = batchSize(g);
  std::vector<float> buf;
  std::vector<uint16_t> half;
  for (const Binding& in : g.bindings) {
    if (!in.is_input) continue;
    const TensorEntry& t = g.tensors[in.tensor];
    if (t.dtype != DataType::kFloat32 && t.dtype != DataType::kFloat16)
      return Status(StatusCode::kUnsupported, strCat("calibration feeds float inputs; input '",
                                                     t.name, "' is ", dataTypeName(t.dtype)));
    buf.assign(static_cast<size_t>(volume(t.dims)), 0.f);
    EDGERT_RETURN_IF_ERROR(
        source.getSamples(static_cast<int>(b * batch), t.name, t.dims, buf.data())
            .withContext(strCat("calibration batch ", b + 1)));
    if (t.dtype == DataType::kFloat16) {
      half.resize(buf.size());
      for (size_t i = 0; i < buf.size(); ++i) half[i] = floatToHalf(buf[i]);
      EDGERT_RETURN_IF_ERROR(c.setInput(t.name, half.data(), half.size() * 2));
    } else {
      EDGERT_RETURN_IF_ERROR(c.setInput(t.name, buf.data(), buf.size() * 4));
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<ExecutionContext>> contextFor(const std::vector<uint8_t>& bytes, bool cuda,
                                                     std::shared_ptr<const Engine>* keep) {
  RuntimeOptions ro;
  ro.backend = cuda ? Backend::kCuda : Backend::kCpu;
  ro.log = [](LogSeverity, const std::string&) {};
  EDGERT_ASSIGN_OR_RETURN(auto rt, Runtime::create(ro));
  EDGERT_ASSIGN_OR_RETURN(*keep,
                          rt->deserializeEngine(bytes.data(), bytes.size(), "calibration network"));
  return (*keep)->createExecutionContext();
}

// A per-channel (dim 1 of [N, C, spatial...]) mean, summed batch by batch.
struct ChannelMean {
  std::vector<double> sum;
  double count = 0;  // values per channel
  // Adds `x`, each value clipped to [-clip, clip] when `clip` > 0.
  void add(const Dims& dims, const std::vector<float>& x, double clip) {
    if (dims.size() < 2 || dims[1] <= 0 || x.empty()) return;
    const int64_t C = dims[1], inner = volume(dims) / std::max<int64_t>(1, dims[0] * C);
    sum.resize(static_cast<size_t>(C), 0.0);
    const float lo = static_cast<float>(-clip), hi = static_cast<float>(clip);
    for (size_t i = 0; i < x.size(); ++i) {
      const float v = clip > 0 ? std::min(hi, std::max(lo, x[i])) : x[i];
      sum[(i / inner) % C] += v;
    }
    count += static_cast<double>(x.size()) / static_cast<double>(C);
  }
  std::vector<double> mean() const {
    std::vector<double> m = sum;
    for (double& v : m) v /= count;
    return m;
  }
};

}  // namespace

Result<BatchOutputs> runOnSamples(const Graph& g, CalibrationSource& source, int batches) {
  EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, calibrationEngine(g, {}, false));
  std::shared_ptr<const Engine> engine;
  EDGERT_ASSIGN_OR_RETURN(auto ctx, contextFor(bytes, false, &engine));
  const int64_t batch = batchSize(g);
  batches = std::min<int>(batches, static_cast<int>((source.sampleCount() + batch - 1) / batch));
  BatchOutputs out;
  for (int b = 0; b < batches; ++b) {
    EDGERT_RETURN_IF_ERROR(feedBatch(g, source, b, *ctx));
    EDGERT_RETURN_IF_ERROR(ctx->execute());
    out.emplace_back();
    for (const Binding& o : g.bindings) {
      if (o.is_input) continue;
      const TensorEntry& t = g.tensors[o.tensor];
      if (t.dtype != DataType::kFloat32) continue;
      std::vector<float> v(static_cast<size_t>(volume(t.dims)));
      EDGERT_RETURN_IF_ERROR(ctx->getOutput(t.name, v.data(), v.size() * 4));
      out.back().push_back(std::move(v));
    }
  }
  return out;
}

double minCosine(const Graph& g, const BatchOutputs& a, const BatchOutputs& b) {
  const int64_t batch = batchSize(g);
  double worst = 1;
  for (size_t o = 0; o < (a.empty() ? 0 : a[0].size()); ++o) {
    // Per sample: (a.b, |a|^2, |b|^2).
    std::vector<std::array<double, 3>> dots;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (o >= a[i].size() || o >= b[i].size()) continue;
      const size_t per = a[i][o].size() / static_cast<size_t>(batch);
      for (int64_t s = 0; s < batch; ++s) {
        std::array<double, 3> d{0, 0, 0};
        for (size_t k = s * per; k < (s + 1) * per; ++k) {
          d[0] += double(a[i][o][k]) * b[i][o][k];
          d[1] += double(a[i][o][k]) * a[i][o][k];
          d[2] += double(b[i][o][k]) * b[i][o][k];
        }
        dots.push_back(d);
      }
    }
    std::vector<double> norms;
    for (const auto& d : dots) norms.push_back(d[1]);
    std::sort(norms.begin(), norms.end());
    const double floor = norms.empty() ? 0 : 1e-6 * norms[norms.size() / 2];
    for (const auto& d : dots) {
      if (d[1] <= floor) continue;  // see the header: a (nearly) empty reference output
      worst = std::min(worst, d[0] / std::sqrt(d[1] * d[2] + 1e-300));
    }
  }
  return worst;
}

std::pair<double, int64_t> top1Agreement(const Graph& g, const BatchOutputs& a,
                                         const BatchOutputs& b) {
  const int64_t batch = batchSize(g);
  int64_t same = 0, samples = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (a[i].empty() || b[i].empty() || a[i][0].size() != b[i][0].size()) continue;
    const size_t per = a[i][0].size() / static_cast<size_t>(batch);
    if (per == 0) continue;
    for (int64_t s = 0; s < batch; ++s) {
      const float* x = a[i][0].data() + s * per;
      const float* y = b[i][0].data() + s * per;
      const auto [lo, hi] = std::minmax_element(x, x + per);
      const float tie = kTop1Tie * (*hi - *lo);
      same += x[std::max_element(y, y + per) - y] >= *hi - tie;
      ++samples;
    }
  }
  return {samples ? double(same) / samples : 1.0, samples};
}

Result<CalibrationRun> calibrate(const Graph& g, CalibrationSource& source, int max_batches,
                                 CalibAlgo algo, double percentile,
                                 const std::function<void(double)>& progress, bool gpu,
                                 bool window_moments) {
  CalibrationRun run;
  std::set<int> observe, averaged;
  const std::vector<std::string> layers = int8CandidateLayers(g);
  const std::set<std::string> layer_set(layers.begin(), layers.end());
  std::map<int, std::vector<std::pair<std::string, PatchGeometry>>> windows;  // by input tensor
  for (const Node& n : g.nodes) {
    if (!layer_set.count(n.name)) continue;
    observe.insert(n.inputs[0]);
    if (g.tensors[n.inputs[0]].dims.size() >= 2) averaged.insert(n.inputs[0]);
    if (window_moments)
      if (const std::optional<PatchGeometry> geo = roundingGeometry(g, n))
        windows[n.inputs[0]].emplace_back(n.name, *geo);
    if (n.inputs.size() > 3 && n.inputs[3] >= 0) observe.insert(n.inputs[3]);
    observe.insert(n.outputs[0]);
  }
  if (observe.empty()) return run;
  const int64_t batch = batchSize(g);
  if (source.sampleCount() <= 0)
    return Status(StatusCode::kInvalidArgument, "calibration source has no samples");
  int batches = static_cast<int>((source.sampleCount() + batch - 1) / batch);
  if (max_batches > 0) batches = std::min(batches, max_batches);
  const bool cuda = gpu && cudaAvailable().ok() && !cudaDeviceSms().empty();
  run.backend = cuda ? "cuda" : "cpu";
  EDGERT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, calibrationEngine(g, observe, cuda));
  std::shared_ptr<const Engine> engine;
  EDGERT_ASSIGN_OR_RETURN(auto ctx, contextFor(bytes, cuda, &engine));
  // One pass over the batches: `f(tensor, values)` for each of `tensors` in each batch; the
  // two passes share the progress line.
  std::vector<float> buf;
  auto pass = [&](const std::set<int>& tensors, int index, const auto& f) -> Status {
    for (int b = 0; b < batches; ++b) {
      EDGERT_RETURN_IF_ERROR(feedBatch(g, source, b, *ctx));
      EDGERT_RETURN_IF_ERROR(ctx->execute().withContext(strCat("calibration batch ", b + 1)));
      for (int t : tensors) {
        const TensorEntry& e = g.tensors[t];
        buf.resize(static_cast<size_t>(volume(e.dims)));
        EDGERT_RETURN_IF_ERROR(ctx->getOutput(e.name, buf.data(), buf.size() * 4));
        f(t, e);
      }
      if (progress) progress(double(index * batches + b + 1) / (2 * batches));
    }
    return Status::Ok();
  };
  std::map<int, AbsHistogram> hist;
  std::map<int, ChannelMean> means, clipped;  // `averaged` tensors
  EDGERT_RETURN_IF_ERROR(pass(observe, 0, [&](int t, const TensorEntry& e) {
    hist[t].add(buf.data(), buf.size());
    if (averaged.count(t)) means[t].add(e.dims, buf, 0);
  }));
  for (const auto& [t, h] : hist) {
    double thr = h.maxAbs() > 0 ? calibThreshold(h, algo, percentile) : 0;
    // A tensor that was zero throughout still needs a usable scale.
    if (!(thr > 0)) thr = 1e-6;
    run.thresholds[g.tensors[t].name] = thr;
  }
  // Second pass: the means of the layer inputs clipped to their thresholds, which INT8 layers
  // see; with the plain means, the bias correction takes back the mean shift of the clipping
  // as well as of the weights' rounding (an entropy threshold clips EfficientNet-Lite0's ReLU6
  // outputs at 3.5 to 4.3).
  if (!averaged.empty())
    EDGERT_RETURN_IF_ERROR(pass(averaged, 1, [&](int t, const TensorEntry& e) {
      const double clip = run.thresholds.at(e.name);
      clipped[t].add(e.dims, buf, clip);
      if (auto w = windows.find(t); w != windows.end())
        for (const auto& [layer, geo] : w->second)
          run.window_moments[layer].add(geo, buf.data(), e.dims[0], clip);
    }));
  for (const auto& [t, m] : means) run.means[g.tensors[t].name] = m.mean();
  for (const auto& [t, m] : clipped) run.clipped_means[g.tensors[t].name] = m.mean();
  run.batches = batches;
  return run;
}

}  // namespace edgert
