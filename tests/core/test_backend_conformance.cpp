// The conformance kit (scorelift/testing/backend_conformance.hpp) on the project's own adapters —
// they must pass it as a user's adapter must — and on adapters with one planted mistake each, which
// it must catch and name.
#include <doctest/doctest.h>

#include <algorithm>
#include <span>
#include <string>
#include <vector>

#include "backends_under_test.hpp"
#include "scorelift/testing/backend_conformance.hpp"

namespace {

using scorelift::index_t;

/// The kit's converter over the test suite's host conversions (tests/backends_under_test.hpp).
template <class B>
struct test_converter {
  typename B::matrix_type matrix(index_t rows, index_t cols, std::span<const double> values) const {
    return scorelift::test::convert<B>::matrix(
        scorelift::test::host_matrix{rows, cols, std::vector<double>(values.begin(), values.end())});
  }
  std::vector<double> to_host(const typename B::matrix_type& m) const {
    return scorelift::test::convert<B>::host(m).values;
  }
};

/// The Eigen adapter's converter, with views of memory it lays out itself: each row padded by 3
/// unused entries and the view a block of it (outer stride cols + 3, read in place by eigen_view).
template <class S>
struct padded_eigen_converter : test_converter<scorelift::eigen_backend<S>> {
  using B = scorelift::eigen_backend<S>;
  scorelift::testing::view_of_user_memory<B> view(index_t rows, index_t cols, std::span<const double> values) const {
    auto padded = std::make_shared<typename B::matrix_type>(B::matrix_type::Constant(rows, cols + 3, S(-7)));
    for (index_t r = 0; r < rows; ++r)
      for (index_t c = 0; c < cols; ++c) (*padded)(r, c) = static_cast<S>(values[static_cast<std::size_t>(r * cols + c)]);
    typename B::matrix_view block = padded->leftCols(cols);
    return {padded, block};
  }
};

template <class B>
scorelift::testing::conformance_report run_kit() {
  return scorelift::testing::check_backend<B>(test_converter<B>{});
}

/// The kit on an Eigen-based adapter B with a planted mistake (its matrices are Eigen's).
template <class B>
scorelift::testing::conformance_report run_kit_with() {
  return scorelift::testing::check_backend<B>(test_converter<scorelift::eigen_backend<double>>{});
}

bool mentions(const scorelift::testing::conformance_report& report, const std::string& text) {
  return std::any_of(report.failures.begin(), report.failures.end(),
                     [&](const auto& f) { return f.check.find(text) != std::string::npos; });
}

/// axpby with its coefficients swapped: a·v + b·u.
struct swapped_axpby_backend : scorelift::eigen_backend<double> {
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    return scorelift::eigen_backend<double>::axpby(b, u, a, v);
  }
};

/// split_filled with the halves the wrong way round.
struct swapped_split_backend : scorelift::eigen_backend<double> {
  static vector_type split_filled(index_t n, index_t n_first, double first, double second, const matrix_view& like) {
    return scorelift::eigen_backend<double>::split_filled(n, n - n_first, second, first, like);
  }
};

/// all_finite that never looks (NaN passes through).
struct trusting_backend : scorelift::eigen_backend<double> {
  static bool all_finite(const matrix_view&) { return true; }
};

}  // namespace

TEST_CASE_TEMPLATE("the project's adapters pass the conformance kit", B, SCORELIFT_TEST_BACKENDS,
                   scorelift::eigen_backend<float>) {
  const auto report = run_kit<B>();
  INFO(report.summary());
  CHECK(report.passed());
  CHECK(report.checks > 150);
  CHECK(report.skipped.empty());  // every project adapter is a HostVectorBackend
}

TEST_CASE_TEMPLATE("the Eigen adapter passes the kit on strided views of padded user memory", S, double, float) {
  using B = scorelift::eigen_backend<S>;
  const auto plain = run_kit<B>();
  const auto strided = scorelift::testing::check_backend<B>(padded_eigen_converter<S>{});
  INFO(strided.summary());
  CHECK(strided.passed());
  // Two more comparisons (lifted and residual score matching) per objective scenario, each of several checks.
  CHECK(strided.checks > plain.checks + 14);
}

TEST_CASE("the kit runs on a Backend without host vectors, deriving vectors from split_filled and axpby") {
  struct device_only : scorelift::eigen_backend<double> {
    static void vector_from_host() = delete;
    static void vector_to_host() = delete;
  };
  static_assert(scorelift::Backend<device_only> && !scorelift::HostVectorBackend<device_only>);
  const auto report = scorelift::testing::check_backend<device_only>(test_converter<scorelift::eigen_backend<double>>{});
  INFO(report.summary());
  CHECK(report.passed());
  CHECK(report.skipped.size() == 2);  // sphere probes and per-noise-level signs
}

TEST_CASE("the kit names the operation an adapter gets wrong") {
  SUBCASE("axpby(a, u, b, v) with a and b swapped") {
    const auto report = run_kit_with<swapped_axpby_backend>();
    CHECK_FALSE(report.passed());
    CHECK(mentions(report, "axpby(a, u, b, v)"));
    CHECK(mentions(report, "lifted_residual_loss"));  // and the objectives it feeds
  }
  SUBCASE("split_filled with the halves swapped") {
    const auto report = run_kit_with<swapped_split_backend>();
    CHECK_FALSE(report.passed());
    CHECK(mentions(report, "split_filled(n, n_first = 3"));
  }
  SUBCASE("all_finite that lets NaN through") {
    const auto report = run_kit_with<trusting_backend>();
    CHECK_FALSE(report.passed());
    CHECK(mentions(report, "all_finite"));
    CHECK(mentions(report, "error: Inf in a mode"));
  }
}
