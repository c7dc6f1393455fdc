// A bounded, seeded random sweep over the inputs of the Eigen objectives (lifted_residual_loss,
// residual_score_matching_loss, sliced_score_matching_loss): random shapes including 0 and 1 rows and
// columns, mismatched shapes and lengths, both or neither of target and divergence, NaN/Inf placed
// anywhere, extreme finite values (±1e300, ±DBL_MAX, 1e154, subnormals), bad weights and signs.
// The contract: a finite value with finite gradients, or scorelift::invalid_argument — nothing else.
// Inputs that are certainly malformed (non-finite entries, mismatched shapes, L = 0, too few rows,
// D = 0, target and divergence both or neither) must be refused. Weights ≤ 0 and signs other than ±1
// may be accepted (soft signs are documented) or refused, but an accepted one must give finite results.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scorelift/backends/eigen.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"

using namespace scorelift;

namespace {

using E = eigen_backend<double>;
using matrix = E::matrix_type;
using vector = E::vector_type;

constexpr double inf = std::numeric_limits<double>::infinity();

/// Values a hostile or broken caller passes: non-finite, and finite ones at the edges of the range.
const std::vector<double> non_finite_values{std::numeric_limits<double>::quiet_NaN(), inf, -inf};
const std::vector<double> extreme_finite_values{1e300, -1e300, 1e154, -1e154, std::numeric_limits<double>::max(),
                                                -std::numeric_limits<double>::max(), 1e-300, 5e-324, -0.0, 1e200};

struct fuzz_input {
  std::vector<matrix> modes;
  std::optional<matrix> target;
  std::vector<vector> divergence;
  std::optional<vector> weights;
  std::vector<vector> signs;
  lifted_options options;
  bool must_refuse = false;     ///< certainly malformed
  bool questionable = false;    ///< signs not ±1 (soft signs): either outcome, finite if accepted
  bool extreme_finite = false;  ///< finite entries at the edge of the range (may overflow: then refused)
  std::string description;
};

/// Appends the bytes of every entry: inputs that are equal byte for byte are counted once.
template <class M>
void append_key(std::string& key, const M& m) {
  key += std::to_string(m.rows()) + "x" + std::to_string(m.cols()) + ":";
  key.append(reinterpret_cast<const char*>(m.data()), static_cast<std::size_t>(m.size()) * sizeof(double));
}

class generator {
 public:
  explicit generator(std::uint64_t seed) : gen_(seed) {}

  bool chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  index_t pick(std::initializer_list<index_t> values) {
    return *(values.begin() + std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(gen_));
  }
  double pick(const std::vector<double>& values) {
    return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(gen_)];
  }
  matrix normal_matrix(index_t rows, index_t cols) {
    matrix m(rows, cols);
    for (index_t i = 0; i < m.size(); ++i) m.data()[i] = normal_(gen_);
    return m;
  }
  vector uniform_vector(index_t n, double low, double high) {
    vector v(n);
    std::uniform_real_distribution<double> u(low, high);
    for (index_t i = 0; i < n; ++i) v(i) = u(gen_);
    return v;
  }
  /// Places a NaN/Inf (or an extreme finite value) at a random entry of a non-empty tensor.
  template <class M>
  bool place(M& m, const std::vector<double>& values) {
    if (m.size() == 0) return false;
    m.data()[std::uniform_int_distribution<index_t>(0, m.size() - 1)(gen_)] = pick(values);
    return true;
  }
  std::mt19937_64& engine() { return gen_; }

 private:
  std::mt19937_64 gen_;
  std::normal_distribution<double> normal_;
};

fuzz_input random_input(generator& g, index_t min_batch) {
  fuzz_input in;
  const index_t L = g.pick({0, 1, 1, 2, 3}), B = g.pick({0, 1, 2, 2, 3, 5, 8}), D = g.pick({0, 1, 1, 2, 4});
  in.description = "L=" + std::to_string(L) + " B=" + std::to_string(B) + " D=" + std::to_string(D);
  if (L == 0 || B < min_batch || D == 0) in.must_refuse = true;
  for (index_t l = 0; l < L; ++l) {
    const bool mismatch = g.chance(0.06);
    in.modes.push_back(g.normal_matrix(mismatch ? B + 1 : B, mismatch && g.chance(0.5) ? D + 1 : D));
    if (mismatch) {
      in.must_refuse = true;
      in.description += " modes[" + std::to_string(l) + "] mismatched";
    }
  }
  const int which = static_cast<int>(g.pick({0, 0, 0, 1, 1, 1, 2, 3}));  // 0 target, 1 divergence, 2 both, 3 neither
  if (which == 0 || which == 2) {
    const bool mismatch = g.chance(0.06);
    in.target = g.normal_matrix(B, mismatch ? D + 1 : D);
    if (mismatch) in.must_refuse = true, in.description += " target mismatched";
  }
  if (which == 1 || which == 2) {
    const index_t count = g.chance(0.06) ? L + 1 : L;
    if (count != L) in.must_refuse = true, in.description += " divergence count";
    for (index_t l = 0; l < count; ++l) {
      const bool short_one = g.chance(0.05);
      in.divergence.push_back(g.uniform_vector(short_one ? std::max<index_t>(B - 1, 0) : B, -2.0, 2.0));
      if (short_one && B > 0) in.must_refuse = true, in.description += " divergence length";
    }
  }
  if (which >= 2) {
    in.description += which == 2 ? " target and divergence" : " neither target nor divergence";
    // "neither" with L = 0 modes still has nothing to estimate from: refused either way.
    in.must_refuse = true;
  }
  if (g.chance(0.4)) {
    in.weights = g.uniform_vector(B, 0.2, 2.0);
    if (g.chance(0.3) && B > 0) {
      (*in.weights)(0) = g.pick(std::vector<double>{0.0, -1.0, -1e-300});
      in.must_refuse = true;  // weights must be positive (objectives/detail/validate.hpp)
      in.description += " weight <= 0";
    }
    if (g.chance(0.05)) in.weights = g.uniform_vector(B + 1, 0.2, 2.0), in.must_refuse = true, in.description += " weights length";
  }
  if (g.chance(0.4)) {
    for (index_t l = 0; l < L; ++l) {
      vector s = g.uniform_vector(B, -1.0, 1.0);
      for (index_t b = 0; b < B; ++b) s(b) = s(b) < 0 ? -1.0 : 1.0;
      in.signs.push_back(s);
    }
    if (g.chance(0.3) && L > 0 && B > 0) {
      in.signs[0](0) = g.pick(std::vector<double>{0.0, 0.5, 2.0, -3.0});
      in.questionable = true;
      in.description += " sign not +-1";
    }
    if (g.chance(0.05)) in.signs.push_back(g.uniform_vector(B, -1.0, 1.0)), in.must_refuse = true, in.description += " signs count";
  }
  // Extreme finite entries, or whole tensors of ±1e300 (before the NaN/Inf, which they must not overwrite).
  if (g.chance(0.3)) {
    bool placed = false;
    if (!in.modes.empty()) {
      auto& m = in.modes[static_cast<std::size_t>(g.engine()() % in.modes.size())];
      if (g.chance(0.3)) {
        m.setConstant(g.pick(std::vector<double>{1e300, -1e300, 1e160, 1e100}));
        placed = m.size() > 0;
      } else {
        placed = g.place(m, extreme_finite_values);
      }
    }
    if (in.target && g.chance(0.5)) placed = g.place(*in.target, extreme_finite_values) || placed;
    if (!in.divergence.empty() && g.chance(0.3)) placed = g.place(in.divergence.front(), extreme_finite_values) || placed;
    if (in.weights && !in.must_refuse && g.chance(0.3)) {  // (not over a weight that must be refused)
      const double w = g.pick(std::vector<double>{1e300, 1e200, std::numeric_limits<double>::max(), 1e-300});
      placed = (in.weights->size() > 0 && ((*in.weights)(0) = w, true)) || placed;
    }
    if (placed) in.extreme_finite = true, in.description += " extreme finite values";
  }
  // Non-finite entries anywhere: must be refused.
  if (g.chance(0.25)) {
    const int where = static_cast<int>(g.pick({0, 1, 2, 3, 4}));
    bool placed = false;
    if (where == 0 && !in.modes.empty()) placed = g.place(in.modes[static_cast<std::size_t>(g.engine()() % in.modes.size())], non_finite_values);
    if (where == 1 && in.target) placed = g.place(*in.target, non_finite_values);
    if (where == 2 && !in.divergence.empty()) placed = g.place(in.divergence.front(), non_finite_values);
    if (where == 3 && in.weights) placed = g.place(*in.weights, non_finite_values);
    if (where == 4 && !in.signs.empty()) placed = g.place(in.signs.back(), non_finite_values);
    if (placed) in.must_refuse = true, in.description += " NaN/Inf in input " + std::to_string(where);
  }
  in.options.distance_form = in.target.has_value() && g.chance(0.3);
  in.options.divide_by_dim_squared = g.chance(0.3);
  return in;
}

score_batch<E> views_of(const fuzz_input& in) {
  score_batch<E> batch;
  for (const auto& m : in.modes) batch.modes.emplace_back(m);
  if (in.target) batch.target.emplace(*in.target);
  batch.divergence = in.divergence;
  batch.weights = in.weights;
  batch.signs = in.signs;
  return batch;
}

bool all_finite(const objective_result<E>& r) {
  bool ok = std::isfinite(r.value);
  for (const double v : r.level_values) ok = ok && std::isfinite(v);
  for (const double v : r.residual_alignment) ok = ok && std::isfinite(v);
  for (const auto& g : r.grad_modes) ok = ok && g.allFinite();
  if (r.grad_target) ok = ok && r.grad_target->allFinite();
  for (const auto& g : r.grad_divergence) ok = ok && g.allFinite();
  return ok;
}

struct tally {
  int tried = 0, bad = 0, refused_bad = 0, must_refuse = 0, refused_must = 0, extreme = 0, extreme_refused = 0;
  std::vector<std::string> non_finite_results;  ///< inputs that returned NaN/Inf (each a failure)
  int accepted_weight_not_positive = 0, accepted_soft_sign = 0;  ///< questionable inputs that were accepted
};

/// Runs one objective on one input and checks the contract; `key` dedupes identical inputs.
template <class Call>
void run_case(const char* name, const fuzz_input& in, const std::string& key, std::set<std::string>& seen, tally& t,
              const Call& call) {
  if (!seen.insert(std::string(name) + key).second) return;
  ++t.tried;
  const bool bad = in.must_refuse || in.questionable;
  t.bad += bad ? 1 : 0;
  t.must_refuse += in.must_refuse ? 1 : 0;
  t.extreme += in.extreme_finite && !bad ? 1 : 0;
  CAPTURE(name);
  CAPTURE(in.description);
  try {
    const bool finite = call();
    if (in.must_refuse) FAIL_CHECK("a malformed input was accepted");
    t.accepted_weight_not_positive += in.description.find("weight <= 0") != std::string::npos ? 1 : 0;
    t.accepted_soft_sign += in.description.find("sign not +-1") != std::string::npos ? 1 : 0;
    if (!finite) {
      // A returned NaN/Inf is a failure in every case. (No finite input currently does this; should the
      // objectives regress for huge finite inputs, this names the case for objectives/.)
      t.non_finite_results.push_back(std::string(name) + ": " + in.description);
      FAIL_CHECK("a non-finite value or gradient was returned");
    }
  } catch (const scorelift::invalid_argument& e) {
    CHECK(std::string(e.what()).rfind(name, 0) == 0);  // the message starts with the function's name
    t.refused_bad += bad ? 1 : 0;
    t.refused_must += in.must_refuse ? 1 : 0;
    t.extreme_refused += in.extreme_finite && !bad ? 1 : 0;
  } catch (const std::exception& e) {
    FAIL_CHECK("an exception other than scorelift::invalid_argument: ", e.what());
  }
}

}  // namespace

TEST_CASE("fuzz: the Eigen objectives return finite results or throw scorelift::invalid_argument, nothing else") {
  generator g(0x0B1EC7);
  std::set<std::string> seen;
  tally t;
  const auto start = std::chrono::steady_clock::now();
  constexpr int iterations = 2500;
  for (int it = 0; it < iterations; ++it) {
    // Safety bound only: the sweep is fixed by its seed and normally takes well under a second.
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) break;
    CAPTURE(it);
    const bool lifted = g.chance(0.5);
    const fuzz_input in = random_input(g, lifted ? 2 : 1);
    std::string key = std::to_string(in.options.distance_form) + std::to_string(in.options.divide_by_dim_squared);
    for (const auto& m : in.modes) append_key(key, m);
    key += "|t";
    if (in.target) append_key(key, *in.target);
    key += "|d";
    for (const auto& v : in.divergence) append_key(key, v);
    key += "|w";
    if (in.weights) append_key(key, *in.weights);
    key += "|s";
    for (const auto& v : in.signs) append_key(key, v);
    const score_batch<E> batch = views_of(in);
    if (lifted) {
      run_case("lifted_residual_loss", in, key, seen, t,
               [&] { return all_finite(lifted_residual_loss(batch, in.options)); });
    } else {
      run_case("residual_score_matching_loss", in, key, seen, t,
               [&] { return all_finite(residual_score_matching_loss(batch)); });
    }

    // Sliced score matching: M probes of per-sample Hutchinson terms and projections.
    fuzz_input sliced;
    const index_t M = g.pick({0, 1, 2, 3}), B = g.pick({0, 1, 2, 5});
    sliced.description = "M=" + std::to_string(M) + " B=" + std::to_string(B);
    if (M == 0 || B == 0) sliced.must_refuse = true;
    std::vector<vector> h, p;
    for (index_t m = 0; m < M; ++m) {
      h.push_back(g.uniform_vector(B, -3.0, 3.0));
      p.push_back(g.uniform_vector(g.chance(0.05) ? B + 1 : B, -3.0, 3.0));
      if (p.back().size() != B) sliced.must_refuse = true, sliced.description += " projections length";
    }
    if (g.chance(0.05)) p.push_back(g.uniform_vector(B, -1.0, 1.0)), sliced.must_refuse = true, sliced.description += " M mismatch";
    if (g.chance(0.3) && !p.empty() && g.place(p.back(), extreme_finite_values))
      sliced.extreme_finite = true, sliced.description += " extreme finite values";
    if (g.chance(0.2) && !h.empty() && g.place(g.chance(0.5) ? h.front() : p.front(), non_finite_values))
      sliced.must_refuse = true, sliced.description += " NaN/Inf";
    std::string sliced_key = "|h";
    for (const auto& v : h) append_key(sliced_key, v);
    sliced_key += "|p";
    for (const auto& v : p) append_key(sliced_key, v);
    run_case("sliced_score_matching_loss", sliced, sliced_key, seen, t, [&] {
      const auto r = sliced_score_matching_loss<E>(h, p);
      bool ok = std::isfinite(r.value) && std::isfinite(r.grad_hutchinson);
      for (const auto& gp : r.grad_projections) ok = ok && gp.allFinite();
      return ok;
    });
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[fuzz objectives] %d distinct inputs in %.2f s: %d bad (%d certainly malformed, all of which must be "
              "refused), %d of the bad refused with scorelift::invalid_argument (%d of the malformed); %d with extreme "
              "finite values, %d of them refused as overflowing; %zu returned non-finite results\n",
              t.tried, seconds, t.bad, t.must_refuse, t.refused_bad, t.refused_must, t.extreme, t.extreme_refused,
              t.non_finite_results.size());
  std::printf("[fuzz objectives] accepted (finite results): %d inputs with a weight <= 0, %d with a sign not +-1\n",
              t.accepted_weight_not_positive, t.accepted_soft_sign);
  for (const auto& c : t.non_finite_results) std::printf("[fuzz objectives] non-finite result: %s\n", c.c_str());
  MESSAGE("fuzz objectives: ", t.tried, " distinct inputs, ", t.bad, " bad, ", t.refused_bad, " refused clearly");
  CHECK(t.refused_must == t.must_refuse);
  CHECK(t.non_finite_results.empty());
  CHECK(t.tried > 3000);
}
