// Curl-free kernels −∇∇ᵀφ: the value against a finite-difference Hessian of φ, the matrix-free
// product against explicit D×D blocks, the divergence sum against finite differences of the kernel,
// the energy potentials against finite differences of φ, and the Gershgorin bound.
#include <doctest/doctest.h>

#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/curl_free_kernel.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

namespace {

/// ∇_r φ(r) at r = x − y by central differences in x.
template <class K>
rmat<double> fd_potential_gradient(const K& kernel, const rmat<double>& x, const rmat<double>& y, double h = 1e-5) {
  rmat<double> g(1, x.cols());
  for (index_t a = 0; a < x.cols(); ++a)
    g(0, a) = test::central_difference([&](const rmat<double>& p) { return kernel.potential(p, y); }, x, a, h);
  return g;
}

template <class K>
K make(double sigma) {
  K kernel;
  kernel.profile.sigma = sigma;
  return kernel;
}

}  // namespace

TEST_CASE_TEMPLATE("curl-free kernel value is minus the finite-difference Hessian of phi", K, curl_free_gaussian<double>,
                   curl_free_imq<double>) {
  const K kernel = make<K>(1.1);
  const rmat<> x = test::standard_normal(1, 3, 31), y = test::standard_normal(1, 3, 32);
  const double h = 1e-4;
  rmat<> hessian(3, 3);
  for (index_t b = 0; b < 3; ++b) {
    rmat<> plus = x, minus = x;
    plus(0, b) += h;
    minus(0, b) -= h;
    hessian.col(b) = ((fd_potential_gradient(kernel, plus, y) - fd_potential_gradient(kernel, minus, y)) / (2 * h)).transpose();
  }
  const rmat<> value = kernel.value(x, y);
  CHECK((value + hessian).norm() < 1e-5 * value.norm());
  CHECK((value - value.transpose()).norm() < 1e-15);
  // Positive definite at r = 0: K(x, x) = −2ψ'(0) I.
  CHECK(kernel.value(x, x)(1, 1) == doctest::Approx(-2 * kernel.profile.template derivative<1>(0.0)));
}

TEST_CASE_TEMPLATE("curl-free block: product, dense matrix, divergence and potentials against references", K,
                   curl_free_gaussian<double>, curl_free_imq<double>) {
  const K kernel = make<K>(0.9);
  const rmat<> x = test::standard_normal(5, 3, 33), y = test::standard_normal(4, 3, 34);
  const rmat<> w = test::standard_normal(4, 3, 35);
  const auto blk = kernel.make_block(x, y);

  CHECK((blk.apply(w) - test::naive_apply(kernel, x, y, w)).norm() < 1e-12);
  const rmat<> dense = blk.dense();
  CHECK(dense.rows() == 15);
  CHECK((dense.block(3, 6, 3, 3) - kernel.value(x.row(1), y.row(2))).norm() < 1e-14);
  const Eigen::Map<const Eigen::VectorXd> w_flat(w.data(), w.size());
  const Eigen::VectorXd product = dense * w_flat;
  CHECK((Eigen::Map<const Eigen::VectorXd>(blk.apply(w).data(), 15) - product).norm() < 1e-12);

  rmat<> divergence = rmat<>::Zero(5, 3);
  Eigen::VectorXd laplacian = Eigen::VectorXd::Zero(5), potential = Eigen::VectorXd::Zero(5);
  for (index_t i = 0; i < 5; ++i) {
    for (index_t j = 0; j < 4; ++j) {
      divergence.row(i) += test::fd_divergence(kernel, x.row(i), y.row(j));
      // Δφ = tr ∇∇ᵀφ = −tr K.
      laplacian(i) -= kernel.value(x.row(i), y.row(j)).trace();
      potential(i) += fd_potential_gradient(kernel, x.row(i), y.row(j)).row(0).dot(w.row(j));
    }
  }
  CHECK((blk.divergence_sum() - divergence).norm() < 1e-6 * (1 + divergence.norm()));
  CHECK((blk.laplacian_sum() - laplacian).norm() < 1e-12 * (1 + laplacian.norm()));
  CHECK((blk.potential_apply(w) - potential).norm() < 1e-8 * (1 + potential.norm()));
}

TEST_CASE_TEMPLATE("curl-free norm_bound bounds the ND x ND Gram matrix's largest eigenvalue", K,
                   curl_free_gaussian<double>, curl_free_imq<double>) {
  const K kernel = make<K>(0.7);
  const rmat<> x = test::standard_normal(30, 3, 36);
  const auto blk = kernel.make_block(x, x);
  const Eigen::MatrixXd gram = blk.dense();
  const Eigen::VectorXd eigenvalues = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram).eigenvalues();
  CHECK(eigenvalues.minCoeff() > -1e-10);  // positive semidefinite
  CHECK(blk.norm_bound() >= eigenvalues.maxCoeff() * (1 - 1e-12));
}

TEST_CASE_TEMPLATE("curl-free normal_matrix equals (K_XY P)^T (K_XY P) from the dense ND x MD block", K,
                   curl_free_gaussian<double>, curl_free_imq<double>) {
  const K kernel = make<K>(1.1);
  // N = 300 spans two of normal_matrix's chunks of 256 samples; P is not square (r < MD).
  for (const index_t n : {60, 300}) {
    const rmat<> x = test::standard_normal(n, 3, 37), y = test::standard_normal(12, 3, 38);
    const rmat<> p = test::standard_normal(36, 30, 39);
    const auto blk = kernel.make_block(x, y);
    const rmat<> phi = blk.dense() * p;
    const rmat<> expected = phi.transpose() * phi;
    const rmat<> got = blk.normal_matrix(p);
    CHECK((got - expected).norm() < 1e-13 * expected.norm());
    CHECK((got - got.transpose()).norm() == 0.0);
  }
}
