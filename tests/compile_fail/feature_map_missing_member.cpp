// A user feature map without jacobian(): check_feature_map must stop the build with a message that
// names the missing member (tests/CMakeLists.txt matches it). With SCORELIFT_POSITIVE_CONTROL the same
// type has the member and the file builds and runs.
#include <Eigen/Core>

#include "scorelift/analysis/feature_map.hpp"

struct user_features {
  scorelift::index_t input_dim() const { return 1; }
  scorelift::index_t feature_count() const { return 1; }
  scorelift::analysis::row_matrix features(const scorelift::analysis::sample_view& x) const { return x; }
#ifdef SCORELIFT_POSITIVE_CONTROL
  Eigen::MatrixXd jacobian(const Eigen::VectorXd& /*x*/) const { return Eigen::MatrixXd::Ones(1, 1); }
#endif
};

static_assert(scorelift::analysis::check_feature_map<user_features>());

int main() { return 0; }
