// Which timed implementation a layer gets (tactic timing's last step, kept apart so that it
// can be tested without a GPU).
#pragma once

#include <cstddef>
#include <vector>

#include "edgert/internal/backends.h"

namespace edgert {

// The fastest whose workspace fits `limit` bytes (if none fits, the least workspace). Then,
// because a workspace lives in the activation arena while its layer runs and a large one can
// raise the context's memory peak: within 3% of that time (timing noise) the least workspace,
// and up to 15% of the layer's time is given for 64 MiB or more less. `times` is not empty.
const TacticTime& chooseTactic(const std::vector<TacticTime>& times, size_t limit);

}  // namespace edgert
