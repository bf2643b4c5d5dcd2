// Helpers shared by the op families: axis handling, broadcasting, dtype dispatch and a
// kernel wrapper for ops whose parameters are a small struct.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "edgert/internal/half.h"
#include "edgert/internal/op.h"

namespace edgert::ops {

// Storage type for float16 elements, distinct from uint16_t so dispatch can tell them apart.
struct half_t {
  uint16_t bits;
};

// How an element type is loaded for arithmetic and stored back.
template <class T>
struct Num {
  using C = T;
  static C load(T v) { return v; }
  static T store(C v) { return v; }
};
template <>
struct Num<half_t> {
  using C = float;
  static float load(half_t v) { return halfToFloat(v.bits); }
  static half_t store(float v) { return {floatToHalf(v)}; }
};
template <>
struct Num<bool> {
  using C = bool;
  static bool load(bool v) { return v; }
  static bool store(bool v) { return v; }
};

enum TypeSet : uint32_t {
  kF32 = 1u << 0,
  kF64 = 1u << 1,
  kF16 = 1u << 2,
  kI64 = 1u << 3,
  kI32 = 1u << 4,
  kI8 = 1u << 5,
  kU8 = 1u << 6,
  kBoolT = 1u << 7,
  kFloats = kF32 | kF64 | kF16,
  kInts = kI64 | kI32 | kI8 | kU8,
  kNumeric = kFloats | kInts,
  kAll = kNumeric | kBoolT,
};

inline uint32_t typeBit(DataType t) {
  switch (t) {
    case DataType::kFloat32:
      return kF32;
    case DataType::kFloat64:
      return kF64;
    case DataType::kFloat16:
      return kF16;
    case DataType::kInt64:
      return kI64;
    case DataType::kInt32:
      return kI32;
    case DataType::kInt8:
      return kI8;
    case DataType::kUInt8:
      return kU8;
    case DataType::kBool:
      return kBoolT;
    default:
      return 0;
  }
}

template <class T>
constexpr uint32_t typeBitOf() {
  if constexpr (std::is_same_v<T, float>)
    return kF32;
  else if constexpr (std::is_same_v<T, double>)
    return kF64;
  else if constexpr (std::is_same_v<T, half_t>)
    return kF16;
  else if constexpr (std::is_same_v<T, int64_t>)
    return kI64;
  else if constexpr (std::is_same_v<T, int32_t>)
    return kI32;
  else if constexpr (std::is_same_v<T, int8_t>)
    return kI8;
  else if constexpr (std::is_same_v<T, uint8_t>)
    return kU8;
  else if constexpr (std::is_same_v<T, bool>)
    return kBoolT;
  else
    return 0;
}

// Calls f.template operator()<T>() with the storage type of `t` if it is in kAllowed;
// only the allowed types are instantiated. Returns false for any other dtype.
template <uint32_t kAllowed, class F>
bool dispatch(DataType t, F&& f) {
  if (!(typeBit(t) & kAllowed)) return false;
  auto call = [&]<class T>() {
    if constexpr ((typeBitOf<T>() & kAllowed) != 0) f.template operator()<T>();
  };
  switch (t) {
    case DataType::kFloat32:
      call.template operator()<float>();
      return true;
    case DataType::kFloat64:
      call.template operator()<double>();
      return true;
    case DataType::kFloat16:
      call.template operator()<half_t>();
      return true;
    case DataType::kInt64:
      call.template operator()<int64_t>();
      return true;
    case DataType::kInt32:
      call.template operator()<int32_t>();
      return true;
    case DataType::kInt8:
      call.template operator()<int8_t>();
      return true;
    case DataType::kUInt8:
      call.template operator()<uint8_t>();
      return true;
    case DataType::kBool:
      call.template operator()<bool>();
      return true;
    default:
      return false;
  }
}

inline Status requireType(const NodeContext& ctx, size_t input, uint32_t allowed) {
  if (!(typeBit(ctx.dtype(input)) & allowed))
    return ctx.unsupported("input ", input, " has dtype ", dataTypeName(ctx.dtype(input)),
                           ", which this op does not support");
  return Status::Ok();
}

// Normalises a possibly negative axis into [0, rank); a scalar has no axis.
inline Result<int> normAxis(const NodeContext& ctx, int64_t axis, int rank) {
  if (rank == 0) return ctx.invalid("axis ", axis, " given for a scalar input");
  if (axis < -rank || axis >= rank)
    return ctx.invalid("axis ", axis, " is out of range for rank ", rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

// Numpy-style broadcast of two shapes.
inline Result<Dims> broadcastDims(const NodeContext& ctx, const Dims& a, const Dims& b) {
  const size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return ctx.invalid("shapes ", dimsToString(a), " and ", dimsToString(b),
                         " cannot be broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

inline std::vector<int64_t> stridesOf(const Dims& d) {
  std::vector<int64_t> s(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * d[i + 1];
  return s;
}

// Broadcast iteration of up to 3 operands over an output shape, with adjacent dims that
// broadcast alike merged so the inner loop is as long as possible.
struct BroadcastPlan {
  int rank = 0;
  std::array<int64_t, kMaxRank> dims{};
  std::array<std::array<int64_t, kMaxRank>, 3> strides{};
  int64_t total = 0;
};

inline BroadcastPlan makeBroadcastPlan(const Dims& out, std::initializer_list<const Dims*> ins) {
  BroadcastPlan p;
  const int r = static_cast<int>(out.size());
  std::vector<std::vector<int64_t>> st;
  for (const Dims* d : ins) {
    std::vector<int64_t> s(r, 0);
    const int off = r - static_cast<int>(d->size());
    int64_t acc = 1;
    for (int i = static_cast<int>(d->size()) - 1; i >= 0; --i) {
      s[i + off] = (*d)[i] == 1 ? 0 : acc;
      acc *= (*d)[i];
    }
    st.push_back(std::move(s));
  }
  // Merge dim i into i+1 when every operand is contiguous across them.
  std::vector<int64_t> md;
  std::vector<std::vector<int64_t>> ms(st.size());
  for (int i = 0; i < r; ++i) {
    if (out[i] == 1) continue;
    bool merge = !md.empty();
    for (size_t k = 0; merge && k < st.size(); ++k) {
      const int64_t prev = ms[k].back();
      const int64_t cur = st[k][i];
      merge = (prev == 0 && cur == 0) || (cur != 0 && prev == cur * out[i]);
    }
    if (merge) {
      md.back() *= out[i];
      for (size_t k = 0; k < st.size(); ++k) ms[k].back() = st[k][i];
    } else {
      md.push_back(out[i]);
      for (size_t k = 0; k < st.size(); ++k) ms[k].push_back(st[k][i]);
    }
  }
  if (md.empty()) {
    md.push_back(1);
    for (auto& s : ms) s.push_back(0);
  }
  p.rank = static_cast<int>(md.size());
  p.total = volume(out);
  for (int i = 0; i < p.rank; ++i) {
    p.dims[i] = md[i];
    for (size_t k = 0; k < ms.size(); ++k) p.strides[k][i] = ms[k][i];
  }
  return p;
}

// f(out_offset, off0, off1, off2, inner_count, inner_stride0, inner_stride1, inner_stride2)
template <class F>
void forEachBroadcastRow(const BroadcastPlan& p, F&& f) {
  if (p.total == 0) return;
  const int r = p.rank;
  const int64_t inner = p.dims[r - 1];
  std::array<int64_t, kMaxRank> idx{};
  int64_t out = 0;
  while (true) {
    int64_t o[3] = {0, 0, 0};
    for (int i = 0; i < r - 1; ++i) {
      for (int k = 0; k < 3; ++k) o[k] += idx[i] * p.strides[k][i];
    }
    f(out, o[0], o[1], o[2], inner, p.strides[0][r - 1], p.strides[1][r - 1], p.strides[2][r - 1]);
    out += inner;
    int i = r - 2;
    for (; i >= 0; --i) {
      if (++idx[i] < p.dims[i]) break;
      idx[i] = 0;
    }
    if (i < 0) break;
  }
}

// A kernel holding a parsed parameter struct and a run function.
template <class P>
class FnKernel final : public Kernel {
 public:
  using Fn = Status (*)(const P&, const KernelArgs&);
  FnKernel(P p, Fn fn, size_t scratch = 0) : p_(std::move(p)), fn_(fn), scratch_(scratch) {}
  size_t scratchBytes() const override { return scratch_; }
  size_t heldBytes() const override {
    if constexpr (requires(const P& p) { p.heldBytes(); })
      return p_.heldBytes();
    else
      return 0;
  }
  Status run(const KernelArgs& a) const override { return fn_(p_, a); }

 private:
  P p_;
  Fn fn_;
  size_t scratch_;
};

template <class P>
Result<std::unique_ptr<Kernel>> makeKernel(P p, typename FnKernel<P>::Fn fn, size_t scratch = 0) {
  return std::unique_ptr<Kernel>(new FnKernel<P>(std::move(p), fn, scratch));
}

// Reads an optional int64 constant input as a vector (axes, pads, shape, ...).
inline std::vector<int64_t> constInts(const NodeContext& ctx, size_t i) {
  const HostTensor* t = ctx.constant(i);
  return t ? t->toInt64Vector() : std::vector<int64_t>{};
}

#define EDGERT_TRY_ATTR(var, expr) EDGERT_ASSIGN_OR_RETURN(var, (expr))

// Attribute getters whose errors name the node.
inline Result<int64_t> attrInt(const NodeContext& c, const char* n, int64_t d) {
  auto r = c.attrs->getInt(n, d);
  if (!r.ok()) return c.invalid(r.status().message());
  return r.value();
}
inline Result<float> attrFloat(const NodeContext& c, const char* n, float d) {
  auto r = c.attrs->getFloat(n, d);
  if (!r.ok()) return c.invalid(r.status().message());
  return r.value();
}
inline Result<std::string> attrStr(const NodeContext& c, const char* n, const char* d) {
  auto r = c.attrs->getString(n, d);
  if (!r.ok()) return c.invalid(r.status().message());
  return r.value();
}
inline Result<std::vector<int64_t>> attrInts(const NodeContext& c, const char* n,
                                             std::vector<int64_t> d = {}) {
  auto r = c.attrs->getInts(n, std::move(d));
  if (!r.ok()) return c.invalid(r.status().message());
  return r.value();
}
inline Result<std::vector<float>> attrFloats(const NodeContext& c, const char* n) {
  auto r = c.attrs->getFloats(n);
  if (!r.ok()) return c.invalid(r.status().message());
  return r.value();
}

}  // namespace edgert::ops
