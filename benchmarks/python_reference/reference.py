"""PyTorch-in-Python reference of scorelift's objectives and training step.

An independent re-implementation of the formulas in shared/DESIGN.md, written the way a user of
PyTorch would write them (plain tensor ops, autograd for every gradient). It serves two purposes:
  * the side-by-side timing against scorelift's C++ (benchmarks/python_reference/bench.py);
  * a value check: on the same fixed inputs it must compute the same numbers as scorelift
    (benchmarks/python_reference/check.py, driven by the CTest test benchmarks/python_reference_agreement).

Notation (DESIGN.md): batch of B samples split into halves A = [0, B//2) and B = [B//2, B) (odd B: the
second half has one more sample, each half uses its own mean); L modes f_l ∈ R^{B×D} with signs κ_l;
f̃_l = κ_l f_l.
"""

import torch
from torch import nn


# ----------------------------------------------------------------------------------------------
# The score model: the same MLP as scorelift::torch (Linear layers with SiLU between them).
# ----------------------------------------------------------------------------------------------

def make_mlp(dim, hidden, depth, dtype=torch.float32):
    """dim → hidden → … → hidden → dim with `depth` hidden layers and SiLU activations.

    SiLU (swish, the paper's activation) rather than ReLU: the sliced objectives differentiate the
    model twice, and ReLU's second derivative is zero almost everywhere."""
    layers, width = [], dim
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    layers.append(nn.Linear(width, dim))
    return nn.Sequential(*layers).to(dtype)


def hutchinson_terms(f, x, probes, create_graph):
    """Per-probe Hutchinson terms h_m = v_mᵀ ∇ₓf v_m = v_mᵀ ∇ₓ(v_mᵀ f) and projections p_m = v_mᵀ f.

    One vector-Jacobian product per probe; E[v vᵀ] = I makes E_v[h] = tr ∇ₓf. probes: [M, B, D];
    returns ([M, B], [M, B]). create_graph keeps the graph so a loss built on h can be differentiated
    with respect to the parameters (the double backward of sliced score matching)."""
    terms, projections = [], []
    for v in probes:
        (jacobian_t_v,) = torch.autograd.grad((f * v).sum(), x, create_graph=create_graph, retain_graph=True)
        terms.append((jacobian_t_v * v).sum(dim=1))
        projections.append((f * v).sum(dim=1))
    return torch.stack(terms), torch.stack(projections)


# ----------------------------------------------------------------------------------------------
# Objectives. Each returns a scalar tensor; autograd supplies every gradient.
# ----------------------------------------------------------------------------------------------

def ssm_loss(terms, projections):
    """Sliced score matching J_SSM = mean_{m,b} [ v_mᵀ∇f(x_b) v_m + ½ (v_mᵀ f(x_b))² ] (Song et al. 2020)."""
    return (terms + 0.5 * projections * projections).mean()


def dsm_loss(f, target):
    """J_DSM = ½ mean_b ‖f(x̃_b) − t_b‖², t_b = s(x̃_b | x_b) = −ε_b/σ."""
    return 0.5 * ((f - target) ** 2).sum(dim=1).mean()


def lifted_loss(modes, target=None, divergence=None, signs=None):
    """Lifted residual objective, mean over levels l of

        L_l = −c_A[l]·c_B[l] + ½ G_A[l,l]·G_B[l,l],
        c_h[l] = a_h[l] − Σ_{i<l} G_h[l,i],
        a_h[l] = mean_{b∈h} ⟨t_b, f̃_{b,l}⟩              (target given: LDSE)
               = −mean_{b∈h} κ_{b,l} tr∇f_l(x_b)        (divergence given: sliced LSE),
        G_h[l,k] = mean_{b∈h} ⟨f̃_{b,l}, f̃_{b,k}⟩.

    signs: one entry per level, a number (global κ_l) or a length-B tensor (κ_{b,l}); None means +1.
    Semi-gradient: inside L_l the earlier modes f̃_i (i < l) are constants, so they enter detached.
    Returns (value, level_values, residual_alignment) where residual_alignment[l] =
    mean_b ⟨r_l(x_b), f_l(x_b)⟩ over the whole batch (r_l = s − Σ_{i<l} κ_i f_i), the sign tracker's input.
    """
    assert (target is None) != (divergence is None), "exactly one of target / divergence"
    levels = len(modes)
    batch = modes[0].shape[0]
    if signs is None:
        signs = [1.0] * levels
    # κ_l as a vector of length 1 (global) or B (per sample); κ_l.unsqueeze(1) scales rows.
    kappas = [torch.as_tensor(k, dtype=modes[0].dtype).reshape(-1) for k in signs]
    signed = [k.unsqueeze(1) * f for k, f in zip(kappas, modes)]
    split = batch // 2
    halves = (slice(0, split), slice(split, batch))

    def inner_s(l):  # per-sample estimate of ⟨s, f̃_l⟩
        if target is not None:
            return (target * signed[l]).sum(dim=1)
        return -kappas[l] * divergence[l]

    level_values, alignment = [], []
    for l in range(levels):
        # Per sample: ⟨s, f̃_l⟩ − Σ_{i<l} ⟨f̃_i, f̃_l⟩ = ⟨r_l, f̃_l⟩, whose half-means are c_A[l], c_B[l].
        residual_dot = inner_s(l) - sum((signed[i].detach() * signed[l]).sum(dim=1) for i in range(l))
        squared_norm = (signed[l] * signed[l]).sum(dim=1)
        c = [residual_dot[h].mean() for h in halves]
        g = [squared_norm[h].mean() for h in halves]
        level_values.append(-c[0] * c[1] + 0.5 * g[0] * g[1])
        # ⟨r_l, f_l⟩ = κ_l ⟨r_l, f̃_l⟩ (κ_l² = 1), averaged over the whole batch.
        alignment.append((kappas[l] * residual_dot.detach()).mean())
    value = torch.stack(level_values).mean()
    return value, level_values, alignment


# ----------------------------------------------------------------------------------------------
# One training step per objective, the work timed by bench.py.
# ----------------------------------------------------------------------------------------------

def evaluate_objective(objective, models, x, draws, sigma, signs):
    """The loss of one step, differentiable in the parameters of `models` (one MLP per level).

    draws: the DSM noise ε [B, D], or Rademacher probes [M, L, B, D] (a probe per level and sample,
    as scorelift draws them). Returns (loss, divergences [L] of [B] or None, residual alignments or None).
    """
    if objective == "dsm":
        # x̃ = x + σε, Tweedie target t = s(x̃ | x) = −ε/σ.
        return dsm_loss(models[0](x + sigma * draws), -draws / sigma), None, None
    x = x.detach().requires_grad_(True)
    modes, terms, projections = [], [], []
    for l, model in enumerate(models):
        modes.append(model(x))
        h, p = hutchinson_terms(modes[-1], x, draws[:, l], create_graph=True)
        terms.append(h)
        projections.append(p)
    divergences = [h.mean(dim=0) for h in terms]
    if objective == "ssm":
        return ssm_loss(terms[0], projections[0]), divergences, None
    value, _, alignment = lifted_loss(modes, divergence=divergences, signs=signs)
    return value, divergences, alignment


class TrainingStep:
    """Forward, loss, backward and an Adam step of an MLP score model (L networks for lifted).

    objective ∈ {"ssm", "dsm", "lse"}; levels is L for "lse" (residual LSE when L > 1) and 1 otherwise.
    Signs follow the EMA tracker of DESIGN.md with β = 0.5 (κ = sgn A, sgn 0 = +1)."""

    def __init__(self, objective, levels=1, dim=2, hidden=128, depth=3, probes=1, sigma=0.1,
                 lr=1e-3, beta=0.5, seed=0, dtype=torch.float32):
        torch.manual_seed(seed)
        self.objective, self.probes, self.sigma, self.beta = objective, probes, sigma, beta
        self.models = nn.ModuleList(make_mlp(dim, hidden, depth, dtype) for _ in range(levels))
        self.optimizer = torch.optim.Adam(self.models.parameters(), lr=lr)
        self.alignment_ema = torch.zeros(levels, dtype=dtype)
        self.generator = torch.Generator().manual_seed(seed + 1)

    def signs(self):
        return [1.0 if a >= 0 else -1.0 for a in self.alignment_ema.tolist()]

    def draw(self, x):
        """The random draws of one step: Rademacher probes [M, L, B, D] (a probe per level, as
        scorelift draws them) or the DSM noise ε [B, D]."""
        if self.objective == "dsm":
            return torch.randn(x.shape, generator=self.generator, dtype=x.dtype)
        bits = torch.randint(0, 2, (self.probes, len(self.models)) + tuple(x.shape), generator=self.generator,
                             dtype=x.dtype)
        return bits.mul_(2).sub_(1)

    def evaluate(self, x, draws):
        return evaluate_objective(self.objective, self.models, x, draws, self.sigma, self.signs())

    def __call__(self, x):
        loss, _, alignment = self.evaluate(x, self.draw(x))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if alignment is not None:
            with torch.no_grad():
                self.alignment_ema.mul_(self.beta).add_((1 - self.beta) * torch.stack(alignment))
        return loss.detach()


def eight_gaussians(count, generator, dtype=torch.float32):
    """The 2-D eight-Gaussians target: centres on the circle of radius 4/√2, std 0.5/√2, equal weights."""
    angles = torch.randint(0, 8, (count,), generator=generator).to(dtype) * (torch.pi / 4)
    centres = (4 / 2 ** 0.5) * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return centres + (0.5 / 2 ** 0.5) * torch.randn(count, 2, generator=generator, dtype=dtype)
