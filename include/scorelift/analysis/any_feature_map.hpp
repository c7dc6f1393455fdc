// scorelift/analysis/any_feature_map.hpp — a FeatureMap of any type behind one type, so that the
// levels of a residual stack can each have their own features (polynomials at level 1, bumps at level
// 2, ...) in one std::vector.
//
// The wrapped map is held by shared_ptr to const: copies of an any_feature_map share one immutable
// map, so a copy never dangles and never sees a change.
#pragma once

#include <Eigen/Core>
#include <memory>
#include <type_traits>
#include <utility>

#include "scorelift/analysis/feature_map.hpp"

namespace scorelift::analysis {

class any_feature_map {
 public:
  /// Wraps a copy of `phi` (any FeatureMap other than any_feature_map itself).
  template <class Phi>
    requires(!std::same_as<std::remove_cvref_t<Phi>, any_feature_map> && FeatureMap<std::remove_cvref_t<Phi>>)
  any_feature_map(Phi&& phi)  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
      : self_(std::make_shared<const model<std::remove_cvref_t<Phi>>>(std::forward<Phi>(phi))) {}

  [[nodiscard]] index_t input_dim() const { return self_->input_dim(); }
  [[nodiscard]] index_t feature_count() const { return self_->feature_count(); }
  [[nodiscard]] row_matrix features(const sample_view& x) const { return self_->features(x); }
  [[nodiscard]] Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const { return self_->jacobian(x); }

 private:
  struct concept_base {
    virtual ~concept_base() = default;
    virtual index_t input_dim() const = 0;
    virtual index_t feature_count() const = 0;
    virtual row_matrix features(const sample_view& x) const = 0;
    virtual Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const = 0;
  };
  template <class Phi>
  struct model final : concept_base {
    explicit model(Phi p) : phi(std::move(p)) {}
    index_t input_dim() const override { return phi.input_dim(); }
    index_t feature_count() const override { return phi.feature_count(); }
    row_matrix features(const sample_view& x) const override { return phi.features(x); }
    Eigen::MatrixXd jacobian(const Eigen::VectorXd& x) const override { return phi.jacobian(x); }
    Phi phi;
  };
  std::shared_ptr<const concept_base> self_;
};

static_assert(check_feature_map<any_feature_map>());

}  // namespace scorelift::analysis
