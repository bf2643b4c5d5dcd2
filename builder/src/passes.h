// Graph passes run by the builder after import, in this order:
//   resolveInputShapes -> inferAndFold -> removeIdentities -> eliminateDeadCode -> finalizeOutputs
#pragma once

#include <functional>

#include "edgert/builder.h"
#include "edgert/internal/graph.h"

namespace edgert {

// Who reads and who writes each tensor (node indices), and which tensors are network
// outputs; the nodes marked in `dead` (when it is given) are left out.
struct TensorUses {
  std::vector<std::vector<int>> readers;  // per tensor: reading node indices
  std::vector<int> producer;              // per tensor: producing node index or -1
  std::vector<bool> is_output;
};
TensorUses tensorUses(const Graph& g, const std::vector<bool>& dead = {});

struct PassStats {
  size_t folded = 0;
  size_t removed = 0;
};

// Applies --shapes and frozen input values; every remaining dynamic dim is an error that
// lists all of them with their names.
Status resolveInputShapes(Graph& g, const BuildOptions& opt, const std::string& model);

// Every float32 input binding becomes a float16 binding of the same name read by a Cast to
// float32 (BuildOptions::input_format "fp16").
void halfInputBindings(Graph& g);

// Shape inference over every node in topological order; nodes whose inputs are all known
// at build time (and Shape/Size of static tensors) are evaluated with the CPU kernels and
// become constants. Sorts the nodes topologically first.
Status inferAndFold(Graph& g, PassStats& stats, const std::function<void(double)>& progress);

// Identity and inference Dropout disappear (consumers read the input directly).
void removeIdentities(Graph& g, PassStats& stats);
// Transpose of a Transpose reads the first one's input with the composed permutation; a
// Transpose that permutes nothing (identity, or only moving size-1 dims into the same
// order) becomes an Identity, which removeIdentities then drops. Needs known dims.
void simplifyTransposes(Graph& g, PassStats& stats);

// Drops nodes and tensors that no output depends on, and compacts tensor ids.
void eliminateDeadCode(Graph& g, PassStats& stats);

// A constant-mode zero Pad of the spatial dims read only by a Conv becomes part of the Conv's
// own pads (EfficientNet's "same" padding): one pass over memory less, and for INT8 one
// float tensor less to quantise. `asymmetric_ok(conv)`: the layer that will run `conv` pads
// asymmetrically (the CPU backend; on the GPU the NHWC fp16 and INT8 kernels, not cuDNN's
// legacy NCHW fp32 convolution).
void foldPadIntoConv(Graph& g, PassStats& stats,
                     const std::function<bool(const Node& conv)>& asymmetric_ok);

// Whether zero Pad `pad` (its output read by `conv`, a Conv or EdgertQConv) can become part of
// the convolution's pads; `*pads` gets the convolution's pads with it (begins, then ends).
bool foldablePad(const Graph& g, const Node& pad, const Node& conv, std::vector<int64_t>* pads);

// Conv followed by an inference BatchNormalization (constant statistics) becomes one
// Conv with scaled weights and a shifted bias.
void foldBatchNorm(Graph& g, PassStats& stats);

// Conv + residual Add + activation (Relu, Clip/Relu6, LeakyRelu, HardSwish, HardSigmoid,
// Sigmoid, SiLU = x*sigmoid(x), GELU exact or tanh) become one layer with a fused epilogue,
// where the intermediate tensors have no other reader; Gemm + activation likewise.
void fuseConvEpilogues(Graph& g, PassStats& stats);

// Chains of float32 elementwise ops (unary ops, Clip with constant bounds, Add/Sub/Mul/
// Div/Pow/Max/Min with operands of the output's shape, scalars or one broadcast axis)
// whose intermediate tensors have no other reader become one EdgertElementwise layer:
// one pass over memory instead of one per op (HardSwish spelled out, x*sigmoid(x) ...).
void fuseElementwise(Graph& g, PassStats& stats);

// Chains of per-sample layers (convolutions, pools, activations) around the largest tensors
// at the activation peak run in batch parts of at most `max_part` images when that lowers
// the planned arena by 5% or more (see batch_split.cpp). 0: off.
struct BatchSplitReport {
  size_t chains = 0;          // chains split
  size_t layers = 0;          // layers in them
  uint64_t arena_before = 0;  // the planned arena before any split
};
// `half`: an FP16 CUDA engine (activations counted at 2 bytes).
BatchSplitReport splitBatchForMemory(Graph& g, int64_t max_part, bool half);

// Outputs that are constants or graph inputs get an Identity layer so every output is
// an activation the context writes.
void finalizeOutputs(Graph& g);

}  // namespace edgert
