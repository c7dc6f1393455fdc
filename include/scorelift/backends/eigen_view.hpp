// scorelift/backends/eigen_view.hpp — the read-only matrix view of the Eigen adapter: a view that
// cannot dangle.
//
// Objectives keep the views they are given (score_batch stores them; kernel blocks keep their sample
// sets), so a view must stay valid when it is copied. `Eigen::Ref<const RowMatrix>` does not: built
// from a column-major matrix or an expression it converts into a copy it owns, and a *copy* of that
// Ref points into the original's copy (Eigen's copy constructor deliberately does not copy the owned
// object), which dies with the original — a use-after-free reachable by the most ordinary call, a
// `score_batch{.modes = {f}}` with an `Eigen::MatrixXd f`.
//
// `eigen_view<S>` is an `Eigen::Map` (every Eigen expression reads it in place) plus shared
// ownership of whatever it had to convert:
//   * row-major storage with unit inner stride (a row-major Matrix, a Map or Ref of one, a block of
//     rows, a row of a row-major matrix) is read in place, no copy — the caller keeps it alive, as
//     with any view;
//   * anything else (column-major storage, strided maps, expressions such as `f * 2`) is evaluated
//     once into a row-major matrix that every copy of the view shares;
//   * a temporary that owns its entries (a returned matrix) is moved or copied into that shared
//     storage, so `batch.target = make_target()` is safe too;
//   * any other temporary expression (a Block, Transpose or Ref handed over as an rvalue:
//     `make_target().topRows(k)`, `column_major.transpose()`) is evaluated into shared storage as
//     well: its operand may be a temporary that dies at the end of the full-expression, and a block of
//     a temporary cannot be told from a block of a living matrix. A temporary Map is read in place
//     (it points at memory its maker keeps). To read a block of a living matrix in place, name it
//     (`const auto rows = m.topRows(k);`) or slice a view (`eigen_view(m).slice_rows(0, k)`);
//   * an `Eigen::Ref<const …>` is always copied: built from column-major storage or an expression it
//     reads its own private copy, which dies with the Ref (a Ref parameter outlives no call).
// Assignment rebinds the view (like std::span); it never writes the viewed entries.
#pragma once

#include <Eigen/Core>
#include <concepts>
#include <memory>
#include <type_traits>
#include <utility>

#include "scorelift/errors.hpp"

namespace scorelift {

/// Row-major dynamic matrix, one sample per row: the owning type of the Eigen adapter.
template <class Scalar>
using eigen_row_matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace detail {

/// The shared copy a view converted its source into; null when the view reads the caller's memory.
/// A base rather than a member so that it is constructed before the Map base that points into it.
template <class Scalar>
struct eigen_view_owner {
  std::shared_ptr<const eigen_row_matrix<Scalar>> owned;
};

/// Whether `source` can be read in place as a row-major matrix: direct access, row-major storage,
/// unit inner stride (checked at run time when the stride is dynamic, e.g. Map<…, InnerStride<>>).
template <class Derived>
bool readable_in_place(const Eigen::DenseBase<Derived>& source) {
  if constexpr ((int(Derived::Flags) & Eigen::DirectAccessBit) != 0 && int(Derived::IsRowMajor) != 0) {
    return source.derived().innerStride() == 1;
  } else {
    return false;
  }
}

template <class T>
inline constexpr bool is_eigen_map = false;
template <class Plain, int Options, class Stride>
inline constexpr bool is_eigen_map<Eigen::Map<Plain, Options, Stride>> = true;

/// Ref<const …> may read a private copy of its source that dies with it (the copy is not visible
/// through its public interface), so a view never reads one in place.
template <class T>
inline constexpr bool is_const_eigen_ref = false;
template <class Plain, int Options, class Stride>
inline constexpr bool is_const_eigen_ref<Eigen::Ref<const Plain, Options, Stride>> = true;

}  // namespace detail

template <class Scalar>
class eigen_view final : private detail::eigen_view_owner<Scalar>,
                         public Eigen::Map<const eigen_row_matrix<Scalar>, Eigen::Unaligned, Eigen::OuterStride<>> {
  using owner_base = detail::eigen_view_owner<Scalar>;

 public:
  using matrix_type = eigen_row_matrix<Scalar>;
  using map_type = Eigen::Map<const matrix_type, Eigen::Unaligned, Eigen::OuterStride<>>;

  /// An empty 0×0 view.
  eigen_view() : eigen_view(parts{}) {}

  /// Any Eigen matrix, block, Map or expression of this scalar type that the caller keeps (an lvalue):
  /// read in place when its storage is row-major with unit inner stride, otherwise evaluated once into
  /// shared storage. (Temporaries and Ref<const …>: see the constructors below and the top.)
  /// A different scalar type is refused at compile time (cast it: `m.template cast<S>()`).
  template <class Derived>
    requires std::same_as<typename Derived::Scalar, Scalar>
  eigen_view(const Eigen::DenseBase<Derived>& source)  // NOLINT(google-explicit-constructor): a view, like Eigen::Ref
      : eigen_view(view_or_copy(source)) {}

  /// A temporary that owns its entries (a matrix returned by value, a moved local): the view takes
  /// it over, so it lives as long as the view. Lvalues take the constructor above (no copy).
  template <class Plain, class Owning = std::remove_cvref_t<Plain>>
    requires(!std::is_lvalue_reference_v<Plain> && std::derived_from<Owning, Eigen::PlainObjectBase<Owning>> &&
             std::same_as<typename Owning::Scalar, Scalar>)
  eigen_view(Plain&& temporary)  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
      : eigen_view(owning(std::make_shared<const matrix_type>(std::forward<Plain>(temporary)))) {}

  /// Any other temporary expression but a Map (a Block, Transpose, Ref, … handed over as an rvalue):
  /// evaluated into shared storage, since what it reads may be a temporary too (see the top).
  template <class Expr, class Bare = std::remove_cvref_t<Expr>>
    requires(!std::is_lvalue_reference_v<Expr> && std::derived_from<Bare, Eigen::DenseBase<Bare>> &&
             !std::derived_from<Bare, Eigen::PlainObjectBase<Bare>> && !detail::is_eigen_map<Bare> &&
             std::same_as<typename Bare::Scalar, Scalar>)
  eigen_view(Expr&& temporary)  // NOLINT(google-explicit-constructor,bugprone-forwarding-reference-overload)
      : eigen_view(owning(std::make_shared<const matrix_type>(temporary))) {}

  eigen_view(const eigen_view&) = default;  // shares the owned copy; no move: a moved-from view would dangle

  /// Rebinds to what `other` views. Map keeps its extents in const members, so the view is rebuilt in
  /// place: it is a complete object of a final class, transparently replaceable ([basic.life]/8), and
  /// the copy constructor cannot throw, so the view is never left destroyed.
  eigen_view& operator=(const eigen_view& other) noexcept {
    if (this != &other) {
      std::destroy_at(this);
      std::construct_at(this, other);
    }
    return *this;
  }

  ~eigen_view() = default;

  /// Rows [begin, end) as a view that shares this view's storage (a Block of the Map would not).
  eigen_view slice_rows(index_t begin, index_t end) const {
    detail::require_row_range(begin, end, this->rows(), "eigen_view::slice_rows");
    const Scalar* first = this->rows() == 0 ? this->data() : this->data() + begin * this->outerStride();
    return eigen_view(parts{this->owned, first, end - begin, this->cols(), this->outerStride()});
  }

  /// Whether the view holds its own converted copy (false: it reads the caller's memory in place).
  bool owns_copy() const { return this->owned != nullptr; }

 private:
  struct parts {
    std::shared_ptr<const matrix_type> owned;
    const Scalar* data = nullptr;
    index_t rows = 0, cols = 0, outer_stride = 0;
  };

  template <class Derived>
  static parts view_or_copy(const Eigen::DenseBase<Derived>& source) {
    if constexpr ((int(Derived::Flags) & Eigen::DirectAccessBit) != 0 && !detail::is_const_eigen_ref<Derived>) {
      if (detail::readable_in_place(source)) {
        const Derived& direct = source.derived();
        return {nullptr, direct.data(), direct.rows(), direct.cols(), direct.outerStride()};
      }
    }
    return owning(std::make_shared<const matrix_type>(source));
  }

  static parts owning(std::shared_ptr<const matrix_type> copy) {
    const Scalar* data = copy->data();
    const index_t rows = copy->rows(), cols = copy->cols();
    return {std::move(copy), data, rows, cols, cols};
  }

  explicit eigen_view(parts p)
      : owner_base{std::move(p.owned)}, map_type(p.data, p.rows, p.cols, Eigen::OuterStride<>(p.outer_stride)) {}
};

}  // namespace scorelift
