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
