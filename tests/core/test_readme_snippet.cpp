// The README's usage snippet, compiled as written (tests/CMakeLists.txt extracts it), and checked:
// the gradient it hands back is the derivative of the value it returns (central differences), and a
// target equal to the model output scores better than an unrelated one.
#include "readme_snippet.hpp"

#include <doctest/doctest.h>

#include <random>

TEST_CASE("README snippet: ldse_step returns the LDSE value and its closed-form gradient") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  const Eigen::Index batch = 9, dim = 4;  // odd batch: halves of 4 and 5
  matrix f(batch, dim), t(batch, dim), grad_f;
  for (Eigen::Index i = 0; i < f.size(); ++i) {
    f.data()[i] = normal(rng);
    t.data()[i] = normal(rng);
  }
  const double value = ldse_step(f, t, grad_f);
  REQUIRE(grad_f.rows() == batch);
  REQUIRE(grad_f.cols() == dim);
  const double h = 1e-6;
  for (Eigen::Index b = 0; b < batch; ++b) {
    for (Eigen::Index j = 0; j < dim; ++j) {
      matrix up = f, down = f, ignored;
      up(b, j) += h;
      down(b, j) -= h;
      const double fd = (ldse_step(up, t, ignored) - ldse_step(down, t, ignored)) / (2 * h);
      CHECK(grad_f(b, j) == doctest::Approx(fd).epsilon(1e-6));
    }
  }
  // A model that reproduces the target aligns with it: its lifted loss is below an unrelated model's.
  matrix unused;
  CHECK(ldse_step(t, t, unused) < value);
}
