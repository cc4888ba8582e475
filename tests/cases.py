"""The registry of optimizer configurations every generic test runs over.

One entry per (rule, option set): the fastopt class, its NumPy reference
(fastopt.reference) and keyword arguments shared by both. Adding a rule means
adding its rows here; the parity, invariants and threading tests pick them up.
"""
from dataclasses import dataclass, field

import fastopt
from fastopt import reference


@dataclass(frozen=True)
class Case:
    name: str
    cls: type
    ref: type
    kwargs: dict = field(default_factory=dict)
    state_keys: tuple = ()  # buffers that must exist after a step

    @property
    def id(self):
        opts = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}[{opts}]"


CASES = [
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.1)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.1, maximize=True)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.1, weight_decay=0.05)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.05, momentum=0.9), ("momentum_buffer",)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.05, momentum=0.9, dampening=0.3), ("momentum_buffer",)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.05, momentum=0.9, nesterov=True), ("momentum_buffer",)),
    Case("sgd", fastopt.SGD, reference.SGD,
         dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True), ("momentum_buffer",)),
    Case("sgd", fastopt.SGD, reference.SGD, dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1),
         ("momentum_buffer",)),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.01), ("exp_avg", "exp_avg_sq")),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.01, amsgrad=True),
         ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.01, weight_decay=0.1), ("exp_avg", "exp_avg_sq")),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.01, maximize=True, amsgrad=True, weight_decay=0.05),
         ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.02, betas=(0.3, 0.9), eps=1e-6),
         ("exp_avg", "exp_avg_sq")),
    Case("adam", fastopt.Adam, reference.Adam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
         ("exp_avg", "exp_avg_sq")),
    Case("adamw", fastopt.AdamW, reference.AdamW, dict(lr=0.01), ("exp_avg", "exp_avg_sq")),
    Case("adamw", fastopt.AdamW, reference.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True),
         ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")),
    Case("adamw", fastopt.AdamW, reference.AdamW, dict(lr=0.01, betas=(0.0, 0.99), maximize=True),
         ("exp_avg", "exp_avg_sq")),
]

#: One representative configuration per rule (for the expensive tests).
ONE_PER_RULE = list({c.name: c for c in reversed(CASES)}.values())[::-1]

# ---- rules-b: Rprop, ASGD, AdaBelief, Lion, NoisySGD, DiagonalLM ----
_RPROP = ("prev", "step_size")
CASES += [
    Case("rprop", fastopt.Rprop, reference.Rprop, dict(), _RPROP),
    Case("rprop", fastopt.Rprop, reference.Rprop, dict(lr=0.05, maximize=True), _RPROP),
    Case("rprop", fastopt.Rprop, reference.Rprop, dict(lr=0.01, etas=(0.3, 1.7), step_sizes=(1e-3, 0.2)), _RPROP),
]
CASES += [
    Case("asgd", fastopt.ASGD, reference.ASGD, dict(lr=0.05), ("ax",)),
    Case("asgd", fastopt.ASGD, reference.ASGD, dict(lr=0.05, t0=5, weight_decay=0.1), ("ax",)),
    Case("asgd", fastopt.ASGD, reference.ASGD, dict(lr=0.1, lambd=0.01, alpha=0.5, t0=3, maximize=True), ("ax",)),
    Case("asgd", fastopt.ASGD, reference.ASGD, dict(lr=0.05, t0=-2.5, weight_decay=0.05, maximize=True), ("ax",)),
]

# rules-b: end of rows
CASES += [
    Case("lion", fastopt.Lion, reference.Lion, dict(lr=0.01), ("exp_avg",)),
    Case("lion", fastopt.Lion, reference.Lion, dict(lr=0.01, weight_decay=0.1), ("exp_avg",)),
    Case("lion", fastopt.Lion, reference.Lion, dict(lr=0.02, betas=(0.5, 0.9), weight_decay=0.05, maximize=True),
         ("exp_avg",)),
]

_AB = ("exp_avg", "exp_avg_var")
CASES += [
    Case("adabelief", fastopt.AdaBelief, reference.AdaBelief, dict(lr=0.01), _AB),
    Case("adabelief", fastopt.AdaBelief, reference.AdaBelief, dict(lr=0.01, weight_decay=0.1), _AB),
    Case("adabelief", fastopt.AdaBelief, reference.AdaBelief,
         dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=False, maximize=True), _AB),
    Case("adabelief", fastopt.AdaBelief, reference.AdaBelief, dict(lr=0.02, betas=(0.3, 0.9), eps=1e-8, eps_root=0.0),
         _AB),
]

ONE_PER_RULE = list({c.name: c for c in reversed(CASES)}.values())[::-1]
