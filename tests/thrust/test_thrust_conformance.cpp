// The conformance kit (scorelift/testing/backend_conformance.hpp) on the Thrust adapter, in double
// and float: the checks a user's adapter must pass, against the Eigen reference.
#include <doctest/doctest.h>

#include <span>
#include <vector>

#include "scorelift/testing/backend_conformance.hpp"
#include "thrust/thrust_convert.hpp"

namespace {

template <class B>
struct thrust_converter {
  typename B::matrix_type matrix(scorelift::index_t rows, scorelift::index_t cols, std::span<const double> values) const {
    return scorelift::test::convert<B>::matrix(
        scorelift::test::host_matrix{rows, cols, std::vector<double>(values.begin(), values.end())});
  }
  std::vector<double> to_host(const typename B::matrix_type& m) const { return scorelift::test::convert<B>::host(m).values; }
};

}  // namespace

TEST_CASE_TEMPLATE("the Thrust adapter passes the conformance kit", B, scorelift::thrust_backend<double>,
                   scorelift::thrust_backend<float>) {
  const auto report = scorelift::testing::check_backend<B>(thrust_converter<B>{});
  INFO(report.summary());
  CHECK(report.passed());
  CHECK(report.skipped.empty());
}
