// Shape manipulation: Reshape, Flatten, Squeeze, Unsqueeze (data copies), Shape, Size,
// Expand, Tile, ConstantOfShape, Range, Cast, CastLike.
#include "op_util.h"

namespace edgert::ops {
namespace {

Status runCopy(const int&, const KernelArgs& a) {
  if (a.in[0].data != a.out[0].data && a.out[0].bytes())
    std::memcpy(a.out[0].data, a.in[0].data, a.out[0].bytes());
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createCopy(const NodeContext&) {
  return makeKernel(0, &runCopy);
}

Status inferReshape(NodeContext& c) {
  const HostTensor* st = c.constant(1);
  if (!st || st->dims().size() != 1) return c.invalid("shape must be a 1-D constant");
  int64_t allowzero;
  EDGERT_TRY_ATTR(allowzero, attrInt(c, "allowzero", 0));
  const Dims& x = c.dims(0);
  Dims out = st->toInt64Vector();
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allowzero) {
      if (i >= x.size())
        return c.invalid("shape ", dimsToString(out), " copies dim ", i, " that the input lacks");
      out[i] = x[i];
    }
    if (out[i] == -1) {
      if (infer >= 0) return c.invalid("shape has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return c.invalid("shape has a negative dim ", out[i]);
    known *= out[i];
  }
  const int64_t n = volume(x);
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      return c.invalid("cannot reshape ", dimsToString(x), " to ",
                       dimsToString(st->toInt64Vector()));
    out[infer] = n / known;
  } else if (known != n) {
    return c.invalid("cannot reshape ", dimsToString(x), " (", n, " elements) to ",
                     dimsToString(out));
  }
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

Status inferFlatten(NodeContext& c) {
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 1));
  const int r = c.rank(0);
  if (axis < -r || axis > r) return c.invalid("axis ", axis, " is out of range for rank ", r);
  if (axis < 0) axis += r;
  const Dims& x = c.dims(0);
  c.setOutput(0, c.dtype(0),
              {volume(Dims(x.begin(), x.begin() + axis)), volume(Dims(x.begin() + axis, x.end()))});
  return Status::Ok();
}

Result<std::vector<int64_t>> axesOf(const NodeContext& c) {
  if (c.has(1)) return constInts(c, 1);
  return attrInts(c, "axes");
}

Status inferSqueeze(NodeContext& c) {
  std::vector<int64_t> axes;
  EDGERT_TRY_ATTR(axes, axesOf(c));
  const Dims& x = c.dims(0);
  std::vector<bool> drop(x.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  }
  for (int64_t a : axes) {
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, a, c.rank(0)));
    if (x[ax] != 1) return c.invalid("cannot squeeze axis ", a, " of size ", x[ax]);
    drop[ax] = true;
  }
  Dims out;
  for (size_t i = 0; i < x.size(); ++i)
    if (!drop[i]) out.push_back(x[i]);
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

Status inferUnsqueeze(NodeContext& c) {
  std::vector<int64_t> axes;
  EDGERT_TRY_ATTR(axes, axesOf(c));
  const int r = c.rank(0) + static_cast<int>(axes.size());
  std::vector<bool> add(r, false);
  for (int64_t a : axes) {
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, a, r));
    if (add[ax]) return c.invalid("axis ", a, " is repeated");
    add[ax] = true;
  }
  Dims out;
  size_t j = 0;
  for (int i = 0; i < r; ++i) out.push_back(add[i] ? 1 : c.dims(0)[j++]);
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

// Shape(start, end) and Size produce their values from the static dims.
struct ShapeParams {
  Dims values;
};
Result<ShapeParams> parseShape(const NodeContext& c) {
  int64_t start, end;
  const int r = c.rank(0);
  EDGERT_TRY_ATTR(start, attrInt(c, "start", 0));
  EDGERT_TRY_ATTR(end, attrInt(c, "end", r));
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  ShapeParams p;
  for (int64_t i = start; i < end; ++i) p.values.push_back(c.dims(0)[i]);
  return p;
}
Status inferShape(NodeContext& c) {
  ShapeParams p;
  EDGERT_TRY_ATTR(p, parseShape(c));
  c.setOutput(0, DataType::kInt64, {static_cast<int64_t>(p.values.size())});
  return Status::Ok();
}
Status runShape(const ShapeParams& p, const KernelArgs& a) {
  std::copy(p.values.begin(), p.values.end(), a.out[0].as<int64_t>());
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createShape(const NodeContext& c) {
  ShapeParams p;
  EDGERT_TRY_ATTR(p, parseShape(c));
  return makeKernel(std::move(p), &runShape);
}
Status inferSize(NodeContext& c) {
  c.setOutput(0, DataType::kInt64, {});
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createSize(const NodeContext& c) {
  return makeKernel(ShapeParams{{volume(c.dims(0))}}, &runShape);
}

// Expand and Tile write a broadcast/repeated copy of the input.
struct ExpandParams {
  BroadcastPlan plan;  // operand 0 = output (identity), 1 = input
};
Status runBroadcastCopy(const ExpandParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = a.out[0].as<uint8_t>();
  forEachBroadcastRow(p.plan, [&](int64_t o, int64_t, int64_t ox, int64_t, int64_t n, int64_t,
                                  int64_t sx, int64_t) {
    if (sx == 1) {
      std::memcpy(y + o * es, x + ox * es, n * es);
      return;
    }
    for (int64_t i = 0; i < n; ++i) std::memcpy(y + (o + i) * es, x + (ox + i * sx) * es, es);
  });
  return Status::Ok();
}
Status inferExpand(NodeContext& c) {
  const HostTensor* st = c.constant(1);
  if (!st || st->dims().size() != 1) return c.invalid("shape must be a 1-D constant");
  Dims out;
  EDGERT_TRY_ATTR(out, broadcastDims(c, c.dims(0), st->toInt64Vector()));
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createExpand(const NodeContext& c) {
  const Dims& out = c.out[0].dims;
  return makeKernel(ExpandParams{makeBroadcastPlan(out, {&out, &c.dims(0)})}, &runBroadcastCopy);
}

struct TileParams {
  Dims in, out;
};
Status inferTile(NodeContext& c) {
  const std::vector<int64_t> rep = constInts(c, 1);
  if (static_cast<int>(rep.size()) != c.rank(0))
    return c.invalid("repeats has ", rep.size(), " values for rank ", c.rank(0));
  Dims out = c.dims(0);
  for (size_t i = 0; i < out.size(); ++i) {
    if (rep[i] < 0) return c.invalid("repeats must be non-negative");
    out[i] *= rep[i];
  }
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}
Status runTile(const TileParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const int r = static_cast<int>(p.out.size());
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = a.out[0].as<uint8_t>();
  const int64_t n = volume(p.out);
  std::array<int64_t, kMaxRank> idx{}, xs{};
  int64_t s = 1;
  for (int i = r - 1; i >= 0; --i) {
    xs[i] = s;
    s *= p.in[i];
  }
  for (int64_t o = 0; o < n; ++o) {
    int64_t off = 0;
    for (int i = 0; i < r; ++i) off += (idx[i] % p.in[i]) * xs[i];
    std::memcpy(y + o * es, x + off * es, es);
    for (int i = r - 1; i >= 0; --i) {
      if (++idx[i] < p.out[i]) break;
      idx[i] = 0;
    }
  }
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createTile(const NodeContext& c) {
  return makeKernel(TileParams{c.dims(0), c.out[0].dims}, &runTile);
}

// ConstantOfShape: the importer stores the `value` tensor attribute as-is.
struct FillParams {
  std::shared_ptr<HostTensor> value;
};
Status inferConstantOfShape(NodeContext& c) {
  const HostTensor* st = c.constant(0);
  if (!st || st->dims().size() > 1) return c.invalid("shape must be a 1-D constant");
  Dims out = st->toInt64Vector();
  for (int64_t d : out)
    if (d < 0) return c.invalid("shape has a negative dim");
  const Attribute* v = c.attrs->find("value");
  DataType t = DataType::kFloat32;
  if (v) {
    if (v->kind != Attribute::Kind::kTensor || !v->tensor || v->tensor->numel() != 1)
      return c.invalid("value must be a one-element tensor");
    t = v->tensor->dtype();
  }
  c.setOutput(0, t, out);
  return Status::Ok();
}
Status runFill(const FillParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.out[0].dtype);
  uint8_t* y = a.out[0].as<uint8_t>();
  const int64_t n = a.out[0].numel();
  if (!p.value) {
    std::memset(y, 0, n * es);
    return Status::Ok();
  }
  for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * es, p.value->data(), es);
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createConstantOfShape(const NodeContext& c) {
  const Attribute* v = c.attrs->find("value");
  return makeKernel(FillParams{v ? v->tensor : nullptr}, &runFill);
}

// Range(start, limit, delta): length depends on values, so all three are constants.
Status inferRange(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kF32 | kF64 | kI64 | kI32));
  for (size_t i = 0; i < 3; ++i)
    if (c.dtype(i) != c.dtype(0) || c.constant(i)->numel() != 1)
      return c.invalid("inputs must be scalars of one dtype");
  const double start = c.constant(0)->doubleAt(0), limit = c.constant(1)->doubleAt(0),
               delta = c.constant(2)->doubleAt(0);
  if (delta == 0) return c.invalid("delta must not be zero");
  const double n = std::max(0.0, std::ceil((limit - start) / delta));
  if (!(n < 1e9)) return c.invalid("range is too long");
  c.setOutput(0, c.dtype(0), {static_cast<int64_t>(n)});
  return Status::Ok();
}
Status runRange(const int&, const KernelArgs& a) {
  dispatch<kF32 | kF64 | kI64 | kI32>(a.out[0].dtype, [&]<class T>() {
    const T start = *a.in[0].as<T>(), delta = *a.in[2].as<T>();
    T* y = a.out[0].as<T>();
    for (int64_t i = 0; i < a.out[0].numel(); ++i)
      y[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  });
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createRange(const NodeContext&) {
  return makeKernel(0, &runRange);
}

// Cast between any two supported dtypes (float16 via float32; bool as 0/1).
Status runCast(const int&, const KernelArgs& a) {
  const int64_t n = a.in[0].numel();
  dispatch<kAll>(a.in[0].dtype, [&]<class S>() {
    const S* x = a.in[0].as<S>();
    dispatch<kAll>(a.out[0].dtype, [&]<class D>() {
      D* y = a.out[0].as<D>();
      for (int64_t i = 0; i < n; ++i) {
        const auto v = Num<S>::load(x[i]);
        using DC = typename Num<D>::C;
        if constexpr (std::is_same_v<DC, bool>)
          y[i] = Num<D>::store(v != decltype(v)(0));
        else if constexpr (std::is_integral_v<DC> && !std::is_same_v<decltype(v), bool> &&
                           std::is_floating_point_v<decltype(v)>) {
          // Out-of-range float to int is undefined in C++; saturate instead.
          const double dv = static_cast<double>(v);
          if (std::isnan(dv))
            y[i] = Num<D>::store(DC(0));
          else
            y[i] = Num<D>::store(static_cast<DC>(
                std::clamp(dv, static_cast<double>(std::numeric_limits<DC>::lowest()),
                           static_cast<double>(std::numeric_limits<DC>::max()))));
        } else {
          y[i] = Num<D>::store(static_cast<DC>(v));
        }
      }
    });
  });
  return Status::Ok();
}
Status inferCast(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kAll));
  int64_t to;
  EDGERT_TRY_ATTR(to, attrInt(c, "to", 0));
  if (!isValidDataType(static_cast<int32_t>(to)) || !typeBit(static_cast<DataType>(to)))
    return c.unsupported("cast to ONNX dtype ", to, " is not supported");
  c.setOutput(0, static_cast<DataType>(to), c.dims(0));
  return Status::Ok();
}
Status inferCastLike(NodeContext& c) {
  EDGERT_RETURN_IF_ERROR(requireType(c, 0, kAll));
  EDGERT_RETURN_IF_ERROR(requireType(c, 1, kAll));
  c.setOutput(0, c.dtype(1), c.dims(0));
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createCast(const NodeContext&) {
  return makeKernel(0, &runCast);
}

}  // namespace

extern const OpDef kOpReshape = {"Reshape", 2, 2, 1, 1, 0b10, inferReshape, createCopy};
extern const OpDef kOpFlatten = {"Flatten", 1, 1, 1, 1, 0, inferFlatten, createCopy};
extern const OpDef kOpSqueeze = {"Squeeze", 1, 2, 1, 1, 0b10, inferSqueeze, createCopy};
extern const OpDef kOpUnsqueeze = {"Unsqueeze", 1, 2, 1, 1, 0b10, inferUnsqueeze, createCopy};
extern const OpDef kOpShape = {"Shape", 1, 1, 1, 1, 0, inferShape, createShape};
extern const OpDef kOpSize = {"Size", 1, 1, 1, 1, 0, inferSize, createSize};
extern const OpDef kOpExpand = {"Expand", 2, 2, 1, 1, 0b10, inferExpand, createExpand};
extern const OpDef kOpTile = {"Tile", 2, 2, 1, 1, 0b10, inferTile, createTile};
extern const OpDef kOpConstantOfShape = {
    "ConstantOfShape", 1, 1, 1, 1, 0b1, inferConstantOfShape, createConstantOfShape};
extern const OpDef kOpRange = {"Range", 3, 3, 1, 1, 0b111, inferRange, createRange};
extern const OpDef kOpCast = {"Cast", 1, 1, 1, 1, 0, inferCast, createCast};
extern const OpDef kOpCastLike = {"CastLike", 2, 2, 1, 1, 0, inferCastLike, createCast};

}  // namespace edgert::ops
