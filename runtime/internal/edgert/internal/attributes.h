// Node attributes, ONNX-shaped: int, float, string, ints, floats or a tensor. The
// importer normalises every opset variant into the newest form before ops see them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgert/internal/host_tensor.h"
#include "edgert/status.h"

namespace edgert {

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0.f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::shared_ptr<HostTensor> tensor;
};

const char* attributeKindName(Attribute::Kind k);

class AttrMap {
 public:
  void set(const std::string& name, Attribute a) { map_[name] = std::move(a); }
  void setInt(const std::string& name, int64_t v);
  void setFloat(const std::string& name, float v);
  void setString(const std::string& name, std::string v);
  void setInts(const std::string& name, std::vector<int64_t> v);
  void setFloats(const std::string& name, std::vector<float> v);
  bool has(const std::string& name) const { return map_.count(name) != 0; }
  void erase(const std::string& name) { map_.erase(name); }
  const Attribute* find(const std::string& name) const;
  const std::map<std::string, Attribute>& all() const { return map_; }

  // Typed getters: the default when absent, an error naming the attribute when it has
  // the wrong kind (a malformed model or engine).
  Result<int64_t> getInt(const std::string& name, int64_t def) const;
  Result<float> getFloat(const std::string& name, float def) const;
  Result<std::string> getString(const std::string& name, const std::string& def) const;
  Result<std::vector<int64_t>> getInts(const std::string& name,
                                       std::vector<int64_t> def = {}) const;
  Result<std::vector<float>> getFloats(const std::string& name, std::vector<float> def = {}) const;

 private:
  std::map<std::string, Attribute> map_;
};

}  // namespace edgert
