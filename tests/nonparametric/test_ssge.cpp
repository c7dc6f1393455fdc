// SSGE: against Shi et al.'s construction written out literally — Nyström eigenfunctions ψⱼ, their
// gradients at the samples by finite differences, βⱼ = −(1/N) Σₘ ∇ψⱼ(xₘ), ŝ = Σⱼ βⱼ ψⱼ — and the
// two cut-off rules.
#include <doctest/doctest.h>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include "np_test_support.hpp"
#include "scorelift/nonparametric/ssge.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

TEST_CASE("ssge_estimator equals the literal Nystrom-eigenfunction construction") {
  const index_t n = 25, d = 2, kept = 6;
  const rmat<> x = test::standard_normal(n, d, 61), q = test::standard_normal(4, d, 62);
  const double sigma = 1.0;
  const auto k = [&](const rmat<>& a, const rmat<>& b) { return std::exp(-(a - b).squaredNorm() / (2 * sigma * sigma)); };
  Eigen::MatrixXd gram(n, n);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) gram(i, j) = k(x.row(i), x.row(j));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const auto psi = [&](index_t j, const rmat<>& p) {  // ψⱼ(x) = (√N/μⱼ) Σₘ uⱼₘ k(x, xₘ), j-th largest
    const index_t col = n - 1 - j;
    double total = 0;
    for (index_t m = 0; m < n; ++m) total += eig.eigenvectors()(m, col) * k(p, x.row(m));
    return std::sqrt(static_cast<double>(n)) / eig.eigenvalues()(col) * total;
  };
  rmat<> beta = rmat<>::Zero(kept, d);
  for (index_t j = 0; j < kept; ++j)
    for (index_t m = 0; m < n; ++m)
      for (index_t a = 0; a < d; ++a)
        beta(j, a) -= test::central_difference([&](const rmat<>& p) { return psi(j, p); }, x.row(m), a) / n;
  rmat<> expected = rmat<>::Zero(q.rows(), d);
  for (index_t i = 0; i < q.rows(); ++i)
    for (index_t j = 0; j < kept; ++j) expected.row(i) += beta.row(j) * psi(j, q.row(i));

  ssge_estimator<diagonal_gaussian<double>> estimator({{sigma}}, spectral_cutoff<double>::fraction(kept / 25.0));
  estimator.fit(x);
  CHECK(estimator.kept_eigenpairs() == kept);
  CHECK(test::relative_error(estimator.score(q), expected) < 1e-7);
}

TEST_CASE("ssge cut-off rules: threshold keeps eigenvalues above tau * max, keeping all is unregularised Tikhonov") {
  const rmat<> x = test::standard_normal(30, 2, 63);
  const diagonal_gaussian<double> kernel{{0.5}};
  ssge_estimator<diagonal_gaussian<double>> by_threshold(kernel, spectral_cutoff<double>::threshold(0.05));
  by_threshold.fit(x);
  const Eigen::MatrixXd gram = kernel.make_block(x, x).dense().matrix();
  const Eigen::VectorXd mu = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram).eigenvalues();
  CHECK(by_threshold.kept_eigenpairs() == (mu.array() >= 0.05 * mu.maxCoeff()).count());

  // All N eigenpairs: at the samples ŝ = N K⁻¹ ζ̂(X), the λ → 0 limit of Tikhonov.
  ssge_estimator<diagonal_gaussian<double>> all(kernel, spectral_cutoff<double>::fraction(1.0));
  const rmat<> unregularised = 30.0 * gram.ldlt().solve(test::fd_zeta(kernel, x, x));
  CHECK(test::relative_error(all.fit(x).score(x), unregularised) < 1e-6);
}

TEST_CASE_TEMPLATE("ssge kept fraction keeps ceil(f N) eigenpairs of the fraction as written", S, double, float) {
  // 0.07 · 100 is 7.000000000000001 in double: a plain ceil keeps 8. Boundaries: a whole product keeps
  // exactly that many, anything above it one more.
  const rmat<S> x = test::standard_normal<S>(100, 2, 71);
  const auto kept = [&](S f) {
    ssge_estimator<diagonal_gaussian<S>> estimator({{S(0.1)}}, spectral_cutoff<S>::fraction(f));  // narrow: K ≈ I, every pair kept is well conditioned
    estimator.fit(x);
    return estimator.kept_eigenpairs();
  };
  CHECK(kept(S(0.07)) == 7);
  CHECK(kept(S(0.071)) == 8);
  CHECK(kept(S(0.5)) == 50);
  CHECK(kept(S(0.29)) == 29);
  CHECK(kept(S(0.001)) == 1);  // clamped to at least one
  CHECK(kept(S(1)) == 100);
}

TEST_CASE("ssge absolute threshold and an exact count keep the eigenpairs they name") {
  // The Gram matrix's own spectrum decides: an absolute threshold between μ₆ and μ₇ keeps 6, as does
  // exactly(6), and both give the estimator of the relative threshold that keeps the same 6.
  const rmat<> x = test::standard_normal(40, 2, 81), q = test::standard_normal(5, 2, 82);
  const diagonal_gaussian<double> kernel{{0.8}};
  Eigen::MatrixXd gram(40, 40);
  for (index_t i = 0; i < 40; ++i)
    for (index_t j = 0; j < 40; ++j) gram(i, j) = std::exp(-(x.row(i) - x.row(j)).squaredNorm() / (2 * 0.8 * 0.8));
  const Eigen::VectorXd mu = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(gram).eigenvalues().reverse();  // descending
  const double between = std::sqrt(mu(5) * mu(6));  // geometric mean of μ₆ and μ₇

  ssge_estimator<diagonal_gaussian<double>> absolute(kernel, spectral_cutoff<double>::absolute(between));
  ssge_estimator<diagonal_gaussian<double>> exactly(kernel, spectral_cutoff<double>::exactly(6));
  ssge_estimator<diagonal_gaussian<double>> relative(kernel, spectral_cutoff<double>::threshold(between / mu(0)));
  absolute.fit(x);
  exactly.fit(x);
  relative.fit(x);
  CHECK(absolute.kept_eigenpairs() == 6);
  CHECK(exactly.kept_eigenpairs() == 6);
  REQUIRE(relative.kept_eigenpairs() == 6);
  const rmat<> reference = relative.score(q);
  CHECK((absolute.score(q) - reference).norm() <= 1e-10 * reference.norm());
  CHECK((exactly.score(q) - reference).norm() <= 1e-10 * reference.norm());

  CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::absolute(2 * mu(0))).fit(x),
                       doctest::Contains("is above the largest eigenvalue"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::absolute(-1.0)).fit(x),
                       doctest::Contains("absolute threshold tau = -1"), scorelift::invalid_argument);
  for (index_t bad : {index_t(0), index_t(41)})
    CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::exactly(bad)).fit(x),
                         doctest::Contains("kept count J = "), scorelift::invalid_argument);
}
