// Block-Krylov largest eigenpairs against Eigen's dense solver: matrices with a prescribed spectrum
// (exactly degenerate and nearly degenerate clusters, a cut-off inside a decaying tail), then SSGE fitted
// through both solvers on the same samples.
#include <doctest/doctest.h>

#include <Eigen/QR>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/largest_eigenpairs.hpp"
#include "scorelift/nonparametric/ssge.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using col = Eigen::MatrixXd;

namespace {

/// A = V diag(λ) Vᵀ with V a seeded random orthogonal matrix.
col with_spectrum(const Eigen::VectorXd& lambda, std::uint64_t seed) {
  const index_t n = lambda.size();
  const test::rmat<> g = test::standard_normal(n, n, seed);
  const col v = Eigen::HouseholderQR<col>(col(g)).householderQ();
  col a = v * lambda.asDiagonal() * v.transpose();
  return (a + a.transpose()) / 2;
}

/// ‖P_U − P_V‖ for the orthogonal projectors onto two column spans: sign- and rotation-free.
double projector_distance(const col& u, const col& v) { return (u * u.transpose() - v * v.transpose()).norm(); }

}  // namespace

TEST_CASE("krylov_eigenpairs matches the dense solver on clustered and degenerate spectra") {
  const index_t n = 300;
  Eigen::VectorXd lambda(n);
  // 10 | 6, 6, 6 (exact triple) | 3, 3 + 1e-9 (near pair) | 2 | a tail 1.5·0.9^k crossing the cut-off 0.1
  lambda.head(7) << 10, 6, 6, 6, 3, 3 + 1e-9, 2;
  for (index_t k = 7; k < n; ++k) lambda(k) = 1.5 * std::pow(0.9, static_cast<double>(k - 7));
  const col a = with_spectrum(lambda, 71);
  const auto wanted = [](const Eigen::VectorXd& mu) -> index_t { return (mu.array() >= 0.1 * mu(0)).count(); };

  const auto krylov = nonparametric::detail::krylov_eigenpairs<double>(a, wanted, 8, n, 1e-12);
  REQUIRE(krylov.has_value());
  const auto dense = nonparametric::detail::dense_eigenpairs<double>(a);
  REQUIRE(dense.has_value());
  const index_t j = wanted(dense->values);
  CHECK(j == 7 + 4);  // the tail 1.5·0.9^k stays ≥ 1 = 0.1·10 for k ≤ log(2/3)/log(0.9) = 3.85
  REQUIRE(krylov->values.size() == j);
  CHECK((krylov->values - dense->values.head(j)).cwiseAbs().maxCoeff() < 1e-10);
  // Separated eigenvalues: the same eigenvector up to sign.
  for (index_t k : {0, 6, 7, 10}) CHECK(std::abs(krylov->vectors.col(k).dot(dense->vectors.col(k))) > 1 - 1e-9);
  // Clusters: the same invariant subspace (individual vectors are arbitrary inside it).
  CHECK(projector_distance(krylov->vectors.middleCols(1, 3), dense->vectors.middleCols(1, 3)) < 1e-9);
  CHECK(projector_distance(krylov->vectors.middleCols(4, 2), dense->vectors.middleCols(4, 2)) < 1e-9);
  CHECK(projector_distance(krylov->vectors, dense->vectors.leftCols(j)) < 1e-9);
  // Orthonormal Ritz vectors and small residuals A u = μ u.
  CHECK((krylov->vectors.transpose() * krylov->vectors - col::Identity(j, j)).norm() < 1e-12);
  CHECK((a * krylov->vectors - krylov->vectors * krylov->values.asDiagonal()).colwise().norm().maxCoeff() < 1e-10);
}

TEST_CASE("krylov_eigenpairs: a fixed count, a rank-deficient matrix, and a basis too small") {
  const index_t n = 200;
  Eigen::VectorXd lambda = Eigen::VectorXd::Zero(n);
  lambda.head(5) << 4, 3, 2, 1, 0.5;  // rank 5: the Krylov space becomes invariant after one block
  const col a = with_spectrum(lambda, 72);
  const auto five = [](const Eigen::VectorXd&) -> index_t { return 5; };
  const auto top = nonparametric::detail::krylov_eigenpairs<double>(a, five, 8, n, 1e-12);
  REQUIRE(top.has_value());
  CHECK((top->values - lambda.head(5)).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((a * top->vectors - top->vectors * top->values.asDiagonal()).norm() < 1e-11);
  // A tail too slow to converge 40 pairs in a 16-column basis: nullopt (the caller falls back to dense).
  const auto forty = [](const Eigen::VectorXd&) -> index_t { return 40; };
  CHECK_FALSE(nonparametric::detail::krylov_eigenpairs<double>(with_spectrum(Eigen::VectorXd::LinSpaced(n, 1, 2), 73), forty, 8, 16,
                                                1e-12)
                  .has_value());
}

TEST_CASE("ssge_estimator: the Krylov and dense eigensolvers give the same fit") {
  const test::rmat<> x = test::standard_normal(400, 4, 74), q = test::standard_normal(50, 4, 75);
  const diagonal_gaussian<double> kernel{};  // median heuristic
  for (const auto cutoff : {spectral_cutoff<double>::threshold(0.01), spectral_cutoff<double>::threshold(0.002),
                            spectral_cutoff<double>::fraction(0.05)}) {
    ssge_estimator<diagonal_gaussian<double>> dense(kernel, cutoff, ssge_eigensolver::dense);
    ssge_estimator<diagonal_gaussian<double>> krylov(kernel, cutoff, ssge_eigensolver::krylov);
    ssge_estimator<diagonal_gaussian<double>> automatic(kernel, cutoff);
    dense.fit(x);
    krylov.fit(x);
    automatic.fit(x);
    CAPTURE(cutoff.value);
    CHECK(krylov.kept_eigenpairs() == dense.kept_eigenpairs());
    CHECK(automatic.kept_eigenpairs() == dense.kept_eigenpairs());
    CHECK(test::relative_error(krylov.score(q), dense.score(q)) < 1e-8);
    CHECK(test::relative_error(krylov.expansion().weights(), dense.expansion().weights()) < 1e-8);
    CHECK(test::relative_error(automatic.score(q), dense.score(q)) < 1e-8);
  }
}
