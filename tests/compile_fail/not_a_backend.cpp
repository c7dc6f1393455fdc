// Negative compile test: `incomplete_backend` has every member of a Backend except row_dot, so
// instantiating an objective with it must fail, and the compiler must say which requirement is
// missing. With SCORELIFT_POSITIVE_CONTROL the complete Eigen adapter is used instead and the
// file must compile and run (so the negative result cannot come from an unrelated error).
#include "scorelift/backends/eigen.hpp"
#include "scorelift/concepts.hpp"

namespace {

struct incomplete_backend : scorelift::eigen_backend<double> {
  static void row_dot() = delete;  // hides the base's row_dot: the requirement is now missing
};

template <scorelift::Backend B>
int needs_backend() {
  return 0;
}

}  // namespace

int main() {
#ifdef SCORELIFT_POSITIVE_CONTROL
  return needs_backend<scorelift::eigen_backend<double>>();
#else
  return needs_backend<incomplete_backend>();
#endif
}
