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

  // A fit that throws keeps the last one, J included: samples 100× as spread have a Gram matrix ≈ I
  // (μ_max ≈ 1 < τ), refused only once the spectrum is known, after J = 1 has been chosen from it.
  REQUIRE(between > 1.5);
  const rmat<> fitted_estimate = absolute.score(q);
  CHECK_THROWS_WITH_AS(absolute.fit(rmat<>(100 * x)), doctest::Contains("is above the largest eigenvalue"),
                       scorelift::invalid_argument);
  CHECK(absolute.kept_eigenpairs() == 6);
  CHECK(absolute.score(q) == fitted_estimate);

  CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::absolute(2 * mu(0))).fit(x),
                       doctest::Contains("is above the largest eigenvalue"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::absolute(-1.0)).fit(x),
                       doctest::Contains("absolute threshold tau = -1"), scorelift::invalid_argument);
  for (index_t bad : {index_t(0), index_t(41)})
    CHECK_THROWS_WITH_AS(ssge_estimator<diagonal_gaussian<double>>(kernel, spectral_cutoff<double>::exactly(bad)).fit(x),
                         doctest::Contains("kept count J = "), scorelift::invalid_argument);
}

TEST_CASE("ssge with a curl-free kernel equals the literal construction with vector-valued Nystrom eigenfunctions") {
  // K is the ND×ND Gram matrix of K(x, y) = −∇∇ᵀφ(x − y), written from kernel.value pair by pair;
  // ψⱼ(x) = (√N/μⱼ) Σₘ K(x, xₘ) uⱼₘ ∈ R^D, βⱼ = −(1/N) Σₘ div ψⱼ(xₘ) by central differences,
  // ŝ = Σⱼ βⱼ ψⱼ. J = 7 of N·D = 24.
  const index_t n = 12, d = 2, kept = 7;
  const rmat<> x = test::standard_normal(n, d, 64), q = test::standard_normal(4, d, 65);
  const curl_free_imq<double> kernel{{1.2}};
  Eigen::MatrixXd gram(n * d, n * d);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) gram.block(i * d, j * d, d, d) = kernel.value(x.row(i), x.row(j));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
  const auto psi = [&](index_t j, const rmat<>& p) -> rmat<> {  // the j-th largest, as a 1×D row
    const index_t col = n * d - 1 - j;
    rmat<> total = rmat<>::Zero(1, d);
    for (index_t m = 0; m < n; ++m)
      total += (kernel.value(p, x.row(m)) * eig.eigenvectors().col(col).segment(m * d, d)).transpose();
    return std::sqrt(static_cast<double>(n)) / eig.eigenvalues()(col) * total;
  };
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(kept);
  for (index_t j = 0; j < kept; ++j)
    for (index_t m = 0; m < n; ++m)
      beta(j) -= test::fd_field_divergence([&](const rmat<>& p) { return psi(j, p); }, x.row(m)) / n;
  rmat<> expected = rmat<>::Zero(q.rows(), d);
  for (index_t i = 0; i < q.rows(); ++i)
    for (index_t j = 0; j < kept; ++j) expected.row(i) += beta(j) * psi(j, q.row(i));

  ssge_estimator<curl_free_imq<double>> estimator(kernel, spectral_cutoff<double>::exactly(kept));
  estimator.fit(x);
  CHECK(estimator.kept_eigenpairs() == kept);
  CHECK(test::relative_error(estimator.score(q), expected) < 1e-7);
  // kept fraction and thresholds count among the N·D eigenvalues: ⌈0.25·24⌉ = 6, and τ between μ₉ and μ₁₀.
  ssge_estimator<curl_free_imq<double>> by_fraction(kernel, spectral_cutoff<double>::fraction(0.25));
  CHECK(by_fraction.fit(x).kept_eigenpairs() == 6);
  const Eigen::VectorXd mu = eig.eigenvalues().reverse();
  ssge_estimator<curl_free_imq<double>> by_threshold(kernel, spectral_cutoff<double>::absolute(std::sqrt(mu(8) * mu(9))));
  CHECK(by_threshold.fit(x).kept_eigenpairs() == 9);
  ssge_estimator<curl_free_imq<double>> all(kernel, spectral_cutoff<double>::exactly(n * d));
  CHECK(all.fit(x).kept_eigenpairs() == n * d);
  CHECK_THROWS_WITH_AS(ssge_estimator<curl_free_imq<double>>(kernel, spectral_cutoff<double>::exactly(n * d + 1)).fit(x),
                       doctest::Contains("kept count J = 25 but must lie in [1, N·D] with N·D = 24"),
                       scorelift::invalid_argument);
}

TEST_CASE("ssge curl-free: Krylov (N·D = 320) agrees with the dense eigensolver, and the energy's gradient is the score") {
  const rmat<> x = test::standard_normal(40, 8, 66), q = test::standard_normal(3, 8, 67);
  const curl_free_gaussian<double> kernel{{3.0}};
  const auto cutoff = spectral_cutoff<double>::threshold(0.05);
  ssge_estimator<curl_free_gaussian<double>> krylov(kernel, cutoff, ssge_eigensolver::krylov);
  ssge_estimator<curl_free_gaussian<double>> dense(kernel, cutoff, ssge_eigensolver::dense);
  krylov.fit(x);
  dense.fit(x);
  REQUIRE(krylov.kept_eigenpairs() == dense.kept_eigenpairs());
  CHECK(dense.kept_eigenpairs() > 8);
  CHECK(test::relative_error(krylov.score(q), dense.score(q)) < 1e-8);
  for (index_t i = 0; i < q.rows(); ++i)
    for (index_t a = 0; a < 8; ++a) {
      const rmat<> p = q.row(i);
      CHECK(test::central_difference([&](const rmat<>& y) { return dense.energy(y)(0); }, p, a) ==
            doctest::Approx(dense.score(p)(0, a)).epsilon(1e-6));
    }
}
