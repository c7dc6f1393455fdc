// scorelift/detail/funnel_parameters.hpp — the checks of Neal's funnel's parameters, shared by the
// LibTorch target (torch/targets/funnel.hpp) and the Eigen one (analysis/known_score_targets.hpp).
#pragma once

#include <cmath>

#include "scorelift/errors.hpp"

namespace scorelift::detail {

/// D = 2..10 (the suite's range) and τ > 0 finite, else invalid_argument from `where`.
inline void require_funnel_parameters(const char* where, index_t dim, double tau) {
  require(dim >= 2 && dim <= 10, where, "argument 'dim' is ", dim, " but Neal's funnel is provided for D = 2..10");
  require(tau > 0 && std::isfinite(tau), where, "argument 'tau' is ", tau, " but must be positive and finite");
}

}  // namespace scorelift::detail
