#!/usr/bin/env python3
"""Evaluates the Python reference on fixed inputs written by scorelift's C++ side.

  check.py inputs.json outputs.json

inputs.json (written by benchmarks/training_step/python_agreement.cpp) holds
  "lifted":   cases {modes [L][B][D], target [B][D] | divergence [L][B], signs [L] (number or [B])}
  "training": cases {objective, levels, hidden, depth, x [B][D], probes [M][B][D] | noise [B][D], sigma,
                     signs [L], parameters [L][tensors] as {shape, values (row-major)}}
            (probes [M][L][B][D]: one probe per level and sample, as scorelift draws them)
and outputs.json receives, per case, the value and every gradient the reference computes with autograd
(double precision throughout), for the C++ side to compare with its own. Exit status 77 when this
interpreter has no torch, which CTest reports as a skipped test.
"""

import json
import sys

try:
    import torch
except ImportError:
    print("check.py: this python3 has no torch (apt install python3-torch); skipping", file=sys.stderr)
    sys.exit(77)

import reference

DTYPE = torch.float64


def tensor(values):
    return torch.tensor(values, dtype=DTYPE)


def lifted_case(case):
    modes = [tensor(f).requires_grad_() for f in case["modes"]]
    signs = [s if isinstance(s, (int, float)) else tensor(s) for s in case["signs"]]
    inputs, kwargs = list(modes), {"signs": signs}
    if case.get("target") is not None:
        kwargs["target"] = tensor(case["target"]).requires_grad_()
        inputs.append(kwargs["target"])
    else:
        kwargs["divergence"] = [tensor(d).requires_grad_() for d in case["divergence"]]
        inputs += kwargs["divergence"]
    value, level_values, alignment = reference.lifted_loss(modes, **kwargs)
    grads = torch.autograd.grad(value, inputs)
    levels = len(modes)
    out = {"value": value.item(), "level_values": [v.item() for v in level_values],
           "residual_alignment": [a.item() for a in alignment],
           "grad_modes": [g.tolist() for g in grads[:levels]]}
    if "target" in kwargs:
        out["grad_target"] = grads[levels].tolist()
    else:
        out["grad_divergence"] = [g.tolist() for g in grads[levels:]]
    return out


def training_case(case):
    levels = case["levels"]
    models = [reference.make_mlp(len(case["x"][0]), case["hidden"], case["depth"], DTYPE) for _ in range(levels)]
    for model, stored in zip(models, case["parameters"]):
        parameters = list(model.parameters())
        assert len(parameters) == len(stored), "parameter count differs from the C++ model"
        with torch.no_grad():
            for p, s in zip(parameters, stored):
                p.copy_(tensor(s["values"]).reshape(s["shape"]))
    draws = tensor(case["noise"] if case["objective"] == "dsm" else case["probes"])
    loss, divergences, alignment = reference.evaluate_objective(case["objective"], models, tensor(case["x"]), draws,
                                                                case["sigma"], case["signs"])
    out = {}
    if divergences is not None:
        out["divergence"] = [d.tolist() for d in divergences]
    if alignment is not None:
        out["residual_alignment"] = [a.item() for a in alignment]
    grads = torch.autograd.grad(loss, [p for m in models for p in m.parameters()])
    per_level = len(grads) // levels
    out["loss"] = loss.item()
    out["grad_parameters"] = [[g.reshape(-1).tolist() for g in grads[l * per_level:(l + 1) * per_level]]
                              for l in range(levels)]
    return out


def main():
    inputs_path, outputs_path = sys.argv[1:3]
    with open(inputs_path) as f:
        inputs = json.load(f)
    outputs = {"lifted": [lifted_case(c) for c in inputs.get("lifted", [])],
               "training": [training_case(c) for c in inputs.get("training", [])]}
    with open(outputs_path, "w") as f:
        json.dump(outputs, f)


if __name__ == "__main__":
    main()
