// Transpose and the ops that are a reshape + transpose: DepthToSpace, SpaceToDepth.
#include "op_util.h"

namespace edgert::ops {
namespace {

// Copies x (dims `in`) to y permuted by `perm`, element size es.
struct PermuteParams {
  int rank = 0;
  std::array<int64_t, kMaxRank> out_dims{};
  std::array<int64_t, kMaxRank> in_strides{};  // input stride of each output dim
};

PermuteParams makePermute(const Dims& in, const std::vector<int64_t>& perm) {
  PermuteParams p;
  const auto s = stridesOf(in);
  p.rank = static_cast<int>(in.size());
  for (int i = 0; i < p.rank; ++i) {
    p.out_dims[i] = in[perm[i]];
    p.in_strides[i] = s[perm[i]];
  }
  return p;
}

template <class T>
void permute(const PermuteParams& p, const T* x, T* y) {
  const int r = p.rank;
  if (r == 0) {
    y[0] = x[0];
    return;
  }
  std::array<int64_t, kMaxRank> idx{};
  int64_t total = 1;
  for (int i = 0; i < r; ++i) total *= p.out_dims[i];
  if (total == 0) return;
  const int64_t inner = p.out_dims[r - 1], is = p.in_strides[r - 1];
  int64_t o = 0;
  while (o < total) {
    int64_t off = 0;
    for (int i = 0; i < r - 1; ++i) off += idx[i] * p.in_strides[i];
    for (int64_t j = 0; j < inner; ++j) y[o + j] = x[off + j * is];
    o += inner;
    for (int i = r - 2; i >= 0; --i) {
      if (++idx[i] < p.out_dims[i]) break;
      idx[i] = 0;
    }
  }
}

Status runPermute(const PermuteParams& p, const KernelArgs& a) {
  switch (dataTypeSize(a.in[0].dtype)) {
    case 1:
      permute(p, a.in[0].as<uint8_t>(), a.out[0].as<uint8_t>());
      break;
    case 2:
      permute(p, a.in[0].as<uint16_t>(), a.out[0].as<uint16_t>());
      break;
    case 4:
      permute(p, a.in[0].as<uint32_t>(), a.out[0].as<uint32_t>());
      break;
    case 8:
      permute(p, a.in[0].as<uint64_t>(), a.out[0].as<uint64_t>());
      break;
    default:
      return Status(StatusCode::kInternal, "bad element size");
  }
  return Status::Ok();
}

Result<std::vector<int64_t>> parsePerm(const NodeContext& c) {
  const int r = c.rank(0);
  std::vector<int64_t> perm;
  EDGERT_TRY_ATTR(perm, attrInts(c, "perm"));
  if (perm.empty()) {
    for (int i = r - 1; i >= 0; --i) perm.push_back(i);
  }
  if (static_cast<int>(perm.size()) != r)
    return c.invalid("perm has ", perm.size(), " entries for rank ", r);
  std::vector<bool> seen(r, false);
  for (auto& v : perm) {
    if (v < 0) v += r;
    if (v < 0 || v >= r || seen[v]) return c.invalid("perm is not a permutation of 0..", r - 1);
    seen[v] = true;
  }
  return perm;
}

Status inferTranspose(NodeContext& c) {
  std::vector<int64_t> perm;
  EDGERT_TRY_ATTR(perm, parsePerm(c));
  Dims out;
  for (int64_t v : perm) out.push_back(c.dims(0)[v]);
  c.setOutput(0, c.dtype(0), out);
  return Status::Ok();
}
Result<std::unique_ptr<Kernel>> createTranspose(const NodeContext& c) {
  std::vector<int64_t> perm;
  EDGERT_TRY_ATTR(perm, parsePerm(c));
  return makeKernel(makePermute(c.dims(0), perm), &runPermute);
}

// DepthToSpace / SpaceToDepth as a 6-D view and a permutation.
struct SpaceDepth {
  Dims view;
  std::vector<int64_t> perm;
  Dims out;
};
template <bool kToSpace>
Result<SpaceDepth> parseSpaceDepth(const NodeContext& c) {
  if (c.rank(0) != 4) return c.invalid("input must be 4-D, got ", dimsToString(c.dims(0)));
  int64_t bs;
  std::string mode;
  EDGERT_TRY_ATTR(bs, attrInt(c, "blocksize", 0));
  EDGERT_TRY_ATTR(mode, attrStr(c, "mode", "DCR"));
  if (bs < 1) return c.invalid("blocksize must be positive");
  const Dims& x = c.dims(0);
  const int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  SpaceDepth s;
  if (kToSpace) {
    if (C % (bs * bs)) return c.invalid("channels ", C, " are not divisible by blocksize^2");
    const int64_t c2 = C / (bs * bs);
    if (mode == "DCR") {
      s.view = {N, bs, bs, c2, H, W};
      s.perm = {0, 3, 4, 1, 5, 2};
    } else if (mode == "CRD") {
      s.view = {N, c2, bs, bs, H, W};
      s.perm = {0, 1, 4, 2, 5, 3};
    } else {
      return c.invalid("mode must be DCR or CRD, got '", mode, "'");
    }
    s.out = {N, c2, H * bs, W * bs};
  } else {
    if (H % bs || W % bs) return c.invalid("spatial dims are not divisible by blocksize ", bs);
    s.view = {N, C, H / bs, bs, W / bs, bs};
    s.perm = {0, 3, 5, 1, 2, 4};
    s.out = {N, C * bs * bs, H / bs, W / bs};
  }
  return s;
}
template <bool kToSpace>
Status inferSpaceDepth(NodeContext& c) {
  SpaceDepth s;
  EDGERT_TRY_ATTR(s, parseSpaceDepth<kToSpace>(c));
  c.setOutput(0, c.dtype(0), s.out);
  return Status::Ok();
}
template <bool kToSpace>
Result<std::unique_ptr<Kernel>> createSpaceDepth(const NodeContext& c) {
  SpaceDepth s;
  EDGERT_TRY_ATTR(s, parseSpaceDepth<kToSpace>(c));
  return makeKernel(makePermute(s.view, s.perm), &runPermute);
}

}  // namespace

extern const OpDef kOpTranspose = {"Transpose", 1, 1, 1, 1, 0, inferTranspose, createTranspose};
extern const OpDef kOpDepthToSpace = {"DepthToSpace",        1, 1, 1, 1, 0, inferSpaceDepth<true>,
                                      createSpaceDepth<true>};
extern const OpDef kOpSpaceToDepth = {"SpaceToDepth",         1, 1, 1, 1, 0, inferSpaceDepth<false>,
                                      createSpaceDepth<false>};

}  // namespace edgert::ops
