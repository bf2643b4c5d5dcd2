// QuantizeLinear and DequantizeLinear (ONNX opsets 10-21): per-tensor or per-axis scales,
// int8 / uint8 values (int32 too for dequantisation), optional zero points. Explicitly
// quantised models (PyTorch / ONNX Runtime Q/DQ exports) carry them; the builder turns the
// Q/DQ pairs around convolutions into INT8 layers and leaves the rest to these kernels.
#include "../../../kernels/int8_math.h"
#include "qdq_params.h"

namespace edgert::ops {

Result<QdqParams> parseQdq(const NodeContext& c, bool quantize) {
  QdqParams p;
  int64_t axis, block;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 1));
  EDGERT_TRY_ATTR(block, attrInt(c, "block_size", 0));
  if (block != 0) return c.unsupported("blocked quantisation (block_size ", block, ")");
  const Dims& x = c.dims(0);
  const Dims& s = c.dims(1);
  if (c.dtype(1) != DataType::kFloat32)
    return c.unsupported("scale of dtype ", dataTypeName(c.dtype(1)), " (float32 only)");
  const bool per_tensor = s.empty() || (s.size() == 1 && s[0] == 1);
  if (!per_tensor) {
    if (s.size() != 1) return c.invalid("scale must be a scalar or 1-D, got ", dimsToString(s));
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
    if (x[ax] != s[0])
      return c.invalid("scale has ", s[0], " values but input dim ", ax, " (axis) is ", x[ax]);
    p.channels = s[0];
    p.axis = ax;
    p.outer = volume(Dims(x.begin(), x.begin() + ax));
    p.inner = volume(Dims(x.begin() + ax + 1, x.end()));
  } else {
    p.inner = volume(x);
  }
  p.has_zero_point = c.has(2);
  if (p.has_zero_point) {
    if (c.dims(2) != s && !(volume(c.dims(2)) == 1 && per_tensor))
      return c.invalid("zero point shape ", dimsToString(c.dims(2)), " differs from scale shape ",
                       dimsToString(s));
    p.qtype = c.dtype(2);
  } else if (!quantize) {
    p.qtype = c.dtype(0);
  } else {
    int64_t out_type;
    EDGERT_TRY_ATTR(out_type, attrInt(c, "output_dtype", 0));
    if (out_type != 0) p.qtype = static_cast<DataType>(out_type);
  }
  const bool int32_ok = !quantize && p.qtype == DataType::kInt32;
  if (p.qtype != DataType::kInt8 && p.qtype != DataType::kUInt8 && !int32_ok)
    return c.unsupported("quantised dtype ", dataTypeName(p.qtype),
                         quantize ? " (int8 and uint8)" : " (int8, uint8 and int32)");
  if (!quantize && c.dtype(0) != p.qtype)
    return c.invalid("input dtype ", dataTypeName(c.dtype(0)), " differs from the zero point's ",
                     dataTypeName(p.qtype));
  return p;
}

namespace {

Status inferQuantize(NodeContext& c) {
  if (c.dtype(0) != DataType::kFloat32)
    return c.unsupported("input of dtype ", dataTypeName(c.dtype(0)), " (float32 only)");
  QdqParams p;
  EDGERT_TRY_ATTR(p, parseQdq(c, true));
  c.setOutput(0, p.qtype, c.dims(0));
  return Status::Ok();
}

Status inferDequantize(NodeContext& c) {
  QdqParams p;
  EDGERT_TRY_ATTR(p, parseQdq(c, false));
  c.setOutput(0, DataType::kFloat32, c.dims(0));
  return Status::Ok();
}

template <class Fn>
void forEachChannel(const QdqParams& p, const TensorView& scale, const TensorView* zp, Fn&& fn) {
  const float* s = scale.as<float>();
  int64_t i = 0;
  for (int64_t o = 0; o < p.outer; ++o)
    for (int64_t ch = 0; ch < p.channels; ++ch) {
      int32_t z = 0;
      if (zp && zp->data)
        z = zp->dtype == DataType::kInt8    ? zp->as<int8_t>()[ch]
            : zp->dtype == DataType::kUInt8 ? zp->as<uint8_t>()[ch]
                                            : zp->as<int32_t>()[ch];
      fn(i, p.inner, s[ch], z);
      i += p.inner;
    }
}

Status runQuantize(const QdqParams& p, const KernelArgs& a) {
  const float* x = a.in[0].as<float>();
  const TensorView* zp = a.in.size() > 2 ? &a.in[2] : nullptr;
  forEachChannel(p, a.in[1], zp, [&](int64_t i0, int64_t n, float s, int32_t z) {
    if (p.qtype == DataType::kInt8) {
      int8_t* y = a.out[0].as<int8_t>();
      for (int64_t i = i0; i < i0 + n; ++i)
        y[i] = saturateToInt8(quantizedValue(x[i], s, static_cast<float>(z)));
    } else {
      uint8_t* y = a.out[0].as<uint8_t>();
      for (int64_t i = i0; i < i0 + n; ++i)
        y[i] = saturateToUInt8(quantizedValue(x[i], s, static_cast<float>(z)));
    }
  });
  return Status::Ok();
}

Status runDequantize(const QdqParams& p, const KernelArgs& a) {
  float* y = a.out[0].as<float>();
  const TensorView* zp = a.in.size() > 2 ? &a.in[2] : nullptr;
  forEachChannel(p, a.in[1], zp, [&](int64_t i0, int64_t n, float s, int32_t z) {
    dispatch<kI8 | kU8 | kI32>(a.in[0].dtype, [&]<class T>() {
      const T* x = a.in[0].as<T>();
      // int32 values minus the zero point can exceed float's 24-bit mantissa; do the
      // subtraction in int64 as the spec's arithmetic does.
      for (int64_t i = i0; i < i0 + n; ++i)
        y[i] = static_cast<float>(static_cast<int64_t>(x[i]) - z) * s;
    });
  });
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createQuantize(const NodeContext& c) {
  QdqParams p;
  EDGERT_TRY_ATTR(p, parseQdq(c, true));
  return makeKernel(p, &runQuantize);
}

Result<std::unique_ptr<Kernel>> createDequantize(const NodeContext& c) {
  QdqParams p;
  EDGERT_TRY_ATTR(p, parseQdq(c, false));
  return makeKernel(p, &runDequantize);
}

}  // namespace

extern const OpDef kOpQuantizeLinear = {"QuantizeLinear", 2, 3, 1, 1, 0, inferQuantize,
                                        createQuantize};
extern const OpDef kOpDequantizeLinear = {"DequantizeLinear", 2, 3, 1, 1, 0, inferDequantize,
                                          createDequantize};

}  // namespace edgert::ops
