// Accuracy of every estimator on problems with a known score, N = 256 samples, fixed seeds, scored on
// 256 fresh draws (out of sample, through each estimator's extension):
//  * N(0, I_D), s(x) = −x, D = 2 and 10: relative RMS error and mean cosine against bounds;
//  * ½N(μ, I) + ½N(−μ, I) in D = 2: mean squared error against the zero estimator's, E‖s‖².
// Bounds are the values measured with these seeds (printed by the test) plus a margin of 0.05 on the
// relative error and 0.03 on the cosine (0.05 on the MSE ratio): loose enough for rounding and BLAS
// differences, tight enough that a wrong sign, factor or bandwidth fails them.
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "np_test_support.hpp"
#include "scorelift/nonparametric.hpp"

using namespace scorelift;
using namespace scorelift::nonparametric;
using test::rmat;

namespace {

using fit_and_score = std::function<rmat<>(const rmat<>& samples, const rmat<>& queries)>;

template <class Estimator>
fit_and_score run(Estimator estimator) {
  return [estimator](const rmat<>& samples, const rmat<>& queries) mutable {
    return rmat<>(estimator.fit(samples).score(queries));
  };
}

struct gaussian_case {
  std::string name;
  fit_and_score estimator;
  double max_relative_error_d2, min_cosine_d2, max_relative_error_d10, min_cosine_d10;
  double max_mixture_mse_ratio;  ///< MSE / MSE(zero estimator) on the mixture
};

std::vector<gaussian_case> gaussian_cases() {
  using cg = tikhonov_options<double>;
  return {
      {"stein (eta = 1)", run(stein_gradient_estimator<>()), 0.28, 0.93, 0.29, 0.95, 0.16},
      {"ssge (tau = 0.01)", run(ssge_estimator<>()), 0.36, 0.94, 0.28, 0.95, 0.14},
      {"tikhonov diagonal Gaussian", run(tikhonov_estimator<diagonal_gaussian<>>()), 0.31, 0.94, 0.36, 0.96, 0.23},
      {"tikhonov diagonal IMQ", run(tikhonov_estimator<diagonal_imq<>>()), 0.35, 0.92, 0.46, 0.96, 0.21},
      {"tikhonov curl-free Gaussian CG (lambda = 1e-3)",
       run(tikhonov_estimator<curl_free_gaussian<>>({}, cg{.lambda = 1e-3, .solver = tikhonov_solver::conjugate_gradient})),
       0.33, 0.89, 0.27, 0.95, 0.14},
      {"tikhonov curl-free IMQ CG", run(tikhonov_estimator<curl_free_imq<>>({}, cg{.solver = tikhonov_solver::conjugate_gradient})),
       0.52, 0.86, 0.56, 0.96, 0.30},
      {"tikhonov Nystrom M = 64 (lambda = 1e-3)", run(tikhonov_estimator<diagonal_gaussian<>>({}, cg{.lambda = 1e-3, .nystrom_centres = 64})),
       0.30, 0.90, 0.36, 0.94, 0.14},
      {"landweber curl-free IMQ (T = 10)", run(landweber_estimator<curl_free_imq<>>()), 0.49, 0.87, 0.33, 0.95, 0.17},
      {"nu-method diagonal Gaussian (T = 10)", run(nu_method_estimator<diagonal_gaussian<>>()), 0.31, 0.93, 0.24, 0.96, 0.21},
  };
}

}  // namespace

TEST_CASE("accuracy on N(0, I): relative error and cosine to the true score -x, D = 2 and D = 10") {
  for (const auto& c : gaussian_cases()) {
    for (index_t d : {2, 10}) {
      const rmat<> samples = test::standard_normal(256, d, 1), queries = test::standard_normal(256, d, 2);
      const rmat<> estimate = c.estimator(samples, queries);
      const rmat<> truth = -queries;
      const double error = test::relative_error(estimate, truth), cosine = test::mean_cosine(estimate, truth);
      MESSAGE(c.name << ", D = " << d << ": relative error " << error << ", mean cosine " << cosine);
      CHECK(error < (d == 2 ? c.max_relative_error_d2 : c.max_relative_error_d10));
      CHECK(cosine > (d == 2 ? c.min_cosine_d2 : c.min_cosine_d10));
    }
  }
}

TEST_CASE("accuracy in float: the nu-method and Tikhonov reach the double-precision accuracy") {
  const rmat<> samples = test::standard_normal(256, 10, 1), queries = test::standard_normal(256, 10, 2);
  const rmat<float> sf = samples.cast<float>(), qf = queries.cast<float>();
  nu_method_estimator<diagonal_gaussian<float>> nu;
  tikhonov_estimator<curl_free_gaussian<float>> tikhonov({}, {.lambda = 1e-3f, .solver = tikhonov_solver::conjugate_gradient, .tolerance = 1e-5f});
  const double nu_error = test::relative_error(nu.fit(sf).score(qf).cast<double>(), -queries);
  const double tikhonov_error = test::relative_error(tikhonov.fit(sf).score(qf).cast<double>(), -queries);
  MESSAGE("float: nu-method relative error " << nu_error << ", curl-free Tikhonov CG " << tikhonov_error);
  CHECK(nu_error < 0.24);
  CHECK(tikhonov_error < 0.27);
}

TEST_CASE("two-component Gaussian mixture: every estimator beats the zero estimator by at least 70%") {
  // p = ½N(μ, I) + ½N(−μ, I), μ = (2, 0): s(x) = Σₖ rₖ(x)(μₖ − x), rₖ the posterior responsibilities.
  const index_t n = 256, d = 2;
  const auto draw = [&](std::uint64_t seed) {
    rmat<> x = test::standard_normal(n, d, seed);
    for (index_t i = 0; i < n; ++i) x(i, 0) += (i % 2 == 0) ? 2.0 : -2.0;
    return x;
  };
  const rmat<> samples = draw(3), queries = draw(4);
  rmat<> truth(n, d);
  for (index_t i = 0; i < n; ++i) {
    const double r_plus = 1 / (1 + std::exp(-4 * queries(i, 0)));  // exp(−‖x−μ‖²/2) / Σ
    rmat<> mean_shift(1, d);
    mean_shift << 2 * r_plus - 2 * (1 - r_plus), 0;
    truth.row(i) = mean_shift - queries.row(i);
  }
  const double zero_mse = truth.squaredNorm();
  for (const auto& c : gaussian_cases()) {
    const double ratio = (c.estimator(samples, queries) - truth).squaredNorm() / zero_mse;
    MESSAGE(c.name << ": MSE / MSE(zero estimator) = " << ratio);
    CHECK(ratio < c.max_mixture_mse_ratio);
  }
}
