// Concat and Split along one axis: each is a sequence of contiguous block copies.
#include "op_util.h"

namespace edgert::ops {
namespace {

struct AxisBlocks {
  int64_t outer = 0;                // product of dims before the axis
  std::vector<int64_t> part_bytes;  // per part: axis extent * inner * element size
  int64_t total_bytes = 0;          // per outer index, summed over parts
};

Status inferConcat(NodeContext& c) {
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 0));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  Dims out = c.dims(0);
  for (size_t i = 1; i < c.numInputs(); ++i) {
    if (!c.has(i)) return c.invalid("input ", i, " is missing");
    if (c.dtype(i) != c.dtype(0)) return c.invalid("inputs have different dtypes");
    const Dims& d = c.dims(i);
    if (d.size() != out.size())
      return c.invalid("input ", i, " has rank ", d.size(), ", input 0 has ", out.size());
    for (size_t k = 0; k < d.size(); ++k) {
      if (static_cast<int>(k) == ax) continue;
      if (d[k] != out[k])
        return c.invalid("input ", i, " ", dimsToString(d), " differs from ",
                         dimsToString(c.dims(0)), " outside axis ", ax);
    }
    out[ax] += d[ax];
  }
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}

AxisBlocks blocksFor(const std::vector<const Dims*>& parts, int ax, size_t es) {
  AxisBlocks b;
  const Dims& d0 = *parts[0];
  b.outer = volume(Dims(d0.begin(), d0.begin() + ax));
  const int64_t inner = volume(Dims(d0.begin() + ax + 1, d0.end()));
  for (const Dims* d : parts) {
    b.part_bytes.push_back((*d)[ax] * inner * static_cast<int64_t>(es));
    b.total_bytes += b.part_bytes.back();
  }
  return b;
}

Status runConcat(const AxisBlocks& b, const KernelArgs& a) {
  uint8_t* y = a.out[0].as<uint8_t>();
  for (int64_t o = 0; o < b.outer; ++o) {
    int64_t off = o * b.total_bytes;
    for (size_t i = 0; i < b.part_bytes.size(); ++i) {
      const uint8_t* src = a.in[i].as<uint8_t>() + o * b.part_bytes[i];
      if (b.part_bytes[i] && src != y + off) std::memcpy(y + off, src, b.part_bytes[i]);
      off += b.part_bytes[i];
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createConcat(const NodeContext& c) {
  const int ax = normAxis(c, c.attrs->getInt("axis", 0).value(), c.rank(0)).value();
  std::vector<const Dims*> parts;
  for (size_t i = 0; i < c.numInputs(); ++i) parts.push_back(&c.dims(i));
  return makeKernel(blocksFor(parts, ax, dataTypeSize(c.dtype(0))), &runConcat);
}

// Split sizes come from the `split` input (opset 13+), the attribute (older; the importer
// moves it to the input), or `num_outputs` / the output count for equal parts.
Result<std::vector<int64_t>> splitSizes(const NodeContext& c, int ax, size_t n_out) {
  const int64_t extent = c.dims(0)[ax];
  std::vector<int64_t> sizes = constInts(c, 1);
  if (sizes.empty()) {
    EDGERT_TRY_ATTR(sizes, attrInts(c, "split"));
  }
  if (sizes.empty()) {
    int64_t n;
    EDGERT_TRY_ATTR(n, attrInt(c, "num_outputs", static_cast<int64_t>(n_out)));
    if (n < 1) return c.invalid("cannot split into ", n, " parts");
    const int64_t chunk = (extent + n - 1) / n;
    for (int64_t i = 0; i < n; ++i)
      sizes.push_back(std::max<int64_t>(0, std::min(chunk, extent - i * chunk)));
  }
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) return c.invalid("split sizes must be non-negative");
    sum += s;
  }
  if (sum != extent)
    return c.invalid("split sizes sum to ", sum, " but axis ", ax, " has ", extent);
  return sizes;
}

Status inferSplit(NodeContext& c) {
  int64_t axis;
  EDGERT_TRY_ATTR(axis, attrInt(c, "axis", 0));
  int ax;
  EDGERT_TRY_ATTR(ax, normAxis(c, axis, c.rank(0)));
  std::vector<int64_t> sizes;
  EDGERT_TRY_ATTR(sizes, splitSizes(c, ax, c.num_outputs));
  if (sizes.size() != c.num_outputs)
    return c.invalid("split has ", sizes.size(), " parts but the node has ", c.num_outputs,
                     " outputs");
  for (size_t i = 0; i < sizes.size(); ++i) {
    Dims d = c.dims(0);
    d[ax] = sizes[i];
    c.setOutput(i, c.dtype(0), d);
  }
  return Status::Ok();
}

Status runSplit(const AxisBlocks& b, const KernelArgs& a) {
  const uint8_t* x = a.in[0].as<uint8_t>();
  for (int64_t o = 0; o < b.outer; ++o) {
    int64_t off = o * b.total_bytes;
    for (size_t i = 0; i < b.part_bytes.size(); ++i) {
      if (i < a.out.size() && a.out[i].data && b.part_bytes[i])
        std::memcpy(a.out[i].as<uint8_t>() + o * b.part_bytes[i], x + off, b.part_bytes[i]);
      off += b.part_bytes[i];
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createSplit(const NodeContext& c) {
  std::vector<const Dims*> parts;
  for (const ValueInfo& v : c.out) parts.push_back(&v.dims);
  const int ax = normAxis(c, c.attrs->getInt("axis", 0).value(), c.rank(0)).value();
  return makeKernel(blocksFor(parts, ax, dataTypeSize(c.dtype(0))), &runSplit);
}

}  // namespace

extern const OpDef kOpConcat = {"Concat", 1, -1, 1, 1, 0, inferConcat, createConcat};
extern const OpDef kOpSplit = {"Split", 1, 2, 1, -1, 0b10, inferSplit, createSplit};

}  // namespace edgert::ops
