// What a layer costs at least, from its shapes: the arithmetic it implies and the bytes it
// must move (inputs, weights and outputs read or written once, in the precision the layer
// runs). `edgert bench --per-layer` divides them by the measured time for the roofline.
#pragma once

#include "edgert/internal/graph.h"

namespace edgert {

struct LayerCost {
  double flops = 0;  // multiply-adds count two; 0 where an op does no arithmetic to speak of
  double bytes = 0;
};

LayerCost layerCost(const Graph& g, const Node& n);

}  // namespace edgert
