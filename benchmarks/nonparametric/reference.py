"""NumPy/SciPy reference of scorelift's nonparametric score estimators, timed like bench_nonparametric.

The same algorithms as include/scorelift/nonparametric/, written as a NumPy user would write them
well: squared distances by one GEMM (no N×N×D tensors), SciPy's LAPACK Cholesky and eigensolver,
matrix-free curl-free products. The fit of each estimator includes, as in C++, the median-heuristic
bandwidth, the kernel matrices, the Stein target ζ̂ and the solve.

Usage: /usr/bin/python3 reference.py --out times.json [--filter REGEX] [--check]
  --check compares a few estimates with closed forms first (sanity of the reference itself).
Prints nothing else; run_comparison.sh joins the JSON with Google Benchmark's.
"""

import argparse
import json
import re
import time

import numpy as np
import scipy.linalg as sla

DIM = 16


# ---------------------------------------------------------------------------------------------
# Pairwise pieces, profiles, kernels
# ---------------------------------------------------------------------------------------------

def sqdist(x, y):
    s = -2.0 * (x @ y.T)
    s += (x * x).sum(1)[:, None]
    s += (y * y).sum(1)[None, :]
    return np.maximum(s, 0.0, out=s)


def weighted_differences(c, x, y):
    """Row i: sum_j c_ij (x_i - y_j)."""
    return c.sum(1)[:, None] * x - c @ y


def median_bandwidth(x):
    n = x.shape[0]
    m = min(n, 1024)
    sub = x[(np.arange(m) * n) // m]
    v = sqdist(sub, sub)[np.triu_indices(m, 1)]
    k = len(v) // 2
    return float(np.sqrt(np.partition(v, k)[k]))


def gaussian(sigma):
    rate = -1.0 / (2 * sigma * sigma)
    return lambda s, k: rate ** k * np.exp(rate * s)


def imq(sigma, power=0.5):
    def psi(s, k):
        c = 1.0
        for j in range(k):
            c *= (-power - j) / sigma ** 2
        return c * (1.0 + s / sigma ** 2) ** (-power - k)
    return psi


class DiagonalBlock:
    def __init__(self, psi, x, y):
        self.x, self.y, self.psi = x, y, psi
        self.s = sqdist(x, y)
        self.k = psi(self.s, 0)

    def apply(self, w):
        return self.k @ w

    def divergence_sum(self):
        return weighted_differences(-2.0 * self.psi(self.s, 1), self.x, self.y)

    def dense(self):
        return self.k

    def norm_bound(self):
        return np.abs(self.k).sum(1).max()


class CurlFreeBlock:
    def __init__(self, psi, x, y):
        self.x, self.y, self.psi = x, y, psi
        self.s = sqdist(x, y)
        self.a = -2.0 * psi(self.s, 1)
        self.b = -4.0 * psi(self.s, 2)

    def apply(self, w):
        p = self.x @ w.T - (self.y * w).sum(1)[None, :]
        return weighted_differences(self.b * p, self.x, self.y) + self.a @ w

    def divergence_sum(self):
        d = self.x.shape[1]
        c = 4.0 * ((d + 2) * self.psi(self.s, 2) + 2.0 * self.s * self.psi(self.s, 3))
        return weighted_differences(c, self.x, self.y)

    def dense(self):
        n, m, d = self.x.shape[0], self.y.shape[0], self.x.shape[1]
        r = self.x[:, None, :] - self.y[None, :, :]
        blocks = self.b[:, :, None, None] * r[:, :, :, None] * r[:, :, None, :]
        blocks += self.a[:, :, None, None] * np.eye(d)
        return blocks.transpose(0, 2, 1, 3).reshape(n * d, m * d)

    def norm_bound(self):
        return np.maximum(np.abs(self.a), np.abs(self.a + self.b * self.s)).sum(1).max()


def stein_target(block, n):
    return -block.divergence_sum() / n


# ---------------------------------------------------------------------------------------------
# Estimators: each returns the fitted expansion (alpha, centres, weights) like kernel_expansion
# ---------------------------------------------------------------------------------------------

def stein(x, eta=1.0):
    n = x.shape[0]
    blk = DiagonalBlock(gaussian(median_bandwidth(x)), x, x)
    zeta = stein_target(blk, n)
    lam = eta / n
    a = blk.dense()
    a.flat[::n + 1] += n * lam  # the ridge in place: no N x N identity or sum
    c = sla.cho_solve(sla.cho_factor(a, lower=True, overwrite_a=True, check_finite=False), n * zeta,
                      check_finite=False)
    return 1.0 / lam, x, -c / (n * lam)


def ssge(x, tau=0.01):
    n = x.shape[0]
    blk = DiagonalBlock(gaussian(median_bandwidth(x)), x, x)
    mu, u = sla.eigh(blk.dense(), driver="evd", check_finite=False)
    keep = mu >= tau * mu[-1]
    u, mu = u[:, keep], mu[keep]
    zeta = stein_target(blk, n)
    return 0.0, x, u @ ((n / mu ** 2)[:, None] * (u.T @ zeta))


def tikhonov_cg_curl_free(x, lam=1e-3, tol=1e-6, max_iterations=1000):
    n = x.shape[0]
    blk = CurlFreeBlock(gaussian(median_bandwidth(x)), x, x)
    b = stein_target(blk, n)
    c = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = bb = float((r * r).sum())
    it = 0
    while rr > tol * tol * bb and it < max_iterations:
        q = blk.apply(p) / n + lam * p
        alpha = rr / float((p * q).sum())
        c += alpha * p
        r -= alpha * q
        rr_next = float((r * r).sum())
        p = r + (rr_next / rr) * p
        rr = rr_next
        it += 1
    return 1.0 / lam, x, -c / (n * lam)


def nu_coefficients(t, nu):
    if t == 1:
        return 0.0, (4 * nu + 2) / (4 * nu + 1)
    u = (t - 1) * (2 * t - 3) * (2 * t + 2 * nu - 1) / ((t + 2 * nu - 1) * (2 * t + 4 * nu - 1) * (2 * t + 2 * nu - 3))
    omega = 4 * (2 * t + 2 * nu - 1) * (t + nu - 1) / ((t + 2 * nu - 1) * (2 * t + 4 * nu - 1))
    return u, omega


def iterate(blk, n, iterations, coefficients):
    zeta = stein_target(blk, n)
    eta = 1.0 / (blk.norm_bound() / n)
    alpha = alpha_prev = 0.0
    beta = np.zeros_like(zeta); beta_prev = beta.copy()
    h = beta.copy(); h_prev = beta.copy()
    for t in range(1, iterations + 1):
        u, omega = coefficients(t)
        we = omega * eta
        residual = zeta - blk.apply(h) / n
        alpha, alpha_prev = alpha + u * (alpha - alpha_prev) + we, alpha
        beta, beta_prev = beta + u * (beta - beta_prev) - we * h, beta
        h, h_prev = h + u * (h - h_prev) + we * residual, h
    return alpha, blk.x, beta / n


def nu_method_curl_free(x, iterations=10, nu=1.0):
    blk = CurlFreeBlock(imq(median_bandwidth(x)), x, x)
    return iterate(blk, x.shape[0], iterations, lambda t: nu_coefficients(t, nu))


def landweber_diagonal(x, iterations=10):
    blk = DiagonalBlock(gaussian(median_bandwidth(x)), x, x)
    return iterate(blk, x.shape[0], iterations, lambda t: (0.0, 1.0))


def nystrom(x, block_type, psi_of_sigma, m, lam=1e-3, seed=0, chunk=256):
    n, d = x.shape
    psi = psi_of_sigma(median_bandwidth(x))
    z = x[np.random.default_rng(seed).choice(n, m, replace=False)]
    mu, v = sla.eigh(block_type(psi, z, z).dense(), driver="evd", check_finite=False)
    keep = mu > mu.size * np.finfo(float).eps * mu[-1]
    p = v[:, keep] / np.sqrt(mu[keep])
    gram = np.zeros((p.shape[1], p.shape[1]))
    for begin in range(0, n, chunk):
        phi = block_type(psi, x[begin:begin + chunk], z).dense() @ p
        gram += phi.T @ phi
    gram[np.diag_indices_from(gram)] += n * lam
    zeta = stein_target(block_type(psi, z, x), n)
    rhs = zeta if block_type is DiagonalBlock else zeta.reshape(-1, 1)
    theta = sla.cho_solve(sla.cho_factor(gram, lower=True, check_finite=False), n * (p.T @ rhs), check_finite=False)
    return 0.0, z, (p @ theta).reshape(m, d)


ESTIMATORS = {
    "stein": (stein, [250, 500, 1000, 2000, 4000]),
    "ssge": (ssge, [250, 500, 1000, 2000]),
    "tikhonov_cg_curl_free": (tikhonov_cg_curl_free, [250, 500, 1000, 2000, 4000]),
    "nu_method_curl_free": (nu_method_curl_free, [250, 500, 1000, 2000, 4000]),
    "landweber_diagonal": (landweber_diagonal, [250, 500, 1000, 2000, 4000]),
    "nystrom_diagonal_m100": (lambda x: nystrom(x, DiagonalBlock, gaussian, 100), [250, 500, 1000, 2000, 4000]),
    "nystrom_curl_free_m50": (lambda x: nystrom(x, CurlFreeBlock, gaussian, 50), [250, 500, 1000, 2000, 4000]),
}


def score(fitted, x, queries, block_type, psi):
    """s(q) = alpha zeta(q) + K(q, Z) W — used by --check only."""
    alpha, centres, weights = fitted
    out = block_type(psi, queries, centres).apply(weights)
    if alpha:
        out -= alpha / x.shape[0] * block_type(psi, queries, x).divergence_sum()
    return out


def check():
    """The reference must itself estimate -x on N(0, I): the same bounds as tests/nonparametric."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 10))
    q = rng.standard_normal((256, 10))
    sigma = median_bandwidth(x)
    for name, fit, block_type, psi in [("stein", stein, DiagonalBlock, gaussian(sigma)),
                                       ("ssge", ssge, DiagonalBlock, gaussian(sigma)),
                                       ("tikhonov_cg_curl_free", tikhonov_cg_curl_free, CurlFreeBlock, gaussian(sigma)),
                                       ("nu_method_curl_free", nu_method_curl_free, CurlFreeBlock, imq(sigma))]:
        est = score(fit(x), x, q, block_type, psi)
        err = np.sqrt(((est + q) ** 2).sum() / (q ** 2).sum())
        assert err < 0.6, f"reference {name}: relative error {err:.3f}"


def time_fit(fit, x, min_time=0.5):
    """Mean CPU time per fit over as many fits as fill min_time (Google Benchmark's rule), at least one.

    CPU time of this process, not wall time, like Google Benchmark's default: the machine is shared,
    and with one BLAS thread (run_comparison.sh sets it) CPU time is the work done."""
    fit(x)  # warm-up (allocations)
    runs, start = 0, time.process_time()
    while True:
        fit(x)
        runs += 1
        elapsed = time.process_time() - start
        if elapsed >= min_time:
            return elapsed / runs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--filter", default=".", help="regular expression on the benchmark names")
    args = parser.parse_args()
    if args.check:
        check()
    times = {}
    for name, (fit, sizes) in ESTIMATORS.items():
        for n in sizes:
            if not re.search(args.filter, f"{name}/{n}"):
                continue
            x = np.random.default_rng(1).standard_normal((n, DIM))
            times[f"{name}/{n}"] = time_fit(fit, x)
    if re.search(args.filter, "stein_fit_and_score/100"):
        x = np.random.default_rng(1).standard_normal((100, DIM))
        sigma = median_bandwidth(x)
        times["stein_fit_and_score/100"] = time_fit(lambda y: score(stein(y), y, y, DiagonalBlock, gaussian(sigma)), x)
    with open(args.out, "w") as f:
        json.dump(times, f, indent=1)


if __name__ == "__main__":
    main()
