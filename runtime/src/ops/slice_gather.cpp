// Slice (starts/ends/axes/steps as constants, negative steps, clamping) and Gather.
#include "op_util.h"

namespace edgert::ops {
namespace {

struct SliceParams {
  int rank = 0;
  std::array<int64_t, kMaxRank> out{}, start{}, step{}, in_stride{};
};

Result<SliceParams> parseSlice(const NodeContext& c) {
  const Dims& x = c.dims(0);
  const int r = c.rank(0);
  const std::vector<int64_t> starts = constInts(c, 1), ends = constInts(c, 2);
  std::vector<int64_t> axes = constInts(c, 3), steps = constInts(c, 4);
  if (starts.size() != ends.size()) return c.invalid("starts and ends differ in length");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return c.invalid("starts, ends, axes and steps must have the same length");
  SliceParams p;
  p.rank = r;
  const auto strides = stridesOf(x);
  for (int i = 0; i < r; ++i) {
    p.out[i] = x[i];
    p.start[i] = 0;
    p.step[i] = 1;
    p.in_stride[i] = strides[i];
  }
  std::vector<bool> seen(r, false);
  for (size_t k = 0; k < starts.size(); ++k) {
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, axes[k], r));
    if (seen[ax]) return c.invalid("axis ", axes[k], " is repeated");
    seen[ax] = true;
    const int64_t d = x[ax], st = steps[k];
    if (st == 0) return c.invalid("steps must not be zero");
    int64_t s = starts[k], e = ends[k];
    // Clamp before adding d: models use INT64_MIN/MAX as "to the end".
    s = std::clamp<int64_t>(s, -d - 1, d + 1);
    e = std::clamp<int64_t>(e, -d - 1, d + 1);
    if (s < 0) s += d;
    if (e < 0) e += d;
    int64_t len;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      len = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      len = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    p.out[ax] = len;
    p.start[ax] = s;
    p.step[ax] = st;
  }
  return p;
}

Status inferSlice(NodeContext& c) {
  SliceParams p;
  EDGERT_TRY_ATTR(p, parseSlice(c));
  c.setOutput(0, c.dtype(0), Dims(p.out.begin(), p.out.begin() + p.rank));
  return Status::Ok();
}

Status runSlice(const SliceParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = a.out[0].as<uint8_t>();
  const int r = p.rank;
  const int64_t total = a.out[0].numel();
  if (total == 0) return Status::Ok();
  if (r == 0) {
    std::memcpy(y, x, es);
    return Status::Ok();
  }
  std::array<int64_t, kMaxRank> idx{};
  const int64_t inner = p.out[r - 1];
  int64_t o = 0;
  while (o < total) {
    int64_t off = 0;
    for (int i = 0; i < r - 1; ++i) off += (p.start[i] + idx[i] * p.step[i]) * p.in_stride[i];
    off += p.start[r - 1] * p.in_stride[r - 1];
    if (p.step[r - 1] == 1) {
      std::memcpy(y + o * es, x + off * es, inner * es);
    } else {
      for (int64_t j = 0; j < inner; ++j)
        std::memcpy(y + (o + j) * es, x + (off + j * p.step[r - 1]) * es, es);
    }
    o += inner;
    for (int i = r - 2; i >= 0; --i) {
      if (++idx[i] < p.out[i]) break;
      idx[i] = 0;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createSlice(const NodeContext& c) {
  SliceParams p;
  EDGERT_TRY_ATTR(p, parseSlice(c));
  return makeKernel(p, &runSlice);
}

// Gather(data, indices, axis): out = data[:axis] + indices.shape + data[axis+1:].
struct GatherParams {
  int64_t outer = 0, axis_dim = 0, inner = 0, n_idx = 0;
  std::string name;
};

Status inferGather(NodeContext& c) {
  if (c.dtype(1) != DataType::kInt64 && c.dtype(1) != DataType::kInt32)
    return c.invalid("indices must be int32 or int64");
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 0));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  const Dims& x = c.dims(0);
  if (const HostTensor* it = c.constant(1)) {
    for (int64_t i = 0; i < it->numel(); ++i) {
      const int64_t v = it->intAt(i);
      if (v < -x[ax] || v >= x[ax])
        return c.invalid("index ", v, " is out of range for axis of size ", x[ax]);
    }
  }
  Dims out(x.begin(), x.begin() + ax);
  out.insert(out.end(), c.dims(1).begin(), c.dims(1).end());
  out.insert(out.end(), x.begin() + ax + 1, x.end());
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

Status runGather(const GatherParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = a.out[0].as<uint8_t>();
  const size_t row = static_cast<size_t>(p.inner) * es;
  for (int64_t k = 0; k < p.n_idx; ++k) {
    int64_t v =
        a.in[1].dtype == DataType::kInt64 ? a.in[1].as<int64_t>()[k] : a.in[1].as<int32_t>()[k];
    if (v < 0) v += p.axis_dim;
    if (v < 0 || v >= p.axis_dim)
      return Status(StatusCode::kInvalidArgument,
                    strCat("Gather '", p.name, "': index ", v, " is out of range for axis of size ",
                           p.axis_dim));
    for (int64_t o = 0; o < p.outer; ++o)
      std::memcpy(y + (o * p.n_idx + k) * row, x + (o * p.axis_dim + v) * row, row);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createGather(const NodeContext& c) {
  const int ax = normAxis(c, c.attrs->getInt("axis", 0).value(), c.rank(0)).value();
  const Dims& x = c.dims(0);
  return makeKernel(GatherParams{volume(Dims(x.begin(), x.begin() + ax)), x[ax],
                                 volume(Dims(x.begin() + ax + 1, x.end())), volume(c.dims(1)),
                                 std::string(c.name)},
                    &runGather);
}

// GatherElements(data, indices, axis): out has indices' shape.
struct GatherElementsParams {
  Dims data, idx;
  int axis = 0;
  std::string name;
};
Status inferGatherElements(NodeContext& c) {
  if (c.dtype(1) != DataType::kInt64 && c.dtype(1) != DataType::kInt32)
    return c.invalid("indices must be int32 or int64");
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 0));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  if (c.rank(1) != c.rank(0)) return c.invalid("indices must have the data's rank");
  for (int i = 0; i < c.rank(0); ++i)
    if (i != ax && c.dims(1)[i] > c.dims(0)[i])
      return c.invalid("indices dim ", i, " exceeds the data's");
  c.setOutput(0, c.dtype(0), c.dims(1));
  return Status::Ok();
}
Status runGatherElements(const GatherElementsParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const int r = static_cast<int>(p.idx.size());
  const auto ds = stridesOf(p.data);
  std::array<int64_t, kMaxRank> idx{};
  const int64_t n = volume(p.idx);
  for (int64_t o = 0; o < n; ++o) {
    int64_t v =
        a.in[1].dtype == DataType::kInt64 ? a.in[1].as<int64_t>()[o] : a.in[1].as<int32_t>()[o];
    if (v < 0) v += p.data[p.axis];
    if (v < 0 || v >= p.data[p.axis])
      return Status(StatusCode::kInvalidArgument,
                    strCat("GatherElements '", p.name, "': index out of range"));
    int64_t off = 0;
    for (int i = 0; i < r; ++i) off += (i == p.axis ? v : idx[i]) * ds[i];
    std::memcpy(a.out[0].as<uint8_t>() + o * es, a.in[0].as<uint8_t>() + off * es, es);
    for (int i = r - 1; i >= 0; --i) {
      if (++idx[i] < p.idx[i]) break;
      idx[i] = 0;
    }
  }
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createGatherElements(const NodeContext& c) {
  const int ax = normAxis(c, c.attrs->getInt("axis", 0).value(), c.rank(0)).value();
  return makeKernel(GatherElementsParams{c.dims(0), c.dims(1), ax, std::string(c.name)},
                    &runGatherElements);
}

}  // namespace

extern const OpDef kOpSlice = {"Slice", 3, 5, 1, 1, 0b11110, inferSlice, createSlice};
extern const OpDef kOpGather = {"Gather", 2, 2, 1, 1, 0, inferGather, createGather};
extern const OpDef kOpGatherElements = {"GatherElements",    2, 2, 1, 1, 0, inferGatherElements,
                                        createGatherElements};

}  // namespace edgert::ops
