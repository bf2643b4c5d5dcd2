// The network as both the builder and the runtime hold it: tensors (activations or
// constants) and nodes in execution order. The builder produces it from ONNX and the
// engine file stores it; the loader re-validates it with the same shape inference.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "edgert/internal/attributes.h"
#include "edgert/internal/host_tensor.h"
#include "edgert/types.h"

namespace edgert {

struct TensorEntry {
  std::string name;
  DataType dtype = DataType::kUndefined;
  Dims dims;
  std::shared_ptr<const HostTensor> constant;  // weights and folded values
  bool isConstant() const { return constant != nullptr; }
};

struct Node {
  std::string op;
  std::string name;
  std::vector<int> inputs;  // tensor ids; -1 marks an absent optional input
  std::vector<int> outputs;
  AttrMap attrs;
  std::string precision = "fp32";
  std::string tactic = "cpu-ref";
};

struct Binding {
  int tensor = -1;
  bool is_input = false;
  Dims model_dims;  // as declared by the model, -1 for symbolic
  std::vector<std::string> dim_names;
};

struct Graph {
  std::string name;
  std::vector<TensorEntry> tensors;
  std::vector<Node> nodes;  // topologically ordered
  std::vector<Binding> bindings;
  int findTensor(const std::string& name) const;
  // Appends a constant tensor (the builder's passes add weights, scales, shape values) and
  // returns its id.
  int addConstant(const std::string& name, HostTensor value);
};

struct NodeContext;

// A node as shape inference and kernel creation see it: its inputs' dtypes, dims and
// constant values from the graph, and (when `with_outputs`) its outputs' stored dtypes and
// dims. Holds pointers into `g` and `n`, which must outlive it.
NodeContext nodeContext(const Graph& g, const Node& n, bool with_outputs);

// Where each activation lives in the per-context arena (constants live in the weights).
struct MemoryPlan {
  uint64_t arena_bytes = 0;
  std::vector<uint64_t> offsets;  // per tensor; unused for constants
  uint64_t scratch_bytes = 0;     // largest kernel scratch, shared by all layers
};

// A buffer to place: its size and the steps [first, last] during which it is live.
struct LiveBuffer {
  uint64_t bytes = 0;
  int64_t first = 0, last = 0;
};
// First-fit placement, largest first: each buffer gets the lowest offset that does not
// collide with a placed buffer whose lifetime overlaps. Returns the offsets; `total` gets
// the bytes needed.
std::vector<uint64_t> placeBuffers(const std::vector<LiveBuffer>& buffers, uint64_t* total);

// Buffers that live inside others (views, in-place layers, slices of a concatenation):
// buffer i sits in `parent[i]` at byte `offset[i]`, or is placed itself (parent -1). Whoever
// links a buffer makes its root's lifetime cover it.
struct BufferAliases {
  std::vector<int64_t> parent;
  std::vector<uint64_t> offset;
  explicit BufferAliases(size_t n) : parent(n, -1), offset(n, 0) {}
  int64_t root(int64_t i) const {
    while (parent[i] >= 0) i = parent[i];
    return i;
  }
  uint64_t offsetInRoot(int64_t i) const {
    uint64_t o = 0;
    for (; parent[i] >= 0; i = parent[i]) o += offset[i];
    return o;
  }
};
// placeBuffers for the roots; every other buffer gets its root's offset plus its own.
std::vector<uint64_t> placeBuffers(const std::vector<LiveBuffer>& buffers,
                                   const BufferAliases& aliases, uint64_t* total);

// Liveness-based plan: each activation gets an aligned offset; tensors whose lifetimes
// do not overlap share memory. Inputs live from the start, outputs to the end.
MemoryPlan planMemory(const Graph& g, uint64_t alignment = 64);

// Runs shape inference over every node and checks the stored dims/dtypes agree: the
// loader's structural gate against hostile or stale engine files.
Status validateGraph(const Graph& g);

}  // namespace edgert
