// Radial profiles: closed-form values, and each derivative against a central difference of the one below.
#include <doctest/doctest.h>

#include "scorelift/nonparametric/radial_profile.hpp"

using namespace scorelift::nonparametric;

namespace {

template <class Profile>
void check_derivative_chain(const Profile& p) {
  const double h = 1e-6;
  for (double s : {0.0, 0.3, 1.1, 4.0, 9.5}) {
    const double s0 = s + 2 * h;  // stay inside s ≥ 0
    const double d1 = (p.template derivative<0>(s0 + h) - p.template derivative<0>(s0 - h)) / (2 * h);
    const double d2 = (p.template derivative<1>(s0 + h) - p.template derivative<1>(s0 - h)) / (2 * h);
    const double d3 = (p.template derivative<2>(s0 + h) - p.template derivative<2>(s0 - h)) / (2 * h);
    CHECK(p.template derivative<1>(s0) == doctest::Approx(d1).epsilon(1e-6));
    CHECK(p.template derivative<2>(s0) == doctest::Approx(d2).epsilon(1e-6));
    CHECK(p.template derivative<3>(s0) == doctest::Approx(d3).epsilon(1e-6));
    // The elementwise (array) form is the scalar form.
    Eigen::ArrayXXd arr(1, 1);
    arr(0, 0) = s0;
    const Eigen::ArrayXXd third = p.template derivative<3>(arr);
    CHECK(third(0, 0) == doctest::Approx(p.template derivative<3>(s0)).epsilon(1e-14));
    // ratio<k> = ψ⁽ᵏ⁺¹⁾/ψ⁽ᵏ⁾, which the kernels use in place of further transcendental passes.
    const Eigen::ArrayXXd r0 = p.template ratio<0>(arr), r1 = p.template ratio<1>(arr), r2 = p.template ratio<2>(arr);
    CHECK(r0(0, 0) == doctest::Approx(p.template derivative<1>(s0) / p.template derivative<0>(s0)).epsilon(1e-13));
    CHECK(r1(0, 0) == doctest::Approx(p.template derivative<2>(s0) / p.template derivative<1>(s0)).epsilon(1e-13));
    CHECK(r2(0, 0) == doctest::Approx(p.template derivative<3>(s0) / p.template derivative<2>(s0)).epsilon(1e-13));
  }
}

}  // namespace

TEST_CASE("gaussian_profile: closed form and derivatives match finite differences") {
  const gaussian_profile<double> p{0.7};
  CHECK(p.derivative<0>(0.49) == doctest::Approx(std::exp(-0.5)));  // ψ(σ²) = e^(−1/2)
  CHECK(p.derivative<1>(0.0) == doctest::Approx(-1.0 / (2 * 0.49)));
  check_derivative_chain(p);
}

TEST_CASE("imq_profile: closed form and derivatives match finite differences for several powers") {
  const imq_profile<double> half{1.3, 0.5};
  CHECK(half.derivative<0>(1.69) == doctest::Approx(1.0 / std::sqrt(2.0)));  // (1 + 1)^(−1/2)
  check_derivative_chain(half);
  check_derivative_chain(imq_profile<double>{0.6, 1.5});
  check_derivative_chain(imq_profile<double>{2.0, 3.0});
}

TEST_CASE("profiles in float agree with double to single precision") {
  const gaussian_profile<float> pf{0.7f};
  const gaussian_profile<double> pd{0.7};
  CHECK(static_cast<double>(pf.derivative<2>(1.5f)) == doctest::Approx(pd.derivative<2>(1.5)).epsilon(1e-5));
  const imq_profile<float> qf{1.3f, 0.5f};
  const imq_profile<double> qd{1.3, 0.5};
  CHECK(static_cast<double>(qf.derivative<3>(0.8f)) == doctest::Approx(qd.derivative<3>(0.8)).epsilon(1e-5));
}
