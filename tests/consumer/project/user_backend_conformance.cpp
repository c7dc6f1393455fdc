// A user-side adapter (examples/custom_backend/row_buffer_backend.hpp: a strided std::vector<double>
// matrix) run through the installed conformance kit against the Eigen reference.
#include <cstdio>
#include <scorelift/testing/backend_conformance.hpp>

#include "row_buffer_backend.hpp"

bool user_backend_conforms() {
  const auto report = scorelift::testing::check_backend<custom::row_buffer_backend>(custom::padded_converter{});
  std::printf("%s", report.summary().c_str());
  return report.passed();
}
