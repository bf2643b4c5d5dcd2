#include <algorithm>
#include <string_view>

#include "edgert/internal/op.h"

namespace edgert {

const OpDef* findOp(std::string_view name) {
  for (const OpDef* def : allOps()) {
    if (name == def->name) return def;
  }
  return nullptr;
}

Status inferNode(const OpDef& def, NodeContext& ctx) {
  const int n_in = static_cast<int>(ctx.in.size());
  // Trailing absent optional inputs do not count towards arity.
  int used = n_in;
  while (used > 0 && !ctx.in[used - 1].present) --used;
  if (used < def.min_inputs || (def.max_inputs >= 0 && used > def.max_inputs))
    return ctx.invalid(
        "takes ", def.min_inputs,
        def.max_inputs < 0 ? std::string(" or more") : strCat(" to ", def.max_inputs),
        " inputs, got ", used);
  for (int i = 0; i < def.min_inputs && i < n_in; ++i) {
    if (!ctx.in[i].present) return ctx.invalid("required input ", i, " is missing");
  }
  for (int i = 0; i < n_in && i < 32; ++i) {
    if ((def.const_inputs >> i & 1u) && ctx.in[i].present && !ctx.in[i].constant)
      return ctx.unsupported("input ", i,
                             " must be known at build time (a constant or computed from shapes); "
                             "it depends on a runtime value");
  }
  for (const ValueInfo& v : ctx.in) {
    if (v.present && v.dims.size() > static_cast<size_t>(kMaxRank))
      return ctx.unsupported("inputs of rank above ", kMaxRank, " are not supported");
  }
  ctx.out.clear();
  EDGERT_RETURN_IF_ERROR(def.infer(ctx));
  for (const ValueInfo& v : ctx.out) {
    for (int64_t d : v.dims) {
      if (d < 0) return ctx.invalid("inferred a negative output dim ", dimsToString(v.dims));
    }
    if (volume(v.dims) > kMaxTensorElements)
      return ctx.unsupported("output ", dimsToString(v.dims), " has more than 2^40 elements");
  }
  return Status::Ok();
}

}  // namespace edgert
