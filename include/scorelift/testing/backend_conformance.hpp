// scorelift/testing/backend_conformance.hpp — the conformance kit: runs the library's own objective,
// probe and sign-tracker computations on any Backend adapter and compares them with the Eigen
// reference (eigen_backend<double>) on the same host data.
//
// The Backend concept checks signatures; this checks values. A new adapter passes when
//   * each operation of the concept computes what its comment in concepts.hpp says (row_dot, sum,
//     filled, split_filled(n, n_first, first, second, like), axpby(a, u, b, v) = a·u + b·v,
//     scaled_rows, add_scaled_rows, zeros_like, all_finite, the probe draws), on views and on
//     owning matrices, and views survive copies and reassignment;
//   * lifted_residual_loss (LSE and LDSE, L = 1…3, odd and even batches, weights, signs, the
//     distance form, ÷D²) and residual_score_matching_loss return the reference's value, level
//     values, alignments and every gradient; per_sample_residual_alignment and score_estimate too;
//   * a sign_tracker fed by the adapter keeps the reference's state; probes have the right law
//     (±1, N(0, 1), radius √D) and sliced score matching the reference's value and gradients;
//   * bad input is refused with scorelift::invalid_argument and the library's message (shapes,
//     NaN/Inf in modes, target and weights, B < 2 for lifted losses, target and divergence both
//     given, overflow).
// Usage (no test framework needed; see examples/custom_backend):
//     struct my_converter {
//       my_backend::matrix_type matrix(index_t rows, index_t cols, std::span<const double> row_major) const;
//       std::vector<double> to_host(const my_backend::matrix_type& m) const;  // row-major
//     };
//     const auto report = scorelift::testing::check_backend<my_backend>(my_converter{});
//     if (!report.passed()) std::cerr << report.summary();
// The converter is the one thing the kit cannot derive: how a host matrix reaches the adapter and
// back. A converter may also offer `view_of_user_memory<B> view(rows, cols, row_major)` — the adapter's
// view of memory the converter lays out (padded rows, a block): the objective scenarios then run again
// on such views (view_converter below). Per-sample vectors are built with the adapter's own operations (vector_from_host where the
// adapter is a HostVectorBackend, otherwise from split_filled and axpby, exactly).
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/score_batch.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"
#include "scorelift/probes.hpp"
#include "scorelift/residual/score_estimate.hpp"
#include "scorelift/residual/sign_tracker.hpp"

namespace scorelift::testing {

/// How host matrices reach adapter B and come back: matrix(rows, cols, row_major_values) and
/// to_host(matrix) -> row-major values.
template <class C, class B>
concept matrix_converter =
    Backend<B> && requires(const C& convert, index_t n, std::span<const double> values, const typename B::matrix_type& m) {
      { convert.matrix(n, n, values) } -> std::same_as<typename B::matrix_type>;
      { convert.to_host(m) } -> std::same_as<std::vector<double>>;
    };

/// A view of memory laid out by the converter itself (padded rows, a block of a larger buffer: what
/// a user's own memory looks like), and whatever keeps that memory alive.
template <Backend B>
struct view_of_user_memory {
  std::shared_ptr<const void> owner;
  typename B::matrix_view view;
};

/// Optional: a converter that can also hand the adapter such views (`view(rows, cols, row_major)`).
/// The kit then runs every objective scenario a second time on them ("strided views").
template <class C, class B>
concept view_converter = matrix_converter<C, B> && requires(const C& convert, index_t n, std::span<const double> values) {
  { convert.view(n, n, values) } -> std::same_as<view_of_user_memory<B>>;
};

/// One mismatch: which check, and what differs (the first differing entry, both values, the bound).
struct conformance_failure {
  std::string check;
  std::string detail;
};

struct conformance_options {
  /// Entries agree when |got − reference| <= tolerance · max(1, max |reference|) over the compared
  /// array. 0 means 1000 ε of the adapter's scalar type (2.2e-13 for double, 1.2e-4 for float).
  double tolerance = 0.0;
  /// Seed of the host data and of the probe generators.
  std::uint64_t seed = 20240601;
};

struct conformance_report {
  std::string backend;                        ///< the adapter's `name` (where it has one) and scalar type
  std::size_t checks = 0;                     ///< comparisons made
  std::vector<conformance_failure> failures;  ///< empty when the adapter conforms
  std::vector<std::string> skipped;           ///< checks the adapter's capabilities ruled out

  bool passed() const { return failures.empty(); }

  /// "backend: N checks, K failures" and one line per failure and skipped check.
  std::string summary() const {
    std::ostringstream out;
    out << (backend.empty() ? "backend" : backend) << ": " << checks << " checks, " << failures.size() << " failure"
        << (failures.size() == 1 ? "" : "s") << "\n";
    for (const auto& f : failures) out << "  FAIL " << f.check << ": " << f.detail << "\n";
    for (const auto& s : skipped) out << "  skipped: " << s << "\n";
    return out.str();
  }
};

namespace detail {

/// A row-major host matrix.
struct host_matrix {
  index_t rows = 0;
  index_t cols = 0;
  std::vector<double> values;
};

template <Backend B, class Convert>
class conformance_run {
 public:
  using R = eigen_backend<double>;  // the reference
  using matrix_type = typename B::matrix_type;
  using matrix_view = typename B::matrix_view;
  using vector_type = typename B::vector_type;

  conformance_run(const Convert& convert, const conformance_options& options)
      : convert_(convert), seed_(options.seed), data_(options.seed) {
    tolerance_ = options.tolerance > 0.0 ? options.tolerance
                                         : 1000.0 * static_cast<double>(std::numeric_limits<scalar_t<B>>::epsilon());
    if constexpr (requires { B::name; }) report_.backend = std::string(B::name);
    report_.backend += std::is_same_v<scalar_t<B>, float> ? "<float>" : std::is_same_v<scalar_t<B>, double> ? "<double>" : "";
  }

  conformance_report run() {
    guarded("operations", [&] { operations(); });
    guarded("views", [&] { views(); });
    guarded("probe draws", [&] { draws(); });
    for (const auto& s : scenarios()) guarded(s.label(), [&] { objectives(s); });
    guarded("score_estimate", [&] { score_estimates(); });
    guarded("sign_tracker", [&] { sign_tracking(); });
    guarded("sliced score matching", [&] { sliced(); });
    errors();
    return std::move(report_);
  }

 private:
  // ---- Host data and conversions. ----

  host_matrix random_matrix(index_t rows, index_t cols, double scale = 1.0) {
    std::normal_distribution<double> normal;
    host_matrix h{rows, cols, std::vector<double>(static_cast<std::size_t>(rows * cols))};
    for (double& x : h.values) x = scale * normal(data_);
    return h;
  }
  std::vector<double> random_vector(index_t n, double low, double high) {
    std::uniform_real_distribution<double> uniform(low, high);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) x = uniform(data_);
    return v;
  }
  std::vector<double> random_signs(index_t n) {
    std::bernoulli_distribution coin;
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) x = coin(data_) ? 1.0 : -1.0;
    return v;
  }
  /// The host values as the adapter's scalar type would hold them, so that the reference computes
  /// on exactly the adapter's inputs (float adapters round them once).
  static double rounded(double x) { return static_cast<double>(static_cast<scalar_t<B>>(x)); }
  static host_matrix rounded(host_matrix h) {
    for (double& x : h.values) x = rounded(x);
    return h;
  }
  static std::vector<double> rounded(std::vector<double> v) {
    for (double& x : v) x = rounded(x);
    return v;
  }

  matrix_type to_backend(const host_matrix& h) const { return convert_.matrix(h.rows, h.cols, h.values); }
  static R::matrix_type to_reference(const host_matrix& h) {
    R::matrix_type m(h.rows, h.cols);
    std::copy(h.values.begin(), h.values.end(), m.data());
    return m;
  }
  static R::vector_type to_reference(const std::vector<double>& v) {
    return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<index_t>(v.size()));
  }
  std::vector<double> host(const matrix_type& m) const { return convert_.to_host(m); }
  static std::vector<double> reference_host(const R::matrix_type& m) {
    return std::vector<double>(m.data(), m.data() + m.size());
  }
  static std::vector<double> host_vector(const vector_type& v) { return scorelift::detail::host_values<B>(v); }
  static std::vector<double> reference_host(const R::vector_type& v) {
    return std::vector<double>(v.data(), v.data() + v.size());
  }

  /// A per-sample vector with the given (finite) values, built with the adapter's own operations.
  static vector_type to_backend(const std::vector<double>& values, const matrix_view& like) {
    const auto n = static_cast<index_t>(values.size());
    if constexpr (HostVectorBackend<B>) {
      return B::vector_from_host(values, like);
    } else {
      // Σ_i x_i e_i with e_i = split_filled(n, i+1, 1, 0) − split_filled(n, i, 1, 0): exact, one
      // non-zero term per entry.
      vector_type out = B::filled(n, 0.0, like);
      for (index_t i = 0; i < n; ++i) {
        const vector_type unit = B::axpby(1.0, B::split_filled(n, i + 1, 1.0, 0.0, like), -1.0,
                                          B::split_filled(n, i, 1.0, 0.0, like));
        out = B::axpby(1.0, out, values[static_cast<std::size_t>(i)], unit);
      }
      return out;
    }
  }

  typename B::generator_type generator(std::uint64_t offset) const {
    const std::uint64_t seed = seed_ + offset;
    if constexpr (requires { B::make_generator(seed); }) {
      return B::make_generator(seed);
    } else if constexpr (std::constructible_from<typename B::generator_type, std::uint64_t>) {
      return typename B::generator_type(seed);
    } else {
      return typename B::generator_type{};
    }
  }

  // ---- Recording. ----

  void fail(const std::string& check, const std::string& detail) { report_.failures.push_back({check, detail}); }

  template <class Body>
  void guarded(const std::string& check, Body body) {
    try {
      body();
    } catch (const std::exception& e) {
      fail(check, std::string("threw: ") + e.what());
    }
  }

  void expect(bool condition, const std::string& check, const std::string& detail) {
    ++report_.checks;
    if (!condition) fail(check, detail);
  }

  void compare(const std::string& check, const std::vector<double>& got, const std::vector<double>& expected) {
    ++report_.checks;
    if (got.size() != expected.size()) {
      fail(check, "has " + std::to_string(got.size()) + " entries but the reference has " +
                      std::to_string(expected.size()));
      return;
    }
    double scale = 1.0;
    for (double x : expected) scale = std::max(scale, std::abs(x));
    const double bound = tolerance_ * scale;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (!(std::abs(got[i] - expected[i]) <= bound)) {
        std::ostringstream out;
        out.precision(17);
        out << "entry " << i << " is " << got[i] << " but the reference gives " << expected[i] << " (|difference| "
            << std::abs(got[i] - expected[i]) << " > " << bound << ")";
        fail(check, out.str());
        return;
      }
    }
  }
  void compare(const std::string& check, double got, double expected) {
    compare(check, std::vector<double>{got}, std::vector<double>{expected});
  }

  /// `call` must throw scorelift::invalid_argument whose message contains `fragment`.
  template <class Call>
  void expect_error(const std::string& check, const std::string& fragment, Call call) {
    ++report_.checks;
    try {
      call();
    } catch (const scorelift::invalid_argument& e) {
      if (std::string(e.what()).find(fragment) == std::string::npos)
        fail("error: " + check, "the message '" + std::string(e.what()) + "' does not contain '" + fragment + "'");
      return;
    } catch (const std::exception& e) {
      fail("error: " + check, "threw another exception than scorelift::invalid_argument: " + std::string(e.what()));
      return;
    }
    fail("error: " + check, "did not throw (expected scorelift::invalid_argument with '" + fragment + "')");
  }

  // ---- The operations of the concept, one by one. ----

  void operations() {
    const index_t n = 7, d = 3;
    const host_matrix hx = rounded(random_matrix(n, d)), hy = rounded(random_matrix(n, d));
    const std::vector<double> hu = rounded(random_vector(n, -2.0, 2.0)), hv = rounded(random_vector(n, -2.0, 2.0));
    const matrix_type x_owned = to_backend(hx), y_owned = to_backend(hy);
    const matrix_view x = x_owned, y = y_owned;
    const R::matrix_type rx = to_reference(hx), ry = to_reference(hy);
    const R::matrix_view rxv = rx, ryv = ry;
    const R::vector_type ru = to_reference(hu), rv = to_reference(hv);
    const vector_type u = to_backend(hu, x), v = to_backend(hv, x);

    expect(B::rows(x) == n && B::cols(x) == d && B::rows(x_owned) == n && B::cols(x_owned) == d, "rows/cols",
           "a 7×3 batch reads as " + std::to_string(B::rows(x)) + "×" + std::to_string(B::cols(x)));
    expect(B::size(u) == n, "size", "a vector of 7 samples has size " + std::to_string(B::size(u)));
    expect(!std::string(B::shape_string(x)).empty() && !std::string(B::shape_string(x_owned)).empty(), "shape_string",
           "is empty");
    compare("vector round trip (vector_from_host or split_filled/axpby, then to host)", host_vector(u), hu);

    compare("row_dot(view, view)", host_vector(B::row_dot(x, y)), reference_host(R::row_dot(rxv, ryv)));
    compare("row_dot(owning, view)", host_vector(B::row_dot(x_owned, y)), reference_host(R::row_dot(rxv, ryv)));
    compare("row_dot(owning, owning)", host_vector(B::row_dot(x_owned, x_owned)), reference_host(R::row_dot(rxv, rxv)));
    compare("sum(v, 0, n)", B::sum(u, 0, n), R::sum(ru, 0, n));
    compare("sum(v, 2, 5)", B::sum(u, 2, 5), R::sum(ru, 2, 5));
    compare("sum(v, 3, 3) (empty range)", B::sum(u, 3, 3), 0.0);
    compare("filled(n, value, like)", host_vector(B::filled(n, -1.5, x)), std::vector<double>(7, -1.5));
    for (index_t n_first : {index_t{0}, index_t{3}, n})
      compare("split_filled(n, n_first = " + std::to_string(n_first) + ", first, second, like)",
              host_vector(B::split_filled(n, n_first, 2.0, -3.0, x)), reference_host(R::split_filled(n, n_first, 2.0, -3.0, rxv)));
    compare("multiply(u, v)", host_vector(B::multiply(u, v)), reference_host(R::multiply(ru, rv)));
    compare("axpby(a, u, b, v) = a·u + b·v", host_vector(B::axpby(0.5, u, -2.0, v)), reference_host(R::axpby(0.5, ru, -2.0, rv)));
    compare("scaled_rows(v, view)", host(B::scaled_rows(u, x)), reference_host(R::scaled_rows(ru, rxv)));
    compare("scaled_rows(v, owning)", host(B::scaled_rows(u, y_owned)), reference_host(R::scaled_rows(ru, ryv)));
    {
      matrix_type out = B::scaled_rows(u, x);
      R::matrix_type reference = R::scaled_rows(ru, rxv);
      B::add_scaled_rows(out, v, y);
      R::add_scaled_rows(reference, rv, ryv);
      B::add_scaled_rows(out, u, y_owned);
      R::add_scaled_rows(reference, ru, ryv);
      compare("add_scaled_rows(out, v, view / owning)", host(out), reference_host(reference));
    }
    compare("zeros_like", host(B::zeros_like(x)), std::vector<double>(static_cast<std::size_t>(n * d), 0.0));

    expect(static_cast<bool>(B::all_finite(x)) && static_cast<bool>(B::all_finite(x_owned)), "all_finite",
           "is false on finite values");
    for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                       -std::numeric_limits<double>::infinity()}) {
      host_matrix h = hx;
      h.values[static_cast<std::size_t>(n * d - 2)] = bad;
      const matrix_type m = to_backend(h);
      expect(!static_cast<bool>(B::all_finite(m)) && !static_cast<bool>(B::all_finite(matrix_view(m))), "all_finite",
             "is true on a matrix holding " + std::to_string(bad));
      expect(!static_cast<bool>(B::all_finite_vector(B::filled(n, bad, x))), "all_finite_vector",
             "is true on a vector holding " + std::to_string(bad));
    }
    expect(static_cast<bool>(B::all_finite_vector(u)), "all_finite_vector", "is false on finite values");
  }

  /// Views are copied, reassigned and kept by score_batch; none of that may change what they read.
  void views() {
    const host_matrix ha = rounded(random_matrix(5, 2)), hb = rounded(random_matrix(3, 4));
    const matrix_type a = to_backend(ha), b = to_backend(hb);
    matrix_view view = a;
    const matrix_view copy = view;
    view = matrix_view(b);  // rebinds; `copy` still reads a
    expect(B::rows(view) == 3 && B::cols(view) == 4 && B::rows(copy) == 5 && B::cols(copy) == 2, "view assignment",
           "assigning a view of a 3×4 matrix to a view of a 5×2 one does not rebind it (or changes its copy)");
    compare("view assignment: a copy still reads its matrix", host_vector(B::row_dot(copy, copy)),
            reference_host(R::row_dot(R::matrix_view(to_reference(ha)), R::matrix_view(to_reference(ha)))));
    score_batch<B> batch{.modes = {copy}};
    batch.target = view;
    batch.target = copy;  // assigns the optional view
    expect(batch.target.has_value() && B::rows(*batch.target) == 5, "score_batch::target = view",
           "does not hold the assigned view");
  }

  // ---- Probe draws. ----

  void draws() {
    const index_t n = 400, d = 10;
    const matrix_type like_owned = to_backend(host_matrix{1, 1, {0.0}});
    const matrix_view like = like_owned;
    auto gen = generator(1);
    const std::vector<double> r = host(B::rademacher(n, d, gen, like));
    const std::vector<double> g = host(B::gaussian(n, d, gen, like));
    expect(r.size() == static_cast<std::size_t>(n * d) && g.size() == r.size(), "rademacher/gaussian(rows, cols, gen, like)",
           "do not return rows × cols = 400 × 10 entries");
    if (r.size() != static_cast<std::size_t>(n * d) || g.size() != r.size()) return;
    const auto moments = [](const std::vector<double>& x) {
      double mean = 0.0, square = 0.0;
      for (double v : x) {
        mean += v;
        square += v * v;
      }
      mean /= static_cast<double>(x.size());
      return std::pair{mean, square / static_cast<double>(x.size()) - mean * mean};
    };
    expect(std::all_of(r.begin(), r.end(), [](double v) { return v == 1.0 || v == -1.0; }), "rademacher",
           "has entries other than ±1");
    const auto [r_mean, r_variance] = moments(r);
    const auto [g_mean, g_variance] = moments(g);
    // 4000 draws: the mean's standard error is 0.016, the variance's 0.022 (Gaussian) — 6σ bounds.
    expect(std::abs(r_mean) < 0.1, "rademacher", "mean " + std::to_string(r_mean) + " of 4000 draws is not ≈ 0");
    expect(std::abs(g_mean) < 0.1 && std::abs(g_variance - 1.0) < 0.15, "gaussian",
           "mean " + std::to_string(g_mean) + " and variance " + std::to_string(g_variance) + " are not ≈ 0 and 1");
    auto again = generator(1);
    compare("rademacher: the same seed draws the same probes", host(B::rademacher(n, d, again, like)), r);

    const auto check_kind = [&](probe_kind kind) {
      auto probe_gen = generator(2);
      const auto probes = draw_probes<B>(kind, 3, 5, 4, probe_gen, like);
      expect(probes.size() == 3, "draw_probes", "did not return M = 3 probes");
      for (const auto& p : probes) {
        expect(B::rows(p) == 5 && B::cols(p) == 4, "draw_probes(" + std::string(probe_name(kind)) + ")",
               "a probe is not 5×4");
        if (kind == probe_kind::sphere) {
          const auto host_p = host(p);
          std::vector<double> norms(5, 0.0);
          for (std::size_t i = 0; i < host_p.size(); ++i) norms[i / 4] += host_p[i] * host_p[i];
          compare("draw_probes(sphere): ‖v_b‖² = D", norms, std::vector<double>(5, 4.0));
        }
      }
    };
    check_kind(probe_kind::rademacher);
    check_kind(probe_kind::gaussian);
    if constexpr (HostVectorBackend<B>) {
      check_kind(probe_kind::sphere);
    } else {
      report_.skipped.push_back("sphere probes (not a HostVectorBackend)");
    }
  }

  // ---- The objectives against the reference. ----

  struct scenario {
    index_t batch, dim, levels;
    bool target, weights, signs, distance_form, per_dim;
    std::string label() const {
      std::string s = std::string(target ? "LDSE" : "LSE") + " B=" + std::to_string(batch) + " D=" + std::to_string(dim) +
                      " L=" + std::to_string(levels);
      if (weights) s += " weighted";
      if (signs) s += " signed";
      if (distance_form) s += " distance-form";
      if (per_dim) s += " /D^2";
      return s;
    }
  };
  static std::vector<scenario> scenarios() {
    return {{2, 3, 1, true, false, false, false, false},  {7, 3, 3, true, true, true, false, false},
            {9, 2, 2, true, true, true, true, true},      {8, 4, 3, true, false, true, true, false},
            {7, 3, 3, false, true, true, false, false},   {5, 1, 1, false, false, false, false, false},
            {10, 2, 2, false, false, true, false, true}};
  }

  /// A score batch in host form, and the same batch built for B and for the reference.
  struct host_batch {
    std::vector<host_matrix> modes;
    std::optional<host_matrix> target;
    std::vector<std::vector<double>> divergence;
    std::optional<std::vector<double>> weights;
    std::vector<std::vector<double>> signs;
  };
  host_batch random_batch(const scenario& s) {
    host_batch h;
    for (index_t l = 0; l < s.levels; ++l) h.modes.push_back(rounded(random_matrix(s.batch, s.dim)));
    if (s.target) {
      h.target = rounded(random_matrix(s.batch, s.dim, 1.5));
    } else {
      for (index_t l = 0; l < s.levels; ++l) h.divergence.push_back(rounded(random_vector(s.batch, -3.0, 3.0)));
    }
    if (s.weights) h.weights = rounded(random_vector(s.batch, 0.25, 2.0));
    if (s.signs)
      for (index_t l = 0; l < s.levels; ++l) h.signs.push_back(random_signs(s.batch));
    return h;
  }
  /// The owning matrices a batch's views read (kept alive beside the batch).
  template <class Backend_, class ToMatrix, class ToVector>
  static score_batch<Backend_> make_batch(const host_batch& h, std::vector<typename Backend_::matrix_type>& storage,
                                          ToMatrix to_matrix, ToVector to_vector) {
    storage.clear();
    storage.reserve(h.modes.size() + 1);
    for (const auto& m : h.modes) storage.push_back(to_matrix(m));
    if (h.target) storage.push_back(to_matrix(*h.target));
    score_batch<Backend_> batch;
    for (std::size_t l = 0; l < h.modes.size(); ++l) batch.modes.push_back(storage[l]);
    const typename Backend_::matrix_view like = storage.front();
    if (h.target) batch.target = typename Backend_::matrix_view(storage.back());
    for (const auto& v : h.divergence) batch.divergence.push_back(to_vector(v, like));
    if (h.weights) batch.weights = to_vector(*h.weights, like);
    for (const auto& v : h.signs) batch.signs.push_back(to_vector(v, like));
    return batch;
  }
  score_batch<B> backend_batch(const host_batch& h, std::vector<matrix_type>& storage) const {
    return make_batch<B>(
        h, storage, [&](const host_matrix& m) { return to_backend(m); },
        [](const std::vector<double>& v, const matrix_view& like) { return to_backend(v, like); });
  }
  static score_batch<R> reference_batch(const host_batch& h, std::vector<R::matrix_type>& storage) {
    return make_batch<R>(
        h, storage, [](const host_matrix& m) { return to_reference(m); },
        [](const std::vector<double>& v, const R::matrix_view&) { return to_reference(v); });
  }
  /// One host batch built for B and for the reference, beside the matrices their views read (moving
  /// the pair keeps those matrices where they are: a vector's move keeps its elements).
  struct batch_pair {
    std::vector<matrix_type> storage;
    std::vector<R::matrix_type> reference_storage;
    score_batch<B> batch;
    score_batch<R> reference;
  };
  batch_pair both_batches(const host_batch& h) const {
    batch_pair pair;
    pair.batch = backend_batch(h, pair.storage);
    pair.reference = reference_batch(h, pair.reference_storage);
    return pair;
  }

  template <class Result, class Reference>
  void compare_results(const std::string& check, const Result& got, const Reference& expected) {
    compare(check + ": value", got.value, expected.value);
    compare(check + ": level_values", got.level_values, expected.level_values);
    compare(check + ": residual_alignment", got.residual_alignment, expected.residual_alignment);
    expect(got.grad_modes.size() == expected.grad_modes.size(), check + ": grad_modes", "has the wrong number of levels");
    for (std::size_t l = 0; l < std::min(got.grad_modes.size(), expected.grad_modes.size()); ++l)
      compare(check + ": grad_modes[" + std::to_string(l) + "]", host(got.grad_modes[l]), reference_host(expected.grad_modes[l]));
    expect(got.grad_target.has_value() == expected.grad_target.has_value(), check + ": grad_target",
           "is present on one side only");
    if (got.grad_target && expected.grad_target)
      compare(check + ": grad_target", host(*got.grad_target), reference_host(*expected.grad_target));
    expect(got.grad_divergence.size() == expected.grad_divergence.size(), check + ": grad_divergence",
           "has the wrong number of levels");
    for (std::size_t l = 0; l < std::min(got.grad_divergence.size(), expected.grad_divergence.size()); ++l)
      compare(check + ": grad_divergence[" + std::to_string(l) + "]", host_vector(got.grad_divergence[l]),
              reference_host(expected.grad_divergence[l]));
  }

  void objectives(const scenario& s) {
    const host_batch h = random_batch(s);
    const batch_pair pair = both_batches(h);
    const score_batch<B>& batch = pair.batch;
    const score_batch<R>& reference = pair.reference;
    const lifted_options options{.distance_form = s.distance_form, .divide_by_dim_squared = s.per_dim};
    compare_results("lifted_residual_loss " + s.label(), lifted_residual_loss<B>(batch, options),
                    lifted_residual_loss<R>(reference, options));
    compare_results("residual_score_matching_loss " + s.label(), residual_score_matching_loss<B>(batch),
                    residual_score_matching_loss<R>(reference));
    if constexpr (view_converter<Convert, B>) {
      // The same batch read through views of the converter's own (e.g. strided) memory.
      std::vector<view_of_user_memory<B>> memory;
      score_batch<B> strided = batch;
      strided.modes.clear();
      for (const auto& m : h.modes) {
        memory.push_back(convert_.view(m.rows, m.cols, m.values));
        strided.modes.push_back(memory.back().view);
      }
      if (h.target) {
        memory.push_back(convert_.view(h.target->rows, h.target->cols, h.target->values));
        strided.target = memory.back().view;  // views are assignable (the concept asks for it)
      }
      compare_results("lifted_residual_loss " + s.label() + " (strided views)", lifted_residual_loss<B>(strided, options),
                      lifted_residual_loss<R>(reference, options));
      compare_results("residual_score_matching_loss " + s.label() + " (strided views)",
                      residual_score_matching_loss<B>(strided), residual_score_matching_loss<R>(reference));
    }
    const auto per_sample = per_sample_residual_alignment<B>(batch);
    const auto per_sample_reference = per_sample_residual_alignment<R>(reference);
    for (std::size_t l = 0; l < per_sample.size() && l < per_sample_reference.size(); ++l)
      compare("per_sample_residual_alignment " + s.label() + " [" + std::to_string(l) + "]", host_vector(per_sample[l]),
              reference_host(per_sample_reference[l]));
  }

  void score_estimates() {
    const scenario s{6, 3, 3, true, false, true, false, false};
    const batch_pair pair = both_batches(random_batch(s));
    const score_batch<B>& batch = pair.batch;
    const score_batch<R>& reference = pair.reference;
    compare("score_estimate(modes, per-sample signs)", host(score_estimate<B>(batch.modes, batch.signs)),
            reference_host(score_estimate<R>(reference.modes, reference.signs)));
    compare("score_estimate(modes, no signs)", host(score_estimate<B>(batch.modes, std::vector<vector_type>{})),
            reference_host(score_estimate<R>(reference.modes, std::vector<R::vector_type>{})));
    const std::vector<double> signs{1.0, -1.0, 1.0};
    compare("score_estimate(modes, one sign per mode)", host(score_estimate<B>(batch.modes, std::span<const double>(signs))),
            reference_host(score_estimate<R>(reference.modes, std::span<const double>(signs))));
  }

  /// Three LDSE steps of global signs, and (HostVectorBackend) one of per-noise-level signs.
  void sign_tracking() {
    sign_tracker tracker(3), reference_tracker(3);
    for (int step = 0; step < 3; ++step) {
      const scenario s{7, 2, 3, true, true, false, false, false};
      batch_pair pair = both_batches(random_batch(s));
      score_batch<B>& batch = pair.batch;
      score_batch<R>& reference = pair.reference;
      batch.signs = tracker.signs_for<B>(s.batch, batch.modes.front());
      reference.signs = reference_tracker.signs_for<R>(s.batch, reference.modes.front());
      tracker.update(lifted_residual_loss<B>(batch).residual_alignment);
      reference_tracker.update(lifted_residual_loss<R>(reference).residual_alignment);
    }
    compare("sign_tracker state after 3 global updates", tracker.state(), reference_tracker.state());

    if constexpr (HostVectorBackend<B>) {
      const scenario s{9, 2, 2, true, false, false, false, false};
      batch_pair pair = both_batches(random_batch(s));
      score_batch<B>& batch = pair.batch;
      score_batch<R>& reference = pair.reference;
      const std::vector<index_t> levels{0, 2, 1, 1, 0, 2, 2, 0, 1};
      sign_tracker per_level(2, 3, 0.5), reference_per_level(2, 3, 0.5);
      per_level.set_state({0.5, -0.5, -1.0, 1.0, 0.25, -2.0});
      reference_per_level.set_state(per_level.state());
      batch.signs = per_level.signs_for<B>(levels, batch.modes.front());
      reference.signs = reference_per_level.signs_for<R>(levels, reference.modes.front());
      for (std::size_t l = 0; l < batch.signs.size(); ++l)
        compare("sign_tracker::signs_for(levels, like) [" + std::to_string(l) + "]", host_vector(batch.signs[l]),
                reference_host(reference.signs[l]));
      per_level.update<B>(levels, per_sample_residual_alignment<B>(batch));
      reference_per_level.update<R>(levels, per_sample_residual_alignment<R>(reference));
      compare("sign_tracker state after a per-noise-level update", per_level.state(), reference_per_level.state());
    } else {
      report_.skipped.push_back("per-noise-level signs (not a HostVectorBackend)");
    }
  }

  /// Projections of fixed probes, their average, and sliced score matching on them.
  void sliced() {
    const index_t n = 7, d = 3;
    const host_matrix hf = rounded(random_matrix(n, d));
    std::vector<host_matrix> hprobes;
    for (int m = 0; m < 3; ++m) hprobes.push_back(rounded(random_matrix(n, d)));
    const matrix_type f_owned = to_backend(hf);
    const R::matrix_type rf = to_reference(hf);
    std::vector<matrix_type> probes;
    std::vector<R::matrix_type> reference_probes;
    for (const auto& p : hprobes) {
      probes.push_back(to_backend(p));
      reference_probes.push_back(to_reference(p));
    }
    const auto projections = probe_projections<B>(probes, f_owned);
    const auto reference_projections = probe_projections<R>(reference_probes, rf);
    for (std::size_t m = 0; m < projections.size(); ++m)
      compare("probe_projections [" + std::to_string(m) + "]", host_vector(projections[m]),
              reference_host(reference_projections[m]));
    compare("average_over_probes", host_vector(average_over_probes<B>(projections)),
            reference_host(average_over_probes<R>(reference_projections)));
    std::vector<vector_type> hutchinson;
    std::vector<R::vector_type> reference_hutchinson;
    for (int m = 0; m < 3; ++m) {
      const auto values = rounded(random_vector(n, -2.0, 2.0));
      hutchinson.push_back(to_backend(values, f_owned));
      reference_hutchinson.push_back(to_reference(values));
    }
    const auto got = sliced_score_matching_loss<B>(hutchinson, projections);
    const auto expected = sliced_score_matching_loss<R>(reference_hutchinson, reference_projections);
    compare("sliced_score_matching_loss: value", got.value, expected.value);
    compare("sliced_score_matching_loss: grad_hutchinson", got.grad_hutchinson, expected.grad_hutchinson);
    for (std::size_t m = 0; m < got.grad_projections.size(); ++m)
      compare("sliced_score_matching_loss: grad_projections[" + std::to_string(m) + "]",
              host_vector(got.grad_projections[m]), reference_host(expected.grad_projections[m]));
  }

  // ---- Error paths: the library's checks see the adapter's shapes and values. ----

  void errors() {
    const scenario s{6, 3, 2, true, true, false, false, false};
    const host_batch good = random_batch(s);
    std::vector<matrix_type> storage;
    const auto batch_from = [&](const host_batch& h) { return backend_batch(h, storage); };
    const auto lifted = [&](const host_batch& h) { return [&, h] { (void)lifted_residual_loss<B>(batch_from(h)); }; };
    const auto residual = [&](const host_batch& h) {
      return [&, h] { (void)residual_score_matching_loss<B>(batch_from(h)); };
    };

    host_batch h = good;
    h.modes[1] = rounded(random_matrix(5, 3));
    expect_error("modes of different shapes", "lifted_residual_loss: argument 'modes[1]' has shape", lifted(h));
    h = good;
    h.target->values[4] = std::numeric_limits<double>::quiet_NaN();
    expect_error("NaN in the target", "argument 'target' contains NaN or Inf", lifted(h));
    h = good;
    h.modes[0].values[0] = std::numeric_limits<double>::infinity();
    expect_error("Inf in a mode", "argument 'modes[0]' contains NaN or Inf", residual(h));
    h = good;
    h.modes = {rounded(random_matrix(1, 3))};
    h.target = rounded(random_matrix(1, 3));
    h.weights.reset();
    expect_error("lifted loss on B = 1", "needs a batch of at least B = 2", lifted(h));
    h = good;
    h.divergence = {random_vector(6, -1.0, 1.0), random_vector(6, -1.0, 1.0)};
    expect_error("target and divergence both given", "exactly one of the arguments 'target' and 'divergence'", lifted(h));
    h = good;
    h.weights = random_vector(5, 0.5, 1.0);
    expect_error("weights of the wrong length", "argument 'weights' has length 5 but the batch has B = 6", residual(h));
    expect_error("NaN in the weights", "argument 'weights' contains NaN or Inf", [&] {
      score_batch<B> batch = batch_from(good);
      batch.weights = B::filled(6, std::numeric_limits<double>::quiet_NaN(), batch.modes.front());
      (void)lifted_residual_loss<B>(batch);
    });
    h = good;
    h.signs = {random_signs(6)};
    expect_error("one sign vector for two modes", "argument 'signs' has 1 entries but there are L = 2 modes", lifted(h));
    // Finite entries whose squares overflow the adapter's scalar type.
    h = good;
    const double huge = 2.0 * std::sqrt(static_cast<double>(std::numeric_limits<scalar_t<B>>::max()));
    for (double& x : h.modes[0].values) x = huge;
    h.weights.reset();
    expect_error("finite inputs whose loss overflows", "overflows", residual(h));
    expect_error("score_estimate with modes of different shapes", "score_estimate: argument 'modes[1]' has shape", [&] {
      const matrix_type a = to_backend(random_matrix(4, 2)), b = to_backend(random_matrix(4, 3));
      (void)score_estimate<B>({matrix_view(a), matrix_view(b)}, std::vector<vector_type>{});
    });
    expect_error("draw_probes with M = 0", "draw_probes: argument 'probes' is 0", [&] {
      const matrix_type like = to_backend(random_matrix(2, 2));
      auto gen = generator(3);
      (void)draw_probes<B>(probe_kind::rademacher, 0, 2, 2, gen, like);
    });
  }

  const Convert& convert_;
  std::uint64_t seed_;
  std::mt19937_64 data_;
  double tolerance_ = 0.0;
  conformance_report report_;
};

}  // namespace detail

/// Runs every check of the kit on adapter B (header comment) and returns the report; never throws
/// for a failing adapter (an exception inside a check is recorded as that check's failure).
template <Backend B, matrix_converter<B> Convert>
conformance_report check_backend(const Convert& convert, const conformance_options& options = {}) {
  return detail::conformance_run<B, Convert>(convert, options).run();
}

}  // namespace scorelift::testing
