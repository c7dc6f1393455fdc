// scorelift/backends/torch.hpp — the LibTorch adapter: a batch is a [B, D] `torch::Tensor` (one
// sample per row), a per-sample vector a [B] tensor, on any device LibTorch supports.
//
// `matrix_view` and `matrix_type` are both `torch::Tensor`: a tensor is already a reference-counted
// view, so slicing rows (`narrow`) and passing batches never copies. Every operation stays on the
// device of its inputs; only the reductions the objectives ask for (`sum`, a handful per level)
// come back to the host as doubles.
//
// The adapter is typed by `Scalar` (float or double) and refuses tensors of another dtype, of the
// wrong rank, or on another device than the operand they meet, naming the function and shapes:
// mixing float and double (or CPU and CUDA) inside an objective would otherwise be a silent
// promotion or a LibTorch error deep inside the maths.
#pragma once

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"

namespace scorelift {

namespace detail {

/// "[7, 3]" for extents of any rank.
inline std::string tensor_shape_string(c10::IntArrayRef sizes) {
  std::string out = "[";
  for (std::size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

/// "[7, 3]" for a tensor of any rank; "undefined" for a default-constructed tensor.
inline std::string tensor_shape_string(const torch::Tensor& t) {
  return t.defined() ? tensor_shape_string(t.sizes()) : "undefined";
}

/// "float64", "float32", ... — PyTorch's names for the dtypes.
inline std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat64:
      return "float64";
    case torch::kFloat32:
      return "float32";
    case torch::kFloat16:
      return "float16";
    case torch::kInt64:
      return "int64";
    case torch::kInt32:
      return "int32";
    default:
      return c10::toString(type);
  }
}

/// "[7, 3] float64 cpu" — what a dtype/device message shows for an operand.
inline std::string tensor_description(const torch::Tensor& t) {
  if (!t.defined()) return "undefined";
  return tensor_shape_string(t) + " " + dtype_name(t.scalar_type()) + " " + t.device().str();
}

}  // namespace detail

template <class Scalar = double>
struct torch_backend {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "torch_backend<Scalar>: Scalar must be float or double");

  using scalar_type = Scalar;
  using matrix_type = torch::Tensor;  // [B, D]
  using matrix_view = torch::Tensor;  // a tensor handle is already a view
  using vector_type = torch::Tensor;  // [B]
  /// Probes are drawn from a seeded CPU generator and moved to the operand's device: one stream of
  /// draws, reproducible on every device (CUDA generators differ from CPU ones for the same seed).
  using generator_type = at::Generator;

  static constexpr const char* name = "torch";

  static torch::Dtype dtype() { return std::is_same_v<Scalar, double> ? torch::kFloat64 : torch::kFloat32; }

  /// A CPU generator seeded with `seed` (the generator_type the probe draws take).
  static generator_type make_generator(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }

  // ---- Checks at the boundary: rank, dtype and device, with the function and argument named. ----

  /// Requires `t` to be a defined tensor of rank `rank` and dtype Scalar.
  static void check_tensor(const torch::Tensor& t, int64_t rank, std::string_view where, std::string_view argument) {
    detail::require(t.defined(), where, "argument '", argument, "' is an undefined tensor");
    detail::require(t.dim() == rank, where, "argument '", argument, "' has shape ", detail::tensor_shape_string(t),
                    " but a tensor of rank ", rank, " was expected");
    detail::require(t.scalar_type() == dtype(), where, "argument '", argument, "' (", detail::tensor_description(t),
                    ") has dtype ", detail::dtype_name(t.scalar_type()), " but this backend computes in ",
                    detail::dtype_name(dtype()));
  }
  /// Requires `a` and `b` on one device.
  static void check_same_device(const torch::Tensor& a, const torch::Tensor& b, std::string_view where,
                                std::string_view name_a, std::string_view name_b) {
    detail::require(a.device() == b.device(), where, "argument '", name_a, "' (", detail::tensor_description(a),
                    ") and argument '", name_b, "' (", detail::tensor_description(b), ") are on different devices");
  }

  // ---- Shapes. ----
  static index_t rows(const matrix_view& m) { return m.size(0); }
  static index_t cols(const matrix_view& m) { return m.size(1); }
  static index_t size(const vector_type& v) { return v.size(0); }
  static std::string shape_string(const matrix_view& m) { return detail::tensor_shape_string(m); }

  static matrix_view slice_rows(const matrix_view& m, index_t begin, index_t end) {
    // Checked here like every other view's slice_rows: narrow would refuse too, but with a c10::Error.
    scorelift::detail::require_row_range(begin, end, m.size(0), "torch_backend::slice_rows");
    return m.narrow(0, begin, end - begin);
  }

  // ---- Contractions and reductions. ----

  /// [b] = ⟨x_b, y_b⟩: one fused multiply-and-reduce over the rows.
  static vector_type row_dot(const matrix_view& x, const matrix_view& y) {
    check_tensor(x, 2, "torch_backend::row_dot", "x");
    check_tensor(y, 2, "torch_backend::row_dot", "y");
    check_same_device(x, y, "torch_backend::row_dot", "x", "y");
    detail::require(x.sizes() == y.sizes(), "torch_backend::row_dot", "argument 'x' has shape ", shape_string(x),
                    " but argument 'y' has shape ", shape_string(y));
    return (x * y).sum(1);
  }
  static double sum(const vector_type& v, index_t begin, index_t end) {
    return v.narrow(0, begin, end - begin).sum().template item<double>();
  }

  // ---- Per-sample vectors (dtype and device of `like`). ----
  static vector_type filled(index_t n, double value, const matrix_view& like) {
    return torch::full({n}, value, options_like(like));
  }
  static vector_type split_filled(index_t n, index_t n_first, double first, double second, const matrix_view& like) {
    return torch::cat(
        {torch::full({n_first}, first, options_like(like)), torch::full({n - n_first}, second, options_like(like))});
  }
  static vector_type multiply(const vector_type& u, const vector_type& v) {
    check_vectors(u, v, "torch_backend::multiply");
    return u * v;
  }
  static vector_type axpby(double a, const vector_type& u, double b, const vector_type& v) {
    check_vectors(u, v, "torch_backend::axpby");
    return a * u + b * v;
  }

  // ---- Row scaling: out_b = v_b x_b and out_b += v_b x_b. ----
  static matrix_type scaled_rows(const vector_type& v, const matrix_view& x) {
    check_row_scale(v, x, "torch_backend::scaled_rows");
    return v.unsqueeze(1) * x;
  }
  static void add_scaled_rows(matrix_type& out, const vector_type& v, const matrix_view& x) {
    check_row_scale(v, x, "torch_backend::add_scaled_rows");
    detail::require(out.sizes() == x.sizes(), "torch_backend::add_scaled_rows", "argument 'out' has shape ",
                    shape_string(out), " but argument 'x' has shape ", shape_string(x));
    out.addcmul_(v.unsqueeze(1), x);
  }
  static matrix_type zeros_like(const matrix_view& m) { return torch::zeros_like(m); }

  // ---- Host transfers (HostVectorBackend): sign tables and sphere-probe radii live on the host. ----
  static vector_type vector_from_host(const std::vector<double>& host, const matrix_view& like) {
    return torch::tensor(host, torch::TensorOptions().dtype(torch::kFloat64)).to(options_like(like));
  }
  static std::vector<double> vector_to_host(const vector_type& v) {
    const auto host = v.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    return std::vector<double>(host.data_ptr<double>(), host.data_ptr<double>() + host.numel());
  }

  // ---- Value checks and probe draws. ----
  static bool all_finite(const matrix_view& m) { return torch::isfinite(m).all().template item<bool>(); }
  static bool all_finite_vector(const vector_type& v) { return torch::isfinite(v).all().template item<bool>(); }

  static matrix_type gaussian(index_t rows, index_t cols, generator_type& gen, const matrix_view& like) {
    return torch::randn({rows, cols}, gen, torch::TensorOptions().dtype(dtype())).to(like.device());
  }
  static matrix_type rademacher(index_t rows, index_t cols, generator_type& gen, const matrix_view& like) {
    // randint in {0, 1} mapped to {-1, +1}.
    const auto bits = torch::randint(0, 2, {rows, cols}, gen, torch::TensorOptions().dtype(dtype()));
    return (2 * bits - 1).to(like.device());
  }

 private:
  static torch::TensorOptions options_like(const matrix_view& like) {
    return torch::TensorOptions().dtype(dtype()).device(like.device());
  }
  static void check_vectors(const vector_type& u, const vector_type& v, std::string_view where) {
    check_tensor(u, 1, where, "u");
    check_tensor(v, 1, where, "v");
    check_same_device(u, v, where, "u", "v");
    detail::require(u.size(0) == v.size(0), where, "argument 'u' has shape ", detail::tensor_shape_string(u),
                    " but argument 'v' has shape ", detail::tensor_shape_string(v));
  }
  static void check_row_scale(const vector_type& v, const matrix_view& x, std::string_view where) {
    check_tensor(v, 1, where, "v");
    check_tensor(x, 2, where, "x");
    check_same_device(v, x, where, "v", "x");
    detail::require(v.size(0) == x.size(0), where, "argument 'v' has shape ", detail::tensor_shape_string(v),
                    " but argument 'x' has shape ", shape_string(x), " (one scale per row expected)");
  }
};

static_assert(HostVectorBackend<torch_backend<double>>);
static_assert(HostVectorBackend<torch_backend<float>>);

}  // namespace scorelift
