// eigen_view cannot dangle: whatever an ordinary user passes (column-major matrices, expressions,
// blocks, Maps of user memory, temporaries) and however the view is then copied, assigned or sliced,
// the objectives read the right numbers. Under the sanitizer pass (ASan) a dangling read fails here.
// Each case compares against the same entries handed over as an owned row-major matrix: the same
// arithmetic on the same numbers, so the results must agree exactly.
#include <doctest/doctest.h>

#include <random>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/residual/score_estimate.hpp"

namespace {

using backend = scorelift::eigen_backend<double>;
using row_matrix = backend::matrix_type;
using view = backend::matrix_view;
using batch_type = scorelift::score_batch<backend>;

Eigen::MatrixXd random_column_major(Eigen::Index rows, Eigen::Index cols, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  return Eigen::MatrixXd::NullaryExpr(rows, cols, [&] { return normal(rng); });
}

/// The LDSE value and ∂/∂f of the reference: the same entries, owned and row-major.
scorelift::objective_result<backend> reference(const row_matrix& f, const row_matrix& t) {
  return scorelift::lifted_residual_loss(batch_type{.modes = {f}, .target = t});
}

void check_same(const scorelift::objective_result<backend>& got, const scorelift::objective_result<backend>& want) {
  CHECK(got.value == want.value);
  REQUIRE(got.grad_modes.size() == 1);
  CHECK(got.grad_modes[0] == want.grad_modes[0]);
  CHECK(*got.grad_target == *want.grad_target);
}

}  // namespace

TEST_CASE("the issue's call: column-major f and t kept in a score_batch") {
  const Eigen::MatrixXd f = random_column_major(6, 3, 1), t = random_column_major(6, 3, 2);
  const batch_type batch{.modes = {f}, .target = t};
  CHECK(batch.modes[0].owns_copy());  // converted once, and the copy in the vector shares it
  check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
}

TEST_CASE("expressions, column-major blocks and strided Maps are converted, row-major memory is read in place") {
  const Eigen::MatrixXd big = random_column_major(9, 5, 3);
  const row_matrix big_rows = big;
  const Eigen::MatrixXd f = big.topLeftCorner(7, 4), t = big.bottomRightCorner(7, 4);

  SUBCASE("expressions") {
    const batch_type batch{.modes = {f * 2.0}, .target = t - f};
    check_same(scorelift::lifted_residual_loss(batch), reference(f * 2.0, t - f));
  }
  SUBCASE("blocks of a column-major matrix") {
    const batch_type batch{.modes = {big.topLeftCorner(7, 4)}, .target = big.bottomRightCorner(7, 4)};
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
  }
  SUBCASE("named blocks of a row-major matrix: in place; blocks handed over as temporaries: copied") {
    const auto f_rows = big_rows.topLeftCorner(7, 4);
    const auto t_rows = big_rows.bottomRightCorner(7, 4);
    const batch_type batch{.modes = {f_rows}, .target = t_rows};
    CHECK_FALSE(batch.modes[0].owns_copy());
    CHECK(batch.modes[0].data() == big_rows.data());
    CHECK(batch.target->outerStride() == 5);
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
    // An rvalue block may be a block of a temporary (next test case), which no type tells apart.
    const batch_type inline_blocks{.modes = {big_rows.topLeftCorner(7, 4)}, .target = big_rows.bottomRightCorner(7, 4)};
    CHECK(inline_blocks.modes[0].owns_copy());
    check_same(scorelift::lifted_residual_loss(inline_blocks), reference(f, t));
    // A view's own slice stays in place.
    const view rows_view = big_rows;
    CHECK(rows_view.slice_rows(0, 7).data() == big_rows.data());
  }
  SUBCASE("Maps of user memory: row-major in place, column-major and strided converted") {
    std::vector<double> user_f(f.size()), user_t(t.size());
    Eigen::Map<row_matrix>(user_f.data(), 7, 4) = f;
    Eigen::Map<Eigen::MatrixXd>(user_t.data(), 7, 4) = t;
    const Eigen::Map<const row_matrix> f_rows(user_f.data(), 7, 4);
    const Eigen::Map<const Eigen::MatrixXd> t_columns(user_t.data(), 7, 4);
    const batch_type batch{.modes = {f_rows}, .target = t_columns};
    CHECK(batch.modes[0].data() == user_f.data());
    CHECK(batch.target->owns_copy());
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));

    // Every other column of a 7×8 row-major buffer: inner stride 2, known only at run time.
    std::vector<double> wide(7 * 8);
    for (Eigen::Index i = 0; i < 7; ++i)
      for (Eigen::Index j = 0; j < 4; ++j) wide[static_cast<std::size_t>(i * 8 + 2 * j)] = f(i, j);
    const Eigen::Map<const row_matrix, 0, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>> strided(
        wide.data(), 7, 4, Eigen::Stride<Eigen::Dynamic, Eigen::Dynamic>(8, 2));
    const view strided_view = strided;
    CHECK(strided_view.owns_copy());
    check_same(scorelift::lifted_residual_loss(batch_type{.modes = {strided}, .target = t}), reference(f, t));
  }
  SUBCASE("temporaries are kept alive by the view") {
    const auto make = [&](const Eigen::MatrixXd& m) { return row_matrix(m); };
    const batch_type batch{.modes = {make(f)}, .target = make(t)};
    CHECK(batch.modes[0].owns_copy());
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
  }
  SUBCASE("blocks and transposes of temporaries are evaluated before the temporary dies") {
    // Row-major storage with unit inner stride, so in-place reading was possible, and wrong: the
    // matrices they read are gone at the end of the full-expression (ASan reports the old behaviour).
    const auto make = [&](const Eigen::MatrixXd& m) { return row_matrix(m); };
    const auto make_transposed = [&](const Eigen::MatrixXd& m) { return Eigen::MatrixXd(m.transpose()); };
    const batch_type batch{.modes = {make(big).topLeftCorner(7, 4)}, .target = make_transposed(t).transpose()};
    CHECK(batch.modes[0].owns_copy());
    CHECK(batch.target->owns_copy());
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
  }
  SUBCASE("a view made from a Ref parameter outlives the Ref (and its private copy)") {
    // A Ref<const row-major> bound to column-major f reads a copy it owns; the view must not point there.
    const auto keep = [](const Eigen::Ref<const row_matrix>& r) { return view(r); };
    const view from_columns = keep(f);
    const view from_rows = keep(big_rows);
    CHECK(from_columns.owns_copy());
    CHECK(from_rows.owns_copy());  // the same type: a Ref does not say whether it copied
    const batch_type batch{.modes = {from_columns}, .target = keep(t)};
    check_same(scorelift::lifted_residual_loss(batch), reference(f, t));
    CHECK(from_rows == big_rows);
  }
}

TEST_CASE("copies, assignment and slices of a converted view outlive the view they came from") {
  const Eigen::MatrixXd f = random_column_major(8, 3, 4), t = random_column_major(8, 3, 5);
  batch_type batch;
  {
    const view converted = f * 1.0;  // owns the only copy
    batch.modes.push_back(converted);
  }  // `converted` is gone; the vector's copy keeps the storage
  batch.target = f;                  // engaged, then rebound below
  batch.target = t;                  // assignment rebinds the view; it does not write into f
  CHECK(batch.target->isApprox(t, 0.0));
  CHECK(batch.modes[0] == f);
  check_same(scorelift::lifted_residual_loss(batch), reference(f, t));

  view rows;
  {
    const view whole = t * 1.0;
    rows = whole.slice_rows(2, 6);
  }
  REQUIRE(rows.rows() == 4);
  CHECK(rows == t.middleRows(2, 4));
  CHECK_THROWS_WITH_AS(rows.slice_rows(3, 5), doctest::Contains("eigen_view::slice_rows: rows [3, 5) are outside [0, 4)"),
                       scorelift::invalid_argument);
  CHECK(backend::slice_rows(rows, 1, 3) == t.middleRows(3, 2));

  // score_estimate keeps its modes in a vector of views too.
  const std::vector<view> modes{f * 1.0, t * 1.0};
  const row_matrix sum = scorelift::score_estimate<backend>(modes, std::vector<double>{1.0, -1.0});
  CHECK(sum == row_matrix(f - t));
}
