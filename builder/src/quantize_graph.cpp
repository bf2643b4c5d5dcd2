#include "quantize_graph.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "../../kernels/int8_math.h"
#include "adaptive_rounding.h"
#include "edgert/internal/str.h"
#include "passes.h"

namespace edgert {

namespace {

bool isActivation(const Graph& g, int t, DataType dt) {
  return t >= 0 && !g.tensors[t].isConstant() && g.tensors[t].dtype == dt;
}
bool isConstFloat(const Graph& g, int t) {
  return t >= 0 && g.tensors[t].isConstant() && g.tensors[t].dtype == DataType::kFloat32;
}

// Empty when node `n` can become an EdgertQConv, else why not.
std::string whyNotInt8(const Graph& g, const Node& n) {
  auto in = [&](size_t i) { return i < n.inputs.size() ? n.inputs[i] : -1; };
  if (!isActivation(g, in(0), DataType::kFloat32)) return "its input is not a float32 activation";
  if (g.tensors[n.outputs[0]].dtype != DataType::kFloat32) return "its output is not float32";
  if (!isConstFloat(g, in(1))) return "its weights are not float32 constants";
  if (g.tensors[in(1)].dims.size() < 2) return "its weights are not a matrix";
  if (n.op == "Conv") {
    if (in(2) >= 0 && !isConstFloat(g, in(2))) return "its bias is not a constant";
    return "";
  }
  if (g.tensors[in(0)].dims.size() != 2) return "its input is not 2-D";
  if (g.tensors[in(1)].dims.size() != 2) return "its weights are not 2-D";
  if (n.op == "MatMul") return "";
  if (n.op != "Gemm") return "it is no Conv, Gemm or MatMul";
  if (n.attrs.getInt("transA", 0).value() != 0) return "it transposes its input (transA)";
  if (in(2) >= 0) {
    if (!isConstFloat(g, in(2))) return "its C is not a constant";
    const int64_t cols = g.tensors[n.outputs[0]].dims[1];
    const Dims& cd = g.tensors[in(2)].dims;
    if (volume(cd) != cols || (cd.size() == 2 && cd[0] != 1))
      return "its C is not one value per output column";
  }
  return "";
}

bool isCandidateOp(const std::string& op) {
  return op == "Conv" || op == "Gemm" || op == "MatMul";
}

HostTensor floatVector(const std::vector<float>& v) {
  HostTensor t = HostTensor::create(DataType::kFloat32, {static_cast<int64_t>(v.size())}).value();
  std::copy(v.begin(), v.end(), t.mutableAs<float>());
  return t;
}

float scaleOf(double threshold) {
  return static_cast<float>(std::max(threshold, 1e-8) / 127.0);
}

// Non-negative tensors are stored with zero point -128 (see quantizeGraph): all 256 codes
// over [0, threshold].
constexpr int kUnsignedZero = -128;
float unsignedScaleOf(double threshold) {
  return static_cast<float>(std::max(threshold, 1e-8) / 255.0);
}

// A layer whose fused activation makes its output non-negative (ReLU, Clip from 0 up).
bool writesNonNegative(const Node& n) {
  const std::string act = n.attrs.getString("_act", "").value();
  return act == "Relu" || (act == "Clip" && n.attrs.getFloat("_act_alpha", -1.f).value() >= 0.f);
}

// Whether a convolution's windows can leave its input (pads, or auto_pad SAME_*).
bool padsInput(const Node& n) {
  if (n.op != "Conv") return false;
  const std::string ap = n.attrs.getString("auto_pad", "NOTSET").value();
  if (ap == "SAME_UPPER" || ap == "SAME_LOWER") return true;
  if (ap == "VALID") return false;
  const std::vector<int64_t> pads = n.attrs.getInts("pads").value();
  return std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; });
}

// Bias correction (Nagel et al. 2019, "Data-Free Quantization", with the calibration images'
// means instead of batch-norm statistics): rounding the weights moves each output's mean by
// sum (s_w Wq - W) E[x], and clipping the inputs to their thresholds moves it by
// sum s_w Wq (E[clip x] - E[x]); subtracts both from `shift` (one per output) of layer `n`,
// whose float weights are `wf` and int8 ones `wq` / `sw` (output-major). On EfficientNet-Lite0
// this is most of what per-channel weight rounding costs (bench/int8_sim.py). False (nothing
// done) without means, or with means of another channel count.
bool meanShift(const Node& n, const HostTensor& wf, const HostTensor& wq,
               const std::vector<float>& sw, const std::vector<double>* ex,
               const std::vector<double>* exc, std::vector<double>* shift) {
  const int64_t M = wq.dims()[0], per = wq.numel() / std::max<int64_t>(M, 1);
  const int64_t groups = n.op == "Conv" ? n.attrs.getInt("group", 1).value() : 1;
  const int64_t cg = wf.dims().size() > 1 ? wf.dims()[1] : 0;
  if (!ex || groups <= 0 || M % groups || static_cast<int64_t>(ex->size()) != cg * groups)
    return false;
  if (exc && exc->size() != ex->size()) exc = nullptr;
  const double alpha = n.op == "Gemm" ? n.attrs.getFloat("alpha", 1.f).value() : 1.0;
  const int64_t kvol = per / std::max<int64_t>(cg, 1), mg = M / groups;
  for (int64_t m = 0; m < M; ++m) {
    double corr = 0;
    for (int64_t k = 0; k < per; ++k) {
      const int64_t c = (m / mg) * cg + k / kvol;  // the input channel weight k reads
      const double wdq = double(wq.as<int8_t>()[m * per + k]) * sw[m];
      corr += wdq * (exc ? (*exc)[c] : (*ex)[c]) - double(wf.as<float>()[m * per + k]) * (*ex)[c];
    }
    (*shift)[m] -= alpha * corr;
  }
  return true;
}

// Gemm with transB = 0 and MatMul store their weights as [K, N]; EdgertQConv reads
// [outputs, K].
bool weightsAreKN(const Node& n) {
  return n.op == "MatMul" || (n.op == "Gemm" && n.attrs.getInt("transB", 0).value() == 0);
}

// [K, N] -> [N, K] of any element type.
template <class T>
HostTensor transposed(const HostTensor& w) {
  const int64_t K = w.dims()[0], N = w.dims()[1];
  HostTensor t = HostTensor::create(w.dtype(), {N, K}).value();
  const T* src = w.as<T>();
  T* dst = t.mutableAs<T>();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < N; ++c) dst[c * K + k] = src[k * N + c];
  return t;
}

// The float weights as [outputs, ...].
HostTensor outputMajorWeights(const Graph& g, const Node& n) {
  const HostTensor& w = *g.tensors[n.inputs[1]].constant;
  return weightsAreKN(n) ? transposed<float>(w) : w.clone();
}

// The EdgertQConv that replaces `n` (Conv, Gemm or MatMul), reading the int8 tensor `xq` of
// scale `sx` with output-major int8 weights `wq` of per-output scales `sw` (one value: the
// same for all). Gemm's alpha goes into the accumulator scales and beta into the bias; a Conv
// keeps its attributes (geometry, fused activation), Gemm and MatMul their fused activation.
// The caller sets the outputs and the y_scales / r_scales attributes.
Node makeQConv(Graph& g, const Node& n, int xq, float sx, HostTensor wq,
               const std::vector<float>& sw) {
  const int64_t M = wq.dims()[0];
  const bool gemm = n.op == "Gemm";
  const float alpha = gemm ? n.attrs.getFloat("alpha", 1.f).value() : 1.f;
  const float beta = gemm ? n.attrs.getFloat("beta", 1.f).value() : 1.f;
  std::vector<float> acc_scale(M);
  for (int64_t m = 0; m < M; ++m) acc_scale[m] = sx * (sw.size() == 1 ? sw[0] : sw[m]) * alpha;
  int bias = -1;
  if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
    if (n.op == "Conv") {
      bias = n.inputs[2];
    } else {
      const HostTensor& c = *g.tensors[n.inputs[2]].constant;
      std::vector<float> b(M);
      for (int64_t m = 0; m < M; ++m) b[m] = static_cast<float>(c.doubleAt(m)) * beta;
      bias = g.addConstant(n.name + "/bias", floatVector(b));
    }
  }
  Node qn;
  qn.op = "EdgertQConv";
  qn.name = n.name;
  qn.precision = "int8";
  const int wt = g.addConstant(n.name + "/weight_int8", std::move(wq));
  const int st = g.addConstant(n.name + "/acc_scale", floatVector(acc_scale));
  qn.inputs = {xq, wt, bias, n.inputs.size() > 3 ? n.inputs[3] : -1, st};
  if (n.op == "Conv") {
    qn.attrs = n.attrs;
  } else {
    for (const char* a : {"_act", "_act_alpha", "_act_beta"})
      if (const Attribute* at = n.attrs.find(a)) qn.attrs.set(a, *at);
  }
  return qn;
}

}  // namespace

HostTensor transposedInt8(const HostTensor& w) {
  return transposed<int8_t>(w);
}

void quantizeWeightsPerChannel(const HostTensor& w, HostTensor* q, std::vector<float>* scales) {
  const int64_t M = w.dims()[0];
  const int64_t per = M ? w.numel() / M : 0;
  *q = HostTensor::create(DataType::kInt8, w.dims()).value();
  scales->assign(M, 1.f);
  const float* src = w.as<float>();
  int8_t* dst = q->mutableAs<int8_t>();
  for (int64_t m = 0; m < M; ++m) {
    float amax = 0.f;
    for (int64_t i = 0; i < per; ++i) amax = std::max(amax, std::fabs(src[m * per + i]));
    const float s = amax > 0.f ? amax / 127.f : 1.f;
    (*scales)[m] = s;
    for (int64_t i = 0; i < per; ++i)
      dst[m * per + i] = saturateToInt8(quantizeDivide(src[m * per + i], s));
  }
}

namespace {

bool positivelyHomogeneous(const Node& n) {
  const std::string act = n.attrs.getString("_act", "").value();
  return act.empty() || act == "Relu" || act == "LeakyRelu";
}

// max |w| per output channel (dim 0).
std::vector<float> outputRanges(const HostTensor& w) {
  const int64_t m = w.dims()[0], per = w.numel() / std::max<int64_t>(m, 1);
  std::vector<float> r(m, 0.f);
  for (int64_t i = 0; i < w.numel(); ++i)
    r[i / per] = std::max(r[i / per], std::fabs(w.as<float>()[i]));
  return r;
}

}  // namespace

size_t equalizeCrossLayer(Graph& g) {
  const TensorUses u = tensorUses(g);
  const auto& readers = u.readers;
  const auto& is_output = u.is_output;
  size_t pairs = 0;
  for (size_t ia = 0; ia < g.nodes.size(); ++ia) {
    Node& a = g.nodes[ia];
    if (a.op != "Conv" || !whyNotInt8(g, a).empty() || !positivelyHomogeneous(a)) continue;
    if (a.inputs.size() > 3 && a.inputs[3] >= 0) continue;  // a residual would need scaling too
    const int t = a.outputs[0];
    if (is_output[t] || readers[t].size() != 1) continue;
    Node& b = g.nodes[readers[t][0]];
    if (b.op != "Conv" || b.inputs[0] != t || !whyNotInt8(g, b).empty()) continue;
    // Only weights (and a bias) that no other layer shares.
    bool own = readers[a.inputs[1]].size() == 1 && readers[b.inputs[1]].size() == 1;
    if (a.inputs.size() > 2 && a.inputs[2] >= 0) own &= readers[a.inputs[2]].size() == 1;
    if (!own) continue;
    const HostTensor& wa = *g.tensors[a.inputs[1]].constant;
    const HostTensor& wb = *g.tensors[b.inputs[1]].constant;
    const int64_t C = wa.dims()[0];
    const int64_t M = wb.dims()[0], cg = wb.dims()[1];
    const int64_t group = b.attrs.getInt("group", 1).value();
    if (group <= 0 || cg * group != C || M % group) continue;
    const int64_t mg = M / group, kvol = wb.numel() / (M * cg);
    // B's range per input channel c: its weights [m in c's group][c % cg][...].
    std::vector<float> ra = outputRanges(wa), rb(C, 0.f);
    for (int64_t c = 0; c < C; ++c) {
      const int64_t grp = c / cg, local = c % cg;
      for (int64_t m = grp * mg; m < (grp + 1) * mg; ++m)
        for (int64_t k = 0; k < kvol; ++k)
          rb[c] = std::max(rb[c], std::fabs(wb.as<float>()[(m * cg + local) * kvol + k]));
    }
    std::vector<float> sc(C, 1.f);
    bool any = false;
    for (int64_t c = 0; c < C; ++c)
      if (ra[c] > 0 && rb[c] > 0) {
        sc[c] = std::sqrt(ra[c] / rb[c]);
        any |= sc[c] != 1.f;
      }
    if (!any) continue;
    HostTensor na = wa.clone(), nb = wb.clone();
    const int64_t per_a = wa.numel() / C;
    for (int64_t i = 0; i < na.numel(); ++i) na.mutableAs<float>()[i] /= sc[i / per_a];
    for (int64_t m = 0; m < M; ++m)
      for (int64_t l = 0; l < cg; ++l)
        for (int64_t k = 0; k < kvol; ++k)
          nb.mutableAs<float>()[(m * cg + l) * kvol + k] *= sc[(m / mg) * cg + l];
    g.tensors[a.inputs[1]].constant = std::make_shared<const HostTensor>(std::move(na));
    g.tensors[b.inputs[1]].constant = std::make_shared<const HostTensor>(std::move(nb));
    if (a.inputs.size() > 2 && a.inputs[2] >= 0) {
      HostTensor bias = g.tensors[a.inputs[2]].constant->clone();
      for (int64_t c = 0; c < C; ++c) bias.mutableAs<float>()[c] /= sc[c];
      g.tensors[a.inputs[2]].constant = std::make_shared<const HostTensor>(std::move(bias));
    }
    ++pairs;
  }
  return pairs;
}

bool hasQdq(const Graph& g) {
  for (const Node& n : g.nodes)
    if (n.op == "QuantizeLinear" || n.op == "DequantizeLinear") return true;
  return false;
}

std::map<std::string, QuantizedWeight> recordWeightQuantization(const Graph& g) {
  std::map<std::string, QuantizedWeight> out;
  for (const Node& n : g.nodes) {
    if (n.op != "DequantizeLinear" || n.inputs.size() < 2) continue;
    const int q = n.inputs[0], sc = n.inputs[1];
    const int zp = n.inputs.size() > 2 ? n.inputs[2] : -1;
    if (q < 0 || sc < 0 || n.outputs.empty() || n.outputs[0] < 0) continue;  // empty names
    if (!g.tensors[q].isConstant() || g.tensors[q].dtype != DataType::kInt8 ||
        !g.tensors[sc].isConstant() || g.tensors[sc].dtype != DataType::kFloat32)
      continue;
    if (zp >= 0) {  // symmetric only
      if (!g.tensors[zp].isConstant()) continue;
      const HostTensor& z = *g.tensors[zp].constant;
      bool zero = true;
      for (int64_t i = 0; i < z.numel(); ++i) zero &= z.intAt(i) == 0;
      if (!zero) continue;
    }
    QuantizedWeight w;
    w.values = g.tensors[q].constant->clone();
    const HostTensor& s = *g.tensors[sc].constant;
    for (int64_t i = 0; i < s.numel(); ++i) w.scales.push_back(s.as<float>()[i]);
    // Before shape inference: the node's attributes are not checked yet.
    const Result<int64_t> axis = n.attrs.getInt("axis", 1);
    if (!axis.ok()) continue;
    w.axis = axis.value();
    if (w.axis < 0) w.axis += static_cast<int64_t>(w.values.dims().size());
    out[g.tensors[n.outputs[0]].name] = std::move(w);
  }
  return out;
}

std::vector<std::string> int8CandidateLayers(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes)
    if (isCandidateOp(n.op) && whyNotInt8(g, n).empty()) names.push_back(n.name);
  return names;
}

const std::string* layerPrecision(const std::map<std::string, std::string>& layer_precisions,
                                  const std::string& name) {
  auto p = layer_precisions.find(name);
  if (p == layer_precisions.end()) p = layer_precisions.find("*");
  return p == layer_precisions.end() ? nullptr : &p->second;
}

namespace {

// A Q/DQ model's int8 weights for layer `n` (float weights `wf`, output-major) as [outputs, ...]
// with one scale per output.
Result<HostTensor> givenWeights(const Node& n, const QuantizedWeight& qw, const HostTensor& wf,
                                std::vector<float>* sw) {
  const bool kn = weightsAreKN(n);
  if (qw.values.dims().size() != 2 && kn)
    return Status(StatusCode::kInvalidArgument,
                  strCat(n.op, " '", n.name, "': its int8 weights are not a matrix"));
  HostTensor wq = kn ? transposed<int8_t>(qw.values) : qw.values.clone();
  if (wq.dims() != wf.dims())
    return Status(StatusCode::kInvalidArgument,
                  strCat(n.op, " '", n.name, "': its int8 weights are ", dimsToString(wq.dims()),
                         ", its float ones ", dimsToString(wf.dims())));
  const int64_t M = wq.dims()[0];
  if (qw.scales.size() == 1) {
    sw->assign(static_cast<size_t>(M), qw.scales[0]);
  } else if (static_cast<int64_t>(qw.scales.size()) == M && qw.axis == (kn ? 1 : 0)) {
    *sw = qw.scales;
  } else {
    return Status(
        StatusCode::kInvalidArgument,
        strCat(n.op, " '", n.name, "': its weight scales (", qw.scales.size(), " along axis ",
               qw.axis, ") are neither one per tensor nor one per output channel"));
  }
  return wq;
}

bool anyNonZero(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return x != 0; });
}

}  // namespace

Result<QuantizeReport> quantizeGraph(Graph& g, const CalibrationCache& ranges,
                                     const std::map<std::string, std::string>& layer_precisions,
                                     const QuantizeOptions& qopt) {
  const std::map<std::string, double>& thresholds = ranges.thresholds;
  QuantizeReport rep;
  {
    std::set<std::string> layers;
    for (const Node& n : g.nodes) layers.insert(n.name);
    std::string unknown;
    for (const auto& [name, prec] : layer_precisions) {
      if (!layers.count(name) && name != "*")
        unknown += strCat(unknown.empty() ? "" : ", ", "'", name, "'");
      if (prec != "int8" && prec != "fp16" && prec != "fp32")
        return Status(StatusCode::kInvalidArgument,
                      strCat("layer_precisions: '", name, "' has precision '", prec,
                             "' (int8, fp16 or fp32)"));
    }
    if (!unknown.empty())
      return Status(StatusCode::kInvalidArgument,
                    strCat("layer_precisions names no layer of the optimised network: ", unknown,
                           " (`edgert inspect --engine` on an fp32 build lists the layers)"));
  }
  // A zero Pad keeps its input's range: a cache made where pads folded into convolutions (the
  // CPU target folds asymmetric ones, the GPU's kernels do not) serves a graph that keeps them.
  std::vector<int> pad_source(g.tensors.size(), -1);
  for (const Node& n : g.nodes)
    if (n.op == "Pad" && !n.inputs.empty() && n.inputs[0] >= 0 && !n.outputs.empty() &&
        n.attrs.getString("mode", "constant").value() == "constant") {
      const bool zero =
          n.inputs.size() < 3 || n.inputs[2] < 0 ||
          (g.tensors[n.inputs[2]].isConstant() && g.tensors[n.inputs[2]].constant->numel() == 1 &&
           g.tensors[n.inputs[2]].constant->doubleAt(0) == 0.0);
      if (zero) pad_source[n.outputs[0]] = n.inputs[0];
    }
  // An INT8 convolution's input whose Pad was folded into it -> that Pad's output (below).
  std::vector<int> folded_from(g.tensors.size(), -1);
  // A tensor's entry in `map` (thresholds or means), through zero Pads either way.
  auto find = [&](const auto& map,
                  int t) -> const typename std::decay_t<decltype(map)>::mapped_type* {
    for (int from : {t, t >= 0 ? folded_from[t] : -1})
      for (int hops = 0; from >= 0 && hops < 8; ++hops, from = pad_source[from]) {
        auto it = map.find(g.tensors[from].name);
        if (it != map.end()) return &it->second;
      }
    return nullptr;
  };
  auto threshold = [&](int t) { return find(thresholds, t); };
  // Which layers become INT8.
  std::vector<bool> int8(g.nodes.size(), false);
  std::string missing;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!isCandidateOp(n.op)) continue;
    const std::string why = whyNotInt8(g, n);
    if (!why.empty()) {
      rep.unsupported.push_back(strCat(n.op, " '", n.name, "': ", why));
      continue;
    }
    const std::string* p = layerPrecision(layer_precisions, n.name);
    if (p && *p != "int8") {
      rep.kept_float.push_back(n.name);
      continue;
    }
    if (!threshold(n.inputs[0])) {
      if (qopt.float_without_threshold) {
        rep.kept_float.push_back(n.name);
        continue;
      }
      missing += strCat(missing.empty() ? "" : ", ", "'", g.tensors[n.inputs[0]].name, "'");
      continue;
    }
    int8[i] = true;
  }
  if (!missing.empty())
    return Status(StatusCode::kInvalidArgument,
                  strCat("no calibration threshold for INT8 layer input(s) ", missing,
                         " (a calibration cache made with other build options? calibrate again)"));
  // Zero Pads before INT8 convolutions become the convolutions' own pads, asymmetric ones too
  // (EfficientNet's "same" padding of its stride-2 layers, which cuDNN cannot take): every INT8
  // kernel, CPU and CUDA, reads zeros wherever a window leaves the input, so the Pad, its float
  // tensor and a QuantizeLinear go. (The CPU target folded them before calibration already.)
  // The Pad is dropped.
  std::vector<bool> folded_pad(g.nodes.size(), false);
  {
    const TensorUses pu = tensorUses(g);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      Node& conv = g.nodes[i];
      if (!int8[i] || conv.op != "Conv") continue;
      const int t = conv.inputs[0];
      const int p = pu.producer[t];
      std::vector<int64_t> pads;
      if (p < 0 || pu.is_output[t] || pu.readers[t].size() != 1 ||
          !foldablePad(g, g.nodes[p], conv, &pads))
        continue;
      conv.attrs.setInts("pads", pads);
      conv.inputs[0] = g.nodes[p].inputs[0];
      folded_from[conv.inputs[0]] = t;
      folded_pad[static_cast<size_t>(p)] = true;
    }
  }
  // A layer's output can stay int8 when every reader is an INT8 layer reading it as its input
  // or residual, and it is no network output.
  const TensorUses u = tensorUses(g, folded_pad);
  const auto& readers = u.readers;
  const auto& is_output = u.is_output;
  auto int8Readers = [&](int t) {
    if (is_output[t] || readers[t].empty() || !threshold(t)) return false;
    for (int r : readers[t]) {
      const Node& rn = g.nodes[r];
      if (!int8[r] || rn.inputs[1] == t || (rn.inputs.size() > 2 && rn.inputs[2] == t))
        return false;
    }
    return true;
  };

  // A MaxPool between INT8 layers runs on int8: the INT8 layer before it (which the pool alone
  // reads) writes int8 with the scale of the pool's output, and the pool keeps that scale.
  // Max commutes with quantisation, a monotone map, saturation included: the pool of the
  // quantised values is the quantised pool of the floats, so this is exact, and the pool
  // moves a quarter of the bytes with no QuantizeLinear after it (ResNet-50's stem).
  std::vector<int> pool_after(g.nodes.size(), -1);  // INT8 layer -> the int8 MaxPool it feeds
  std::vector<bool> pool8(g.nodes.size(), false);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (n.op != "MaxPool" || n.inputs.empty() || n.outputs.empty()) continue;
    if (n.outputs.size() > 1 && n.outputs[1] >= 0) continue;  // indices
    const int x = n.inputs[0], y = n.outputs[0];
    const int p = x >= 0 ? u.producer[x] : -1;
    if (p < 0 || !int8[p] || is_output[x] || readers[x].size() != 1 ||
        g.tensors[x].dims.size() != 4 || !int8Readers(y))
      continue;
    pool_after[p] = static_cast<int>(i);
    pool8[i] = true;
  }

  // Zero points. A tensor an INT8 layer writes through ReLU or Clip(0, ...) has no negative
  // values, so the symmetric code wastes its 128 negative levels: it is written as
  // q = rint(x / s) - 128 with s = threshold / 255 instead, half the rounding step. No kernel
  // knows: the writer's bias and clip bounds move by -128 * s (the shift commutes with the clip),
  // and each reader's bias gains 128 * sum(w) * acc_scale (plus 128 * r_scale for a residual),
  // the zero point's part of its accumulator. A window that leaves the input must read the zero
  // point there (x_pad): the CPU and the GPU's depthwise and grouped kernels do, its implicit-
  // GEMM kernels (one group) do not, so a tensor that such a padded convolution reads stays
  // symmetric. EDGERT_INT8_SYMMETRIC=1 keeps every tensor symmetric (to compare).
  const bool allow_unsigned =
      qopt.allow_unsigned && std::getenv("EDGERT_INT8_SYMMETRIC") == nullptr;
  const bool correct_bias =
      qopt.correct_bias && std::getenv("EDGERT_INT8_NO_BIAS_CORRECTION") == nullptr;
  // A Q/DQ model's zero point for tensor t (through zero Pads, as thresholds), if it gives one.
  auto wantedZero = [&](int t) -> const int* {
    return qopt.zero_points ? find(*qopt.zero_points, t) : nullptr;
  };
  auto unsignedReaders = [&](int t) {
    for (int r : readers[t]) {
      const Node& rn = g.nodes[r];
      if (rn.inputs[0] == t && padsInput(rn) && rn.attrs.getInt("group", 1).value() == 1)
        return false;
    }
    return true;
  };
  std::map<int, int> zero_points;  // int8 tensor -> its zero point (absent: 0)
  auto zeroPoint = [&](int t) {
    auto it = zero_points.find(t);
    return it == zero_points.end() ? 0 : it->second;
  };

  std::map<int, int> quantized;  // float tensor -> its int8 copy
  std::map<int, float> scales;   // int8 tensor -> its scale
  std::vector<Node> out;
  out.reserve(g.nodes.size() + 16);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (folded_pad[i]) continue;
    if (!int8[i]) {
      const Node& n = g.nodes[i];
      if (pool8[i]) {
        g.tensors[n.outputs[0]].dtype = DataType::kInt8;
        scales[n.outputs[0]] = scales.at(n.inputs[0]);
        if (const int z = zeroPoint(n.inputs[0])) zero_points[n.outputs[0]] = z;
        ++rep.int8_pools;
      }
      out.push_back(std::move(g.nodes[i]));
      continue;
    }
    Node n = std::move(g.nodes[i]);
    const int x = n.inputs[0];
    int xq = x;
    if (g.tensors[x].dtype != DataType::kInt8) {
      auto it = quantized.find(x);
      if (it == quantized.end()) {
        if (const int* z = wantedZero(x); z && *z != 0)
          return Status(StatusCode::kInvalidArgument,
                        strCat("tensor '", g.tensors[x].name,
                               "': the model quantises it unsigned (zero point -128, or uint8 "
                               "with 0), which edgert can only store where an INT8 layer "
                               "writes it through ReLU or Clip(0, ...); quantise it "
                               "symmetrically"));
        const float sx = scaleOf(*threshold(x));
        TensorEntry e;
        e.name = g.tensors[x].name + "/int8";
        e.dtype = DataType::kInt8;
        e.dims = g.tensors[x].dims;
        g.tensors.push_back(std::move(e));
        xq = static_cast<int>(g.tensors.size()) - 1;
        HostTensor st = HostTensor::create(DataType::kFloat32, {}).value();
        *st.mutableAs<float>() = sx;
        Node q;
        q.op = "QuantizeLinear";
        q.name = g.tensors[x].name + "/quantize";
        q.inputs = {
            x, g.addConstant(q.name + "/scale", std::move(st)),
            g.addConstant(q.name + "/zero_point", HostTensor::create(DataType::kInt8, {}).value())};
        q.outputs = {xq};
        out.push_back(std::move(q));
        ++rep.quantize_nodes;
        quantized[x] = xq;
        scales[xq] = sx;
      } else {
        xq = it->second;
      }
    }
    HostTensor wq;
    std::vector<float> sw;
    const HostTensor wf = outputMajorWeights(g, n);
    const QuantizedWeight* given = nullptr;
    if (qopt.given_weights) {
      auto it = qopt.given_weights->find(g.tensors[n.inputs[1]].name);
      if (it != qopt.given_weights->end()) given = &it->second;
    }
    if (given) {
      EDGERT_ASSIGN_OR_RETURN(wq, givenWeights(n, *given, wf, &sw));
    } else {
      quantizeWeightsPerChannel(wf, &wq, &sw);
    }
    if (auto r = ranges.rounding.find(n.name); r != ranges.rounding.end()) {
      EDGERT_RETURN_IF_ERROR(applyRounding(wf, sw, r->second, n.name, &wq));
      ++rep.adaptively_rounded;
    }
    const int64_t M = wq.dims()[0], per = wq.numel() / std::max<int64_t>(M, 1);
    std::vector<double> wsum(static_cast<size_t>(M), 0.0);  // per output: the sum of its weights
    for (int64_t k = 0; k < wq.numel(); ++k)
      wsum[static_cast<size_t>(k / per)] += wq.as<int8_t>()[k];
    std::vector<double> bias_shift(static_cast<size_t>(M), 0.0);
    if (correct_bias &&
        meanShift(n, wf, wq, sw, find(ranges.means, x), find(ranges.clipped_means, x), &bias_shift))
      ++rep.bias_corrected;
    QuantizedLayer rec;
    rec.name = n.name;
    rec.op = n.op;
    rec.x_scale = scales.at(xq);
    rec.x_zero = zeroPoint(xq);
    rec.weights = wq.clone();
    rec.weight_scales = sw;
    Node qn = makeQConv(g, n, xq, scales.at(xq), std::move(wq), sw);
    // The float bias (with the correction) first, rounded to float as an export writes it;
    // then the zero points' parts, so that a Q/DQ export builds into the same engine.
    const HostTensor* old = qn.inputs[2] >= 0 ? g.tensors[qn.inputs[2]].constant.get() : nullptr;
    if (old || anyNonZero(bias_shift)) {
      rec.bias.resize(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m)
        rec.bias[m] = static_cast<float>((old ? old->doubleAt(m) : 0.0) + bias_shift[m]);
    }
    std::vector<double> zero_shift(static_cast<size_t>(M), 0.0);
    if (const int zx = zeroPoint(xq)) {
      const float* acc_scale = g.tensors[qn.inputs[4]].constant->as<float>();
      for (int64_t m = 0; m < M; ++m) zero_shift[m] -= double(zx) * wsum[m] * acc_scale[m];
      qn.attrs.setInt("x_pad", zx);
    }
    // A float residual stays float: its int8 copy (if any) would lose precision.
    const int residual = qn.inputs[3];
    if (residual >= 0 && g.tensors[residual].dtype == DataType::kInt8) {
      const float rs = scales.at(residual);
      qn.attrs.setFloats("r_scales", std::vector<float>(static_cast<size_t>(M), rs));
      rec.residual = g.tensors[residual].name;
      rec.residual_scale = rs;
      rec.residual_zero = zeroPoint(residual);
      if (const int zr = zeroPoint(residual))
        for (int64_t m = 0; m < M; ++m) zero_shift[m] -= double(zr) * rs;
    }
    const int y = n.outputs[0];
    const int pool = pool_after[i];
    if (pool >= 0 || int8Readers(y)) {
      const int f = pool >= 0 ? g.nodes[pool].outputs[0] : y;  // the tensor INT8 layers read
      const bool can_unsign = writesNonNegative(n) && unsignedReaders(f);
      bool uns = allow_unsigned && can_unsign;
      if (const int* z = wantedZero(f)) {
        if (*z != 0 && !can_unsign)
          return Status(StatusCode::kInvalidArgument,
                        strCat("tensor '", g.tensors[f].name,
                               "': the model quantises it unsigned (zero point -128, or uint8 "
                               "with 0), but ",
                               writesNonNegative(n) ? "a padded convolution reads it"
                                                    : strCat("'", n.name,
                                                             "' does not write it through ReLU or "
                                                             "Clip(0, ...)"),
                               "; quantise it symmetrically"));
        uns = *z != 0;
      }
      const float sy = uns ? unsignedScaleOf(*threshold(f)) : scaleOf(*threshold(f));
      g.tensors[y].dtype = DataType::kInt8;
      qn.attrs.setFloats("y_scales", std::vector<float>(static_cast<size_t>(M), sy));
      scales[y] = sy;
      if (uns) {
        zero_points[y] = kUnsignedZero;
        ++rep.unsigned_tensors;
        const float off = static_cast<float>(kUnsignedZero) * sy;  // exact: a power of 2 times sy
        for (int64_t m = 0; m < M; ++m) zero_shift[m] += off;
        const bool relu = qn.attrs.getString("_act", "").value() == "Relu";
        const float lo = relu ? 0.f : qn.attrs.getFloat("_act_alpha", 0.f).value();
        const float hi = relu ? 3.402823466e38f : qn.attrs.getFloat("_act_beta", 0.f).value();
        qn.attrs.setString("_act", "Clip");
        qn.attrs.setFloat("_act_alpha", lo + off);
        qn.attrs.setFloat("_act_beta", hi + off);
      }
    }
    if (anyNonZero(bias_shift) || anyNonZero(zero_shift)) {
      std::vector<float> b(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m)
        b[m] = static_cast<float>((rec.bias.empty() ? 0.0 : double(rec.bias[m])) + zero_shift[m]);
      qn.inputs[2] = g.addConstant(n.name + "/bias_int8", floatVector(b));
    }
    qn.outputs = {y};
    out.push_back(std::move(qn));
    rep.layers.push_back(std::move(rec));
    ++rep.int8_layers;
  }
  g.nodes = std::move(out);
  return rep;
}

}  // namespace edgert
