#include "adaptive_rounding.h"

#include <algorithm>
#include <cmath>

#include "../../kernels/int8_math.h"
#include "edgert/internal/str.h"
#include "quantize_graph.h"

namespace edgert {

std::optional<PatchGeometry> roundingGeometry(const Graph& g, const Node& n) {
  if (n.op != "Conv" || n.inputs.size() < 2 || n.inputs[0] < 0 || n.inputs[1] < 0)
    return std::nullopt;
  const TensorEntry& x = g.tensors[n.inputs[0]];
  const TensorEntry& w = g.tensors[n.inputs[1]];
  if (!w.isConstant() || x.dims.size() != 4 || w.dims.size() != 4) return std::nullopt;
  for (int64_t d : x.dims)
    if (d <= 0) return std::nullopt;
  const auto orElse = [](auto r, auto def) { return r.ok() ? r.value() : def; };
  const std::string ap = orElse(n.attrs.getString("auto_pad", "NOTSET"), std::string("NOTSET"));
  if (ap != "NOTSET" && ap != "VALID") return std::nullopt;
  PatchGeometry p;
  p.C = x.dims[1];
  p.H = x.dims[2];
  p.W = x.dims[3];
  const int64_t M = w.dims[0], cg = w.dims[1],
                group = orElse(n.attrs.getInt("group", 1), int64_t{1});
  p.kh = w.dims[2];
  p.kw = w.dims[3];
  p.depthwise = group == p.C && M == p.C && cg == 1;
  if (!p.depthwise && (group != 1 || cg != p.C || p.window() > PatchGeometry::kMaxDenseWindow))
    return std::nullopt;
  if (p.depthwise && p.window() > PatchGeometry::kMaxDepthwiseWindow) return std::nullopt;
  const auto ints = [&](const char* name, const std::vector<int64_t>& def) {
    return orElse(n.attrs.getInts(name, def), def);
  };
  const std::vector<int64_t> s = ints("strides", {1, 1});
  const std::vector<int64_t> d = ints("dilations", {1, 1});
  std::vector<int64_t> pads = ints("pads", {0, 0, 0, 0});
  if (ap == "VALID") pads = {0, 0, 0, 0};
  if (s.size() != 2 || d.size() != 2 || pads.size() != 4) return std::nullopt;
  p.sh = s[0];
  p.sw = s[1];
  p.dh = d[0];
  p.dw = d[1];
  p.pt = pads[0];
  p.pl = pads[1];
  if (p.sh < 1 || p.sw < 1 || p.dh < 1 || p.dw < 1) return std::nullopt;
  p.oh = (p.H + pads[0] + pads[2] - p.dh * (p.kh - 1) - 1) / p.sh + 1;
  p.ow = (p.W + pads[1] + pads[3] - p.dw * (p.kw - 1) - 1) / p.sw + 1;
  if (p.oh <= 0 || p.ow <= 0) return std::nullopt;
  return p;
}

void PatchMoments::add(const PatchGeometry& geo, const float* x, int64_t batch, double clip) {
  if (K == 0) {
    sets = geo.sets();
    K = geo.window();
    sum.assign(static_cast<size_t>(sets * K), 0.0);
    outer.assign(static_cast<size_t>(sets * K * K), 0.0);
  }
  const int64_t positions = geo.oh * geo.ow;
  const int64_t step = (positions + kPositions - 1) / kPositions;
  const float lo = static_cast<float>(-clip), hi = static_cast<float>(clip);
  std::vector<double> v(static_cast<size_t>(K));
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * geo.C * geo.H * geo.W;
    // Spread the positions: a different offset each call covers the others over the batches.
    const int64_t first = static_cast<int64_t>(count) % step;
    int64_t taken = 0;
    for (int64_t p = first; p < positions; p += step) {
      const int64_t oy = p / geo.ow, ox = p % geo.ow;
      for (int64_t set = 0; set < sets; ++set) {
        // Window values, channel-major then row-major: the weights' order.
        const int64_t c0 = geo.depthwise ? set : 0, c1 = geo.depthwise ? set + 1 : geo.C;
        size_t k = 0;
        for (int64_t c = c0; c < c1; ++c)
          for (int64_t i = 0; i < geo.kh; ++i)
            for (int64_t j = 0; j < geo.kw; ++j) {
              const int64_t iy = oy * geo.sh - geo.pt + i * geo.dh;
              const int64_t ix = ox * geo.sw - geo.pl + j * geo.dw;
              float val = 0.f;
              if (iy >= 0 && iy < geo.H && ix >= 0 && ix < geo.W) {
                val = xb[(c * geo.H + iy) * geo.W + ix];
                if (!std::isfinite(val)) val = 0.f;
                if (clip > 0) val = std::min(hi, std::max(lo, val));
              }
              v[k++] = val;
            }
        double* s = sum.data() + set * K;
        double* o = outer.data() + set * K * K;
        for (int64_t a = 0; a < K; ++a) {
          if (v[a] == 0) continue;  // ReLU outputs: half the window is zero
          s[a] += v[a];
          for (int64_t c = a; c < K; ++c) o[a * K + c] += v[a] * v[c];
        }
      }
      ++taken;
    }
    count += static_cast<double>(taken);
  }
}

std::vector<double> PatchMoments::covariance(int64_t set) const {
  std::vector<double> cov(static_cast<size_t>(K * K), 0.0);
  if (count <= 0) return cov;
  const double* s = sum.data() + set * K;
  const double* o = outer.data() + set * K * K;
  for (int64_t a = 0; a < K; ++a)
    for (int64_t c = a; c < K; ++c) {
      const double v = o[a * K + c] / count - (s[a] / count) * (s[c] / count);
      cov[a * K + c] = cov[c * K + a] = v;
    }
  return cov;
}

namespace {

// Greedy descent on e' H e over q_i in {floor(w_i/s), floor(w_i/s) + 1}, from the nearest
// rounding: single flips while one lowers it, then pairs (two weights moving opposite ways
// keep a window's sum, which single flips cannot), until neither does. `bits` in: the
// nearest rounding's, out: the chosen.
void roundAgainst(const float* w, int64_t K, float s, const double* H, uint8_t* bits) {
  std::vector<double> base(static_cast<size_t>(K)), e(static_cast<size_t>(K)),
      g(static_cast<size_t>(K), 0.0), d(static_cast<size_t>(K));
  for (int64_t i = 0; i < K; ++i) {
    base[i] = std::floor(static_cast<double>(quantizeDivide(w[i], s)));
    e[i] = s * (base[i] + bits[i]) - w[i];
  }
  for (int64_t i = 0; i < K; ++i)
    for (int64_t j = 0; j < K; ++j) g[i] += H[i * K + j] * e[j];
  // d[i]: the move of e[i] that flips bit i (0 where the other level is out of range).
  auto step = [&](int64_t i) {
    const double q = base[i] + bits[i], alt = base[i] + (1 - bits[i]);
    d[i] = alt < -127 || alt > 127 ? 0.0 : s * (alt - q);
  };
  auto flip = [&](int64_t i) {
    bits[i] = static_cast<uint8_t>(1 - bits[i]);
    for (int64_t j = 0; j < K; ++j) g[j] += d[i] * H[j * K + i];
    step(i);
  };
  for (int64_t i = 0; i < K; ++i) step(i);
  // Strictly lower by more than rounding noise, so the descent ends.
  const auto lower = [&](double delta, double scale) { return delta < -1e-12 * scale; };
  for (int round = 0; round < 64; ++round) {
    bool changed = false;
    for (int64_t i = 0; i < K; ++i) {
      const double di = d[i], hii = H[i * K + i] * di * di;
      if (di != 0 && lower(2 * di * g[i] + hii, hii)) {
        flip(i);
        changed = true;
      }
    }
    if (changed) continue;
    for (int64_t i = 0; i < K && !changed; ++i) {
      if (d[i] == 0) continue;
      for (int64_t j = i + 1; j < K; ++j) {
        if (d[j] == 0) continue;
        const double hh = H[i * K + i] * d[i] * d[i] + H[j * K + j] * d[j] * d[j];
        const double delta =
            2 * d[i] * g[i] + 2 * d[j] * g[j] + hh + 2 * d[i] * d[j] * H[i * K + j];
        if (lower(delta, hh)) {
          flip(i);
          flip(j);
          changed = true;
          break;
        }
      }
    }
    if (!changed) break;
  }
}

}  // namespace

std::map<std::string, std::vector<uint8_t>> adaptiveRounding(
    const Graph& g, const std::map<std::string, PatchMoments>& moments) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const Node& n : g.nodes) {
    auto it = moments.find(n.name);
    if (it == moments.end()) continue;
    const PatchMoments& pm = it->second;
    const std::optional<PatchGeometry> geo = roundingGeometry(g, n);
    if (!geo || pm.K != geo->window() || pm.sets != geo->sets() || pm.count < 4.0 * pm.K) continue;
    const HostTensor& wf = *g.tensors[n.inputs[1]].constant;
    HostTensor wq;
    std::vector<float> sw;
    quantizeWeightsPerChannel(wf, &wq, &sw);
    const int64_t M = wf.dims()[0], per = wf.numel() / M;
    std::vector<uint8_t> bits(static_cast<size_t>(wf.numel()));
    for (int64_t i = 0; i < wf.numel(); ++i) {
      const double fl =
          std::floor(static_cast<double>(quantizeDivide(wf.as<float>()[i], sw[i / per])));
      bits[i] = static_cast<uint8_t>(wq.as<int8_t>()[i] > fl ? 1 : 0);
    }
    std::vector<double> cov;
    for (int64_t m = 0; m < M; ++m) {
      const int64_t set = geo->depthwise ? m : 0;
      if (m == 0 || geo->depthwise) cov = pm.covariance(set);
      roundAgainst(wf.as<float>() + m * per, per, sw[m], cov.data(), bits.data() + m * per);
    }
    out[n.name] = std::move(bits);
  }
  return out;
}

Status applyRounding(const HostTensor& wf, const std::vector<float>& sw,
                     const std::vector<uint8_t>& bits, const std::string& layer, HostTensor* wq) {
  if (static_cast<int64_t>(bits.size()) != wf.numel() || wf.dims().empty() ||
      static_cast<int64_t>(sw.size()) != wf.dims()[0])
    return Status(
        StatusCode::kInvalidArgument,
        strCat("calibration cache: the rounding of layer '", layer, "' has ", bits.size(),
               " weights, the model's has ", wf.numel(), "; delete the cache or calibrate again"));
  const int64_t per = wf.numel() / wf.dims()[0];
  int8_t* q = wq->mutableAs<int8_t>();
  for (int64_t i = 0; i < wf.numel(); ++i) {
    const float fl = std::floor(quantizeDivide(wf.as<float>()[i], sw[i / per]));
    q[i] = static_cast<int8_t>(std::clamp(fl + bits[i], -127.f, 127.f));
  }
  return Status::Ok();
}

}  // namespace edgert
