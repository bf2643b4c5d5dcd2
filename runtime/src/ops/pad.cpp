// Pad: constant, reflect, edge and wrap modes; negative pads crop.
#include "op_util.h"

namespace edgert::ops {
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

struct PadParams {
  PadMode mode = PadMode::kConstant;
  int rank = 0;
  std::array<int64_t, kMaxRank> in{}, out{}, begin{}, in_stride{};
};

Result<PadParams> parsePad(const NodeContext& c) {
  std::string mode;
  EDGERT_TRY_ATTR(mode, attrStr(c, "mode", "constant"));
  PadParams p;
  if (mode == "constant")
    p.mode = PadMode::kConstant;
  else if (mode == "reflect")
    p.mode = PadMode::kReflect;
  else if (mode == "edge")
    p.mode = PadMode::kEdge;
  else if (mode == "wrap")
    p.mode = PadMode::kWrap;
  else
    return c.invalid("mode '", mode, "' is not constant, reflect, edge or wrap");
  const int r = c.rank(0);
  std::vector<int64_t> pads = constInts(c, 1);
  if (!c.has(1)) {
    EDGERT_TRY_ATTR(pads, attrInts(c, "pads"));
  }
  std::vector<int64_t> axes = constInts(c, 3);
  if (axes.empty())
    for (int i = 0; i < r; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    return c.invalid("pads has ", pads.size(), " values, expected ", 2 * axes.size());
  if (c.has(2) && (c.dtype(2) != c.dtype(0) || volume(c.dims(2)) != 1))
    return c.invalid("constant_value must be a scalar of the input's dtype");
  p.rank = r;
  const auto st = stridesOf(c.dims(0));
  std::array<int64_t, kMaxRank> end{};
  for (int i = 0; i < r; ++i) {
    p.in[i] = c.dims(0)[i];
    p.in_stride[i] = st[i];
  }
  const size_t n = axes.size();
  for (size_t k = 0; k < n; ++k) {
    int ax;
    EDGERT_TRY_ATTR(ax, normAxis(c, axes[k], r));
    p.begin[ax] = pads[k];
    end[ax] = pads[k + n];
  }
  for (int i = 0; i < r; ++i) {
    if (std::abs(p.begin[i]) > (int64_t{1} << 24) || std::abs(end[i]) > (int64_t{1} << 24))
      return c.invalid("pads are too large");
    p.out[i] = p.in[i] + p.begin[i] + end[i];
    if (p.out[i] < 0) return c.invalid("pads crop more than dim ", i, " holds");
    if (p.mode != PadMode::kConstant && p.in[i] == 0 && p.out[i] > 0)
      return c.invalid("cannot ", mode, "-pad an empty dim");
  }
  return p;
}

Status inferPad(NodeContext& c) {
  PadParams p;
  EDGERT_TRY_ATTR(p, parsePad(c));
  c.setOutput(0, c.dtype(0), Dims(p.out.begin(), p.out.begin() + p.rank));
  return Status::Ok();
}

// Maps an output coordinate to an input coordinate, or -1 for the constant value.
inline int64_t source(PadMode m, int64_t o, int64_t begin, int64_t n) {
  int64_t i = o - begin;
  if (i >= 0 && i < n) return i;
  switch (m) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : n - 1;
    case PadMode::kWrap:
      return ((i % n) + n) % n;
    case PadMode::kReflect: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      i = ((i % period) + period) % period;
      return i < n ? i : period - i;
    }
  }
  return -1;
}

Status runPad(const PadParams& p, const KernelArgs& a) {
  const size_t es = dataTypeSize(a.in[0].dtype);
  const uint8_t* x = a.in[0].as<uint8_t>();
  uint8_t* y = a.out[0].as<uint8_t>();
  alignas(8) uint8_t cval[8] = {0};
  if (a.in.size() > 2 && a.in[2].data) std::memcpy(cval, a.in[2].data, es);
  const int r = p.rank;
  const int64_t total = a.out[0].numel();
  if (r == 0) {
    if (total) std::memcpy(y, x, es);
    return Status::Ok();
  }
  std::array<int64_t, kMaxRank> idx{};
  const int64_t inner = p.out[r - 1];
  for (int64_t o = 0; o < total; o += inner) {
    int64_t off = 0;
    bool constant_row = false;
    for (int i = 0; i < r - 1; ++i) {
      const int64_t s = source(p.mode, idx[i], p.begin[i], p.in[i]);
      if (s < 0) constant_row = true;
      off += s * p.in_stride[i];
    }
    for (int64_t j = 0; j < inner; ++j) {
      const int64_t s = constant_row ? -1 : source(p.mode, j, p.begin[r - 1], p.in[r - 1]);
      std::memcpy(y + (o + j) * es, s < 0 ? cval : x + (off + s) * es, es);
    }
    for (int i = r - 2; i >= 0; --i) {
      if (++idx[i] < p.out[i]) break;
      idx[i] = 0;
    }
  }
  return Status::Ok();
}

Result<std::unique_ptr<Kernel>> createPad(const NodeContext& c) {
  PadParams p;
  EDGERT_TRY_ATTR(p, parsePad(c));
  return makeKernel(p, &runPad);
}

}  // namespace

extern const OpDef kOpPad = {"Pad", 1, 4, 1, 1, 0b1010, inferPad, createPad};

}  // namespace edgert::ops
