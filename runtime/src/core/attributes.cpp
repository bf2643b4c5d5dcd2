#include "edgert/internal/attributes.h"

#include "edgert/internal/str.h"

namespace edgert {

const char* attributeKindName(Attribute::Kind k) {
  switch (k) {
    case Attribute::Kind::kInt:
      return "int";
    case Attribute::Kind::kFloat:
      return "float";
    case Attribute::Kind::kString:
      return "string";
    case Attribute::Kind::kInts:
      return "ints";
    case Attribute::Kind::kFloats:
      return "floats";
    case Attribute::Kind::kTensor:
      return "tensor";
  }
  return "?";
}

void AttrMap::setInt(const std::string& name, int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::kInt;
  a.i = v;
  map_[name] = std::move(a);
}
void AttrMap::setFloat(const std::string& name, float v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloat;
  a.f = v;
  map_[name] = std::move(a);
}
void AttrMap::setString(const std::string& name, std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::kString;
  a.s = std::move(v);
  map_[name] = std::move(a);
}
void AttrMap::setInts(const std::string& name, std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::kInts;
  a.ints = std::move(v);
  map_[name] = std::move(a);
}
void AttrMap::setFloats(const std::string& name, std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::kFloats;
  a.floats = std::move(v);
  map_[name] = std::move(a);
}

const Attribute* AttrMap::find(const std::string& name) const {
  auto it = map_.find(name);
  return it == map_.end() ? nullptr : &it->second;
}

namespace {
Status wrongKind(const std::string& name, const Attribute& a, Attribute::Kind want) {
  return Status(StatusCode::kInvalidArgument,
                strCat("attribute '", name, "' must be ", attributeKindName(want), ", got ",
                       attributeKindName(a.kind)));
}
}  // namespace

Result<int64_t> AttrMap::getInt(const std::string& name, int64_t def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kInt) return wrongKind(name, *a, Attribute::Kind::kInt);
  return a->i;
}

Result<float> AttrMap::getFloat(const std::string& name, float def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind == Attribute::Kind::kInt) return static_cast<float>(a->i);
  if (a->kind != Attribute::Kind::kFloat) return wrongKind(name, *a, Attribute::Kind::kFloat);
  return a->f;
}

Result<std::string> AttrMap::getString(const std::string& name, const std::string& def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kString) return wrongKind(name, *a, Attribute::Kind::kString);
  return a->s;
}

Result<std::vector<int64_t>> AttrMap::getInts(const std::string& name,
                                              std::vector<int64_t> def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kInts) return wrongKind(name, *a, Attribute::Kind::kInts);
  return a->ints;
}

Result<std::vector<float>> AttrMap::getFloats(const std::string& name,
                                              std::vector<float> def) const {
  const Attribute* a = find(name);
  if (!a) return def;
  if (a->kind != Attribute::Kind::kFloats) return wrongKind(name, *a, Attribute::Kind::kFloats);
  return a->floats;
}

}  // namespace edgert
