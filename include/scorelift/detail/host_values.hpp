// scorelift/detail/host_values.hpp — a per-sample vector copied to the host, for the few decisions
// made per sample on the host (sign tables, weight checks).
#pragma once

#include <cstddef>
#include <vector>

#include "scorelift/concepts.hpp"

namespace scorelift::detail {

/// v as host doubles: one copy where the backend offers it (HostVectorBackend), element sums otherwise.
template <Backend B>
std::vector<double> host_values(const typename B::vector_type& v) {
  if constexpr (HostVectorBackend<B>) {
    return B::vector_to_host(v);
  } else {
    std::vector<double> out(static_cast<std::size_t>(B::size(v)));
    for (index_t i = 0; i < B::size(v); ++i) out[static_cast<std::size_t>(i)] = B::sum(v, i, i + 1);
    return out;
  }
}

}  // namespace scorelift::detail
