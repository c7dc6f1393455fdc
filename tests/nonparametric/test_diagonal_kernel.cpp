// Diagonal kernels k(x, y) I: block products, divergence sums (vs finite differences of the kernel)
// and the norm bound, for Gaussian and IMQ profiles.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/diagonal_kernel.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE_TEMPLATE("diagonal kernel block matches pointwise values and finite-difference divergences", K,
                   diagonal_gaussian<double>, diagonal_imq<double>) {
  K kernel;
  kernel.profile.sigma = 1.2;
  const rmat<> x = test::standard_normal(6, 3, 21), y = test::standard_normal(4, 3, 22);
  const rmat<> w = test::standard_normal(4, 3, 23);
  const auto blk = kernel.make_block(x, y);

  // K(x, y) = ψ(‖x − y‖²) I, symmetric in its arguments.
  const rmat<> k01 = kernel.value(x.row(0), y.row(1));
  CHECK(k01(0, 0) == doctest::Approx(kernel.profile.template derivative<0>((x.row(0) - y.row(1)).squaredNorm())));
  CHECK(k01(0, 1) == 0.0);
  CHECK((kernel.value(y.row(1), x.row(0)) - k01).norm() == 0.0);

  CHECK((blk.apply(w) - test::naive_apply(kernel, x, y, w)).norm() < 1e-12);
  rmat<> divergence = rmat<>::Zero(6, 3);
  for (index_t i = 0; i < 6; ++i)
    for (index_t j = 0; j < 4; ++j) divergence.row(i) += test::fd_divergence(kernel, x.row(i), y.row(j));
  CHECK((blk.divergence_sum() - divergence).norm() < 1e-7 * (1 + divergence.norm()));
}

TEST_CASE("a kernel block made from column-major samples and expressions keeps its own copy of them") {
  // The block stores its sample sets; from column-major input they are converted copies that the
  // block shares (eigen_view), so the block stays valid after the caller's temporaries are gone.
  diagonal_gaussian<double> kernel;
  kernel.profile.sigma = 1.1;
  const rmat<> x = test::standard_normal(7, 3, 31), y = test::standard_normal(5, 3, 32);
  const rmat<> w = test::standard_normal(5, 3, 33);
  const Eigen::MatrixXd x_columns = x, y_columns = y;
  const auto from_rows = kernel.make_block(x, y);
  const auto from_columns = kernel.make_block(x_columns, y_columns * 1.0);  // the expression dies here
  CHECK(from_columns.apply(w) == from_rows.apply(w));
  CHECK(from_columns.divergence_sum() == from_rows.divergence_sum());
}

TEST_CASE_TEMPLATE("diagonal kernel norm_bound bounds the Gram matrix's largest eigenvalue", K,
                   diagonal_gaussian<double>, diagonal_imq<double>) {
  K kernel;
  kernel.profile.sigma = 0.8;
  const rmat<> x = test::standard_normal(40, 2, 24);
  const auto blk = kernel.make_block(x, x);
  const Eigen::MatrixXd gram = blk.dense().matrix();
  const double largest = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram).eigenvalues().maxCoeff();
  CHECK(blk.norm_bound() >= largest * (1 - 1e-12));
  CHECK(blk.norm_bound() <= 40.0);  // ψ ≤ 1 entrywise
}

TEST_CASE_TEMPLATE("diagonal normal_matrix equals (k P)^T (k P)", K, diagonal_gaussian<double>, diagonal_imq<double>) {
  K kernel;
  kernel.profile.sigma = 0.9;
  const rmat<> x = test::standard_normal(60, 3, 25), y = test::standard_normal(12, 3, 26);
  const rmat<> p = test::standard_normal(12, 10, 27);
  const auto blk = kernel.make_block(x, y);
  const rmat<> phi = blk.dense().matrix() * p;
  const rmat<> expected = phi.transpose() * phi;
  const rmat<> got = blk.normal_matrix(p);
  CHECK((got - expected).norm() < 1e-13 * expected.norm());
  CHECK((got - got.transpose()).norm() == 0.0);
}

TEST_CASE_TEMPLATE("diagonal divergence_sum equals the explicit sum of -2 psi'(s)(x - y) to rounding", K,
                   diagonal_gaussian<double>, diagonal_imq<double>) {
  // The Gaussian's sum is taken from k alone (its ratio ψ'/ψ is a constant), the IMQ's from remade S.
  K kernel;
  kernel.profile.sigma = 1.3;
  const rmat<> x = test::standard_normal(70, 4, 28), y = test::standard_normal(50, 4, 29);
  rmat<> expected = rmat<>::Zero(70, 4);
  for (index_t i = 0; i < 70; ++i)
    for (index_t j = 0; j < 50; ++j)
      expected.row(i) += -2 * kernel.profile.template derivative<1>((x.row(i) - y.row(j)).squaredNorm()) *
                         (x.row(i) - y.row(j));
  CHECK((kernel.make_block(x, y).divergence_sum() - expected).norm() < 1e-13 * expected.norm());
}

TEST_CASE_TEMPLATE("diagonal block on its own samples: exactly symmetric, equal to the general block, same row bounds", K,
                   diagonal_gaussian<double>, diagonal_imq<double>) {
  // On X itself the block makes the blocks of k on and below the diagonal and mirrors them; 150 rows
  // are two full blocks of 64 and a ragged one of 22. The general path (a copy of X: other storage)
  // evaluates every entry itself.
  K kernel;
  kernel.profile.sigma = 1.1;
  const rmat<> x = test::standard_normal(150, 3, 31);
  const rmat<> copy = x;
  const auto own = kernel.make_block(x, x);
  const auto general = kernel.make_block(x, copy);
  const auto& k = own.dense();
  CHECK((k.matrix() - k.matrix().transpose()).cwiseAbs().maxCoeff() == 0.0);
  CHECK((k - general.dense()).abs().maxCoeff() <= 1e-15);
  for (const index_t i : {0, 63, 64, 149})
    for (const index_t j : {0, 1, 64, 127, 128, 149})
      CHECK(k(i, j) == doctest::Approx(kernel.profile.template derivative<0>((x.row(i) - x.row(j)).squaredNorm()))
                           .epsilon(1e-14));
  CHECK(own.norm_bound() == doctest::Approx(general.norm_bound()).epsilon(1e-14));
  CHECK(own.norm_bound() == doctest::Approx(k.abs().rowwise().sum().maxCoeff()).epsilon(1e-14));
}
