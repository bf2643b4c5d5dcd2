// Resize (nearest, linear, cubic; every coordinate transformation mode PyTorch and
// TensorFlow export) as separable per-dim taps computed once per kernel.
#include "../cpu/thread_pool.h"
#include "op_util.h"

namespace edgert::ops {
namespace {

struct Tap {
  int64_t index;
  float weight;
};

struct ResizeParams {
  int rank = 0;
  Dims in, out;
  std::vector<std::vector<std::vector<Tap>>> taps;  // [dim][out coord] -> taps
  std::vector<std::vector<uint8_t>> outside;        // [dim][out coord]: extrapolate
  float extrapolation = 0.f;
  bool planes_2d = false;  // rank 4, N and C untouched, nothing extrapolated
  bool copies_2d = false;  // planes_2d with one tap of weight 1 per output: a gather
};

struct ResizeAttrs {
  std::string mode, coord, nearest;
  float cubic_a = -0.75f;
  bool exclude_outside = false;
  float extrapolation = 0.f;
};

Result<ResizeAttrs> parseAttrs(const NodeContext& c) {
  ResizeAttrs r;
  int64_t excl;
  EDGERT_TRY_ATTR(r.mode, attrStr(c, "mode", "nearest"));
  EDGERT_TRY_ATTR(r.coord, attrStr(c, "coordinate_transformation_mode", "half_pixel"));
  EDGERT_TRY_ATTR(r.nearest, attrStr(c, "nearest_mode", "round_prefer_floor"));
  EDGERT_TRY_ATTR(r.cubic_a, attrFloat(c, "cubic_coeff_a", -0.75f));
  EDGERT_TRY_ATTR(excl, attrInt(c, "exclude_outside", 0));
  EDGERT_TRY_ATTR(r.extrapolation, attrFloat(c, "extrapolation_value", 0.f));
  r.exclude_outside = excl != 0;
  if (r.mode != "nearest" && r.mode != "linear" && r.mode != "cubic")
    return c.invalid("mode '", r.mode, "' is not nearest, linear or cubic");
  static const char* kCoords[] = {
      "half_pixel",           "pytorch_half_pixel", "align_corners",       "asymmetric",
      "tf_half_pixel_for_nn", "tf_crop_and_resize", "half_pixel_symmetric"};
  if (std::find_if(std::begin(kCoords), std::end(kCoords),
                   [&](const char* s) { return r.coord == s; }) == std::end(kCoords))
    return c.invalid("coordinate_transformation_mode '", r.coord, "' is not supported");
  if (r.nearest != "round_prefer_floor" && r.nearest != "round_prefer_ceil" &&
      r.nearest != "floor" && r.nearest != "ceil")
    return c.invalid("nearest_mode '", r.nearest, "' is not supported");
  int64_t antialias;
  EDGERT_TRY_ATTR(antialias, attrInt(c, "antialias", 0));
  if (antialias) return c.unsupported("antialias=1");
  if (c.attrs->has("axes")) return c.unsupported("the axes attribute");
  if (c.attrs->has("keep_aspect_ratio_policy")) {
    std::string pol;
    EDGERT_TRY_ATTR(pol, attrStr(c, "keep_aspect_ratio_policy", "stretch"));
    if (pol != "stretch") return c.unsupported("keep_aspect_ratio_policy '", pol, "'");
  }
  return r;
}

// Output dims and the per-dim scale used by the coordinate transform.
Status outputDims(const NodeContext& c, Dims& out, std::vector<double>& scales) {
  const Dims& x = c.dims(0);
  const int r = c.rank(0);
  const HostTensor* sc = c.constant(2);
  const HostTensor* sz = c.constant(3);
  if (sc && sc->numel() == 0) sc = nullptr;
  if (sz && sz->numel() == 0) sz = nullptr;
  if ((sc == nullptr) == (sz == nullptr))
    return c.invalid("exactly one of scales and sizes must be given");
  out.assign(r, 0);
  scales.assign(r, 1.0);
  if (sz) {
    if (sz->numel() != r) return c.invalid("sizes has ", sz->numel(), " values for rank ", r);
    for (int i = 0; i < r; ++i) {
      out[i] = sz->intAt(i);
      if (out[i] < 0 || out[i] > (int64_t{1} << 24))
        return c.invalid("sizes value ", out[i], " is invalid");
      scales[i] = x[i] ? static_cast<double>(out[i]) / static_cast<double>(x[i]) : 1.0;
    }
  } else {
    if (sc->numel() != r) return c.invalid("scales has ", sc->numel(), " values for rank ", r);
    for (int i = 0; i < r; ++i) {
      scales[i] = static_cast<double>(static_cast<float>(sc->doubleAt(i)));
      if (!(scales[i] > 0) || scales[i] > 1e6) return c.invalid("scales must be positive");
      out[i] = static_cast<int64_t>(std::floor(static_cast<double>(x[i]) * scales[i]));
    }
  }
  return Status::Ok();
}

Status inferResize(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kNumeric));
  ResizeAttrs attrs;
  EDGERT_TRY_ATTR(attrs, parseAttrs(c));
  if (attrs.coord == "tf_crop_and_resize" &&
      (!c.constant(1) || c.constant(1)->numel() != 2 * c.rank(0)))
    return c.invalid("tf_crop_and_resize needs a constant roi with ", 2 * c.rank(0), " values");
  Dims out;
  std::vector<double> scales;
  EDGERT_RETURN_IF_ERROR(outputDims(c, out, scales));
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

double cubicWeight(double t, double a) {
  t = std::abs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

// The common image case: the taps of H and W applied plane by plane in float (the generic
// loop walks the full tap product per element with double accumulation: ~10x slower).
void resizePlane2d(const ResizeParams& p, const float* xp, float* yp) {
  const int64_t wi = p.in[3], ho = p.out[2], wo = p.out[3];
  for (int64_t oy = 0; oy < ho; ++oy) {
    const auto& ty = p.taps[2][oy];
    float* yr = yp + oy * wo;
    if (p.copies_2d) {  // nearest: each output row a gather of one input row
      if (oy > 0 && p.taps[2][oy - 1][0].index == ty[0].index) {
        std::copy(yr - wo, yr, yr);
        continue;
      }
      const float* row = xp + ty[0].index * wi;
      for (int64_t ox = 0; ox < wo; ++ox) yr[ox] = row[p.taps[3][ox][0].index];
      continue;
    }
    for (int64_t ox = 0; ox < wo; ++ox) {
      const auto& tx = p.taps[3][ox];
      float acc = 0;
      for (const Tap& a : ty) {
        const float* row = xp + a.index * wi;
        float s = 0;
        for (const Tap& t : tx) s += t.weight * row[t.index];
        acc += a.weight * s;
      }
      yr[ox] = acc;
    }
  }
}

// Planes split over the CPU threads.
void runPlanes2d(const ResizeParams& p, const float* x, float* y) {
  const int64_t in_plane = p.in[2] * p.in[3], out_plane = p.out[2] * p.out[3];
  cpu::parallelFor(p.in[0] * p.in[1], std::max<int64_t>(1, 16384 / std::max<int64_t>(1, out_plane)),
                   [&](int, int64_t b, int64_t e) {
                     for (int64_t pl = b; pl < e; ++pl)
                       resizePlane2d(p, x + pl * in_plane, y + pl * out_plane);
                   });
}

Status runResize(const ResizeParams& p, const KernelArgs& a) {
  if (p.planes_2d && a.in[0].dtype == DataType::kFloat32) {
    runPlanes2d(p, a.in[0].as<float>(), a.out[0].as<float>());
    return Status::Ok();
  }
  const int r = p.rank;
  const auto in_stride = stridesOf(p.in);
  dispatch<kNumeric>(a.in[0].dtype, [&]<class T>() {
    using C = typename Num<T>::C;
    const T* x = a.in[0].as<T>();
    T* y = a.out[0].as<T>();
    const int64_t total = volume(p.out);
    std::array<int64_t, kMaxRank> idx{};
    for (int64_t o = 0; o < total; ++o) {
      bool extrapolate = false;
      for (int d = 0; d < r; ++d) extrapolate |= p.outside[d][idx[d]] != 0;
      double acc = 0;
      if (!extrapolate) {
        // Iterate over the product of per-dim taps.
        std::array<size_t, kMaxRank> t{};
        while (true) {
          double w = 1;
          int64_t off = 0;
          for (int d = 0; d < r; ++d) {
            const Tap& tp = p.taps[d][idx[d]][t[d]];
            w *= tp.weight;
            off += tp.index * in_stride[d];
          }
          acc += w * static_cast<double>(Num<T>::load(x[off]));
          int d = r - 1;
          for (; d >= 0; --d) {
            if (++t[d] < p.taps[d][idx[d]].size()) break;
            t[d] = 0;
          }
          if (d < 0) break;
        }
      } else {
        acc = p.extrapolation;
      }
      if constexpr (std::is_integral_v<C>) acc = std::round(acc);
      y[o] = Num<T>::store(static_cast<C>(acc));
      for (int d = r - 1; d >= 0; --d) {
        if (++idx[d] < p.out[d]) break;
        idx[d] = 0;
      }
    }
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createResize(const NodeContext& c) {
  ResizeAttrs at;
  EDGERT_TRY_ATTR(at, parseAttrs(c));
  ResizeParams p;
  std::vector<double> scales;
  EDGERT_RETURN_IF_ERROR(outputDims(c, p.out, scales));
  p.in = c.dims(0);
  p.rank = c.rank(0);
  p.extrapolation = at.extrapolation;
  p.taps.resize(p.rank);
  p.outside.resize(p.rank);
  const HostTensor* roi = c.constant(1);
  for (int d = 0; d < p.rank; ++d) {
    const int64_t n_in = p.in[d], n_out = p.out[d];
    const double s = scales[d];
    p.taps[d].resize(n_out);
    p.outside[d].assign(n_out, 0);
    for (int64_t o = 0; o < n_out; ++o) {
      double x;
      const double od = static_cast<double>(o);
      if (at.coord == "half_pixel")
        x = (od + 0.5) / s - 0.5;
      else if (at.coord == "half_pixel_symmetric") {
        const double adj = static_cast<double>(n_out) / (s * static_cast<double>(n_in));
        const double center = static_cast<double>(n_in) / 2.0;
        x = center * (1 - adj) + (od + 0.5) / s - 0.5;
      } else if (at.coord == "pytorch_half_pixel")
        x = n_out > 1 ? (od + 0.5) / s - 0.5 : 0.0;
      else if (at.coord == "align_corners") {
        // ONNX uses the unrounded resized length (in * scale) here.
        const double len = static_cast<double>(n_in) * s;
        x = len <= 1 ? 0.0 : od * static_cast<double>(n_in - 1) / (len - 1);
      } else if (at.coord == "asymmetric")
        x = od / s;
      else if (at.coord == "tf_half_pixel_for_nn")
        x = (od + 0.5) / s;
      else {  // tf_crop_and_resize
        const double r0 = roi->doubleAt(d), r1 = roi->doubleAt(d + p.rank);
        x = n_out > 1 ? r0 * static_cast<double>(n_in - 1) + od * (r1 - r0) *
                                                                 static_cast<double>(n_in - 1) /
                                                                 static_cast<double>(n_out - 1)
                      : 0.5 * (r0 + r1) * static_cast<double>(n_in - 1);
        if (x < 0 || x > static_cast<double>(n_in - 1)) p.outside[d][o] = 1;
      }
      auto& taps = p.taps[d][o];
      if (at.mode == "nearest") {
        int64_t i;
        const double fl = std::floor(x);
        if (at.nearest == "floor")
          i = static_cast<int64_t>(fl);
        else if (at.nearest == "ceil")
          i = static_cast<int64_t>(std::ceil(x));
        else if (x - fl == 0.5)
          i = static_cast<int64_t>(at.nearest == "round_prefer_floor" ? fl : fl + 1);
        else
          i = static_cast<int64_t>(std::round(x));
        taps.push_back({std::clamp<int64_t>(i, 0, n_in - 1), 1.f});
      } else if (at.mode == "linear") {
        const double xc = std::clamp(x, 0.0, static_cast<double>(n_in - 1));
        const int64_t i0 = static_cast<int64_t>(std::floor(xc));
        const int64_t i1 = std::min(i0 + 1, n_in - 1);
        const double w1 = xc - static_cast<double>(i0);
        taps.push_back({i0, static_cast<float>(1 - w1)});
        if (w1 > 0 && i1 != i0) taps.push_back({i1, static_cast<float>(w1)});
      } else {
        const int64_t base = static_cast<int64_t>(std::floor(x));
        const double t = x - static_cast<double>(base);
        double wsum = 0;
        std::vector<std::pair<int64_t, double>> ws;
        for (int k = -1; k <= 2; ++k) {
          const int64_t i = base + k;
          double w = cubicWeight(t - k, at.cubic_a);
          if (at.exclude_outside && (i < 0 || i >= n_in)) w = 0;
          ws.push_back({std::clamp<int64_t>(i, 0, n_in - 1), w});
          wsum += w;
        }
        for (auto& [i, w] : ws) {
          if (at.exclude_outside && wsum != 0) w /= wsum;
          if (w != 0) taps.push_back({i, static_cast<float>(w)});
        }
      }
    }
  }
  p.planes_2d = p.rank == 4 && p.in[0] == p.out[0] && p.in[1] == p.out[1];
  for (int d = 0; d < p.rank && p.planes_2d; ++d) {
    for (int64_t o = 0; o < p.out[d]; ++o) {
      const bool identity =
          p.taps[d][o].size() == 1 && p.taps[d][o][0].index == o && p.taps[d][o][0].weight == 1.f;
      if (p.outside[d][o] || (d < 2 && !identity)) p.planes_2d = false;
    }
  }
  p.copies_2d = p.planes_2d;
  for (int d = 2; d < 4 && p.copies_2d; ++d)
    for (const auto& t : p.taps[d])
      if (t.size() != 1 || t[0].weight != 1.f) p.copies_2d = false;
  return makeKernel(std::move(p), &runResize);
}

}  // namespace

extern const OpDef kOpResize = {"Resize", 1, 4, 1, 1, 0b1110, inferResize, createResize};

}  // namespace edgert::ops
