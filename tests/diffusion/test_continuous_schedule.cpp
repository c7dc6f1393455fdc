#include "scorelift/diffusion/continuous_schedule.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <numbers>

using namespace scorelift::diffusion;

namespace {
// Central difference of a function of t.
template <class F>
double derivative(F&& f, double t, double h = 1e-6) {
  return (f(t + h) - f(t - h)) / (2.0 * h);
}

template <class S>
void check_derivatives(const S& s, std::initializer_list<double> ts) {
  for (double t : ts) {
    CAPTURE(t);
    const double dla = derivative([&](double u) { return std::log(s.level(u).alpha); }, t);
    const double dl = derivative([&](double u) { return s.level(u).log_snr(); }, t);
    CHECK(s.d_log_alpha(t) == doctest::Approx(dla).epsilon(1e-6));
    CHECK(s.d_log_snr(t) == doctest::Approx(dl).epsilon(1e-6));
  }
}
}  // namespace

TEST_CASE("vp_linear_schedule: closed form of alpha, VP identity, derivatives by finite differences") {
  const vp_linear_schedule s;
  for (double t : {0.0, 0.1, 0.5, 1.0}) {
    const noise_level n = s.level(t);
    CHECK(n.alpha == doctest::Approx(std::exp(-0.25 * t * t * 19.9 - 0.05 * t)));
    CHECK(n.alpha * n.alpha + n.sigma * n.sigma == doctest::Approx(1.0).epsilon(1e-14));
  }
  CHECK(s.level(0.0).sigma == 0.0);
  check_derivatives(s, {0.01, 0.3, 0.9});
}

TEST_CASE("vp_cosine_schedule: the paper's eq. (30)-(31) up to the normalisation f(0)") {
  const vp_cosine_schedule s;
  const double u0 = std::numbers::pi / 2.0 * 0.008 / 1.008;
  for (double t : {0.0, 0.25, 0.5, 0.9}) {
    const double u = std::numbers::pi / 2.0 * (t + 0.008) / 1.008;
    const noise_level n = s.level(t);
    CHECK(n.alpha == doctest::Approx(std::cos(u) / std::cos(u0)).epsilon(1e-13));
    CHECK(n.alpha * n.alpha + n.sigma * n.sigma == doctest::Approx(1.0).epsilon(1e-14));
  }
  CHECK(s.level(0.0).alpha == 1.0);
  CHECK(s.level(0.0).sigma == 0.0);
  CHECK(s.level(1.0).alpha == 0.0);
  CHECK(s.level(1.0).log_snr() == -std::numeric_limits<double>::infinity());
  CHECK(s.d_log_alpha(1.0) == -std::numeric_limits<double>::infinity());
  check_derivatives(s, {0.05, 0.5, 0.95});
}

TEST_CASE("ve_schedule: geometric sigma, alpha = 1, log-SNR slope") {
  const ve_schedule s{0.01, 50.0};
  CHECK(s.level(0.0).sigma == doctest::Approx(0.01));
  CHECK(s.level(1.0).sigma == doctest::Approx(50.0));
  CHECK(s.level(0.5).sigma == doctest::Approx(std::sqrt(0.01 * 50.0)));
  CHECK(s.level(0.3).alpha == 1.0);
  check_derivatives(s, {0.2, 0.8});
}
