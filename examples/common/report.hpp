// examples/common/report.hpp — what every example shares: a fixed-width table printer, a progress
// line for long runs, the name of the BLAS library the process runs on, and running a matplotlib
// script (Debian's /usr/bin/python3) on the JSON an example wrote.
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace scorelift::examples {

/// A table printed with columns padded to their widest cell.
class table {
 public:
  explicit table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::ostream& out = std::cout) const {
    std::vector<std::size_t> width;
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (width.size() <= c) width.push_back(0);
        width[c] = std::max(width[c], row[c].size());
      }
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      for (std::size_t c = 0; c < rows_[r].size(); ++c)
        out << (c ? "  " : "") << std::left << std::setw(static_cast<int>(width[c])) << rows_[r][c];
      out << '\n';
      if (r == 0) {
        std::size_t total = 0;
        for (auto w : width) total += w + 2;
        out << std::string(total > 2 ? total - 2 : 0, '-') << '\n';
      }
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

/// "1.23e-02 ± 4.5e-03"-style formatting.
inline std::string format_number(double value, int precision = 3) {
  std::ostringstream out;
  out << std::setprecision(precision) << value;
  return out.str();
}
inline std::string format_mean_std(double mean, double std, int precision = 3) {
  return format_number(mean, precision) + " ± " + format_number(std, 2);
}

/// Progress of a long run: "[label] step 120/500  loss -1.234  (3.2 s)". On a terminal one line is
/// redrawn in place (at most 4 times a second); piped into a log, a whole line is written at most every
/// 10 s and at the end, so the log stays readable (a \r-redrawn line would become one huge line).
class progress {
 public:
  /// `visible` false: a silent bar (the ranks of a data-parallel run other than rank 0).
  progress(std::string label, long total, bool visible = true)
      : label_(std::move(label)), total_(total), visible_(visible), terminal_(isatty(fileno(stderr)) != 0),
        start_(clock::now()) {}
  void update(long step, const std::string& detail = "") {
    if (!visible_) return;
    if (first_ < 0) first_ = step - 1;  // a resumed run starts past 0: its rate counts from here
    const double seconds = std::chrono::duration<double>(clock::now() - start_).count();
    const double interval = terminal_ ? 0.25 : 10.0;
    if (step != total_ && last_ >= 0.0 && seconds - last_ < interval) return;
    last_ = seconds;
    // Remaining time at the mean rate so far.
    const double eta = step > first_ ? seconds / static_cast<double>(step - first_) * static_cast<double>(total_ - step) : 0.0;
    std::fprintf(stderr, "%s[%s] %ld/%ld  %s  (%.1f s, ETA %.0f s)%s", terminal_ ? "\r" : "", label_.c_str(), step,
                 total_, detail.c_str(), seconds, eta, terminal_ ? "   " : "\n");
    if (terminal_ && step == total_) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  long total_;
  bool visible_;
  bool terminal_;
  clock::time_point start_;
  double last_ = -1.0;
  long first_ = -1;
};

/// The BLAS shared object this process has mapped (LibTorch's speed on CPU depends on it).
inline std::string blas_library_in_use() {
  std::ifstream maps("/proc/self/maps");
  std::string line, path;
  while (path.empty() && std::getline(maps, line)) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string mapped = line.substr(slash);
    if (mapped.find("libblas") != std::string::npos || mapped.find("openblas") != std::string::npos ||
        mapped.find("libmkl") != std::string::npos || mapped.find("blis") != std::string::npos)
      path = mapped;
  }
  if (path.empty()) return "none mapped (no BLAS-backed operation yet, or statically linked)";
  // OpenBLAS chooses its kernels from the CPU model; on a model it does not know it falls back to
  // SSE3 "Prescott" kernels, ~6x slower here (scripts/blas-env.sh sets OPENBLAS_CORETYPE for that).
  using corename_function = char* (*)();
  if (const auto corename = reinterpret_cast<corename_function>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    const std::string core = corename();
    path += " (OpenBLAS kernels: " + core + ")";
    if (core == "Prescott" && __builtin_cpu_supports("avx2"))
      path += " -- SLOW fallback for an unrecognised CPU model: set OPENBLAS_CORETYPE=" +
              std::string(__builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell") +
              " (scripts/demo.sh does) for several times faster matrix products";
  }
  return path;
}

/// `argument` as one POSIX shell word: wrapped in single quotes, each ' inside written as '\'' (close the
/// quotes, an escaped quote, reopen), so an output path with spaces, $ or quotes reaches the script intact.
inline std::string shell_quoted(const std::string& argument) {
  std::string quoted = "'";
  for (const char c : argument) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

/// Runs `python3 <script> <arguments...>` with Debian's interpreter (it has matplotlib); returns success.
/// Plotting is optional: a missing interpreter or library prints a note instead of failing the run.
inline bool run_plot_script(const std::string& script, const std::vector<std::string>& arguments) {
  std::string command = "MPLBACKEND=Agg /usr/bin/python3 " + shell_quoted(script);
  for (const auto& argument : arguments) command += " " + shell_quoted(argument);
  const int rc = std::system(command.c_str());
  if (rc != 0) std::cerr << "note: plotting failed (" << command << ")\n";
  return rc == 0;
}

/// Runs an example's body and turns an escaping exception (bad flags, a missing data file, a
/// scorelift::invalid_argument naming the argument) into "error: <message>" and exit status 1,
/// instead of std::terminate's abort.
template <class Body>
int guarded_main(int argc, char** argv, Body body) {
  try {
    return body(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "\nerror: " << error.what() << '\n';
    return 1;
  }
}

}  // namespace scorelift::examples
