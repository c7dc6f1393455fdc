// A user's program built against the installed package: computes a row-wise inner product with
// the Eigen adapter and checks it against the value worked out by hand, and runs the installed
// conformance kit on an adapter of the user's own (user_backend_conformance.cpp).
#include <cstdio>
#include <scorelift/backends/eigen.hpp>

#if defined(SCORELIFT_USE_BLAS)
bool blas_factor_ok();  // factor_on_blas.cpp
#endif
bool user_backend_conforms();  // user_backend_conformance.cpp

int main() {
  using backend = scorelift::eigen_backend<double>;
  backend::matrix_type x(2, 2);
  x << 1, 2, 3, 4;
  const auto norms = backend::row_dot(x, x);  // [1 + 4, 9 + 16]
  if (norms(0) != 5.0 || norms(1) != 25.0) return 1;
#if defined(SCORELIFT_USE_BLAS)
  if (!blas_factor_ok()) return 2;
  std::puts("consumer: blocked_cholesky on the BLAS ok");
#endif
  if (!user_backend_conforms()) return 3;
  std::puts("consumer: a user-side adapter passes the installed conformance kit");
  std::puts("consumer ok");
  return 0;
}
