// The conformance kit (scorelift/testing/backend_conformance.hpp) on the LibTorch adapter (CPU), in
// double and float: the checks a user's adapter must pass, against the Eigen reference.
#include "torch_test_support.hpp"  // first: LibTorch's CHECK must not replace doctest's

#include <span>
#include <vector>

#include "scorelift/backends/torch.hpp"
#include "scorelift/testing/backend_conformance.hpp"

namespace {

template <class B>
struct torch_converter {
  torch::Tensor matrix(scorelift::index_t rows, scorelift::index_t cols, std::span<const double> values) const {
    const std::vector<double> copy(values.begin(), values.end());
    return torch::tensor(copy, scorelift::test::f64).reshape({rows, cols}).to(B::dtype());
  }
  std::vector<double> to_host(const torch::Tensor& m) const {
    const auto host = m.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
  }
};

}  // namespace

TEST_CASE_TEMPLATE("the LibTorch adapter passes the conformance kit", B, scorelift::torch_backend<double>,
                   scorelift::torch_backend<float>) {
  const auto report = scorelift::testing::check_backend<B>(torch_converter<B>{});
  INFO(report.summary());
  CHECK(report.passed());
  CHECK(report.skipped.empty());
}
