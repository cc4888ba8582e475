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
    # Adagrad: every option alone and together.
    Case("adagrad", fastopt.Adagrad, reference.Adagrad, dict(lr=0.1), ("sum",)),
    Case("adagrad", fastopt.Adagrad, reference.Adagrad, dict(lr=0.1, lr_decay=0.05), ("sum",)),
    Case("adagrad", fastopt.Adagrad, reference.Adagrad, dict(lr=0.1, weight_decay=0.1), ("sum",)),
    Case("adagrad", fastopt.Adagrad, reference.Adagrad, dict(lr=0.1, initial_accumulator_value=0.5), ("sum",)),
    Case("adagrad", fastopt.Adagrad, reference.Adagrad, dict(lr=0.1, eps=1e-3, maximize=True), ("sum",)),
    Case("adagrad", fastopt.Adagrad, reference.Adagrad,
         dict(lr=0.05, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6, maximize=True),
         ("sum",)),
    # RMSprop: every combination of L2, centered, momentum, maximize; alpha on both sides of the lerp switch.
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01), ("square_avg",)),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, maximize=True), ("square_avg",)),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, weight_decay=0.1), ("square_avg",)),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, momentum=0.9), ("square_avg", "momentum_buffer")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, centered=True), ("square_avg", "grad_avg")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, centered=True, alpha=0.3), ("square_avg", "grad_avg")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, momentum=0.5, centered=True), ("square_avg", "momentum_buffer", "grad_avg")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, weight_decay=0.05, momentum=0.5, maximize=True), ("square_avg", "momentum_buffer")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.01, weight_decay=0.05, centered=True, alpha=0.4, eps=1e-4), ("square_avg", "grad_avg")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.005, alpha=0.9, weight_decay=0.05, momentum=0.8, centered=True, maximize=True),
         ("square_avg", "momentum_buffer", "grad_avg")),
    Case("rmsprop", fastopt.RMSprop, reference.RMSprop,
         dict(lr=0.005, alpha=0.2, momentum=0.8, centered=True), ("square_avg", "momentum_buffer", "grad_avg")),
    # Adadelta: each option, rho at both ends of its range.
    Case("adadelta", fastopt.Adadelta, reference.Adadelta, dict(), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta, dict(lr=0.5, maximize=True), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta,
         dict(rho=0.5, weight_decay=0.1), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta, dict(rho=0.95, eps=1e-3), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta, dict(lr=0.1, rho=1.0), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta, dict(lr=2.0, rho=0.0), ("square_avg", "acc_delta")),
    Case("adadelta", fastopt.Adadelta, reference.Adadelta,
         dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.05, maximize=True), ("square_avg", "acc_delta")),
    # Adamax: each option; beta1 on both sides of the lerp switch.
    Case("adamax", fastopt.Adamax, reference.Adamax, dict(lr=0.01), ("exp_avg", "exp_inf")),
    Case("adamax", fastopt.Adamax, reference.Adamax, dict(lr=0.01, maximize=True), ("exp_avg", "exp_inf")),
    Case("adamax", fastopt.Adamax, reference.Adamax, dict(lr=0.01, weight_decay=0.1), ("exp_avg", "exp_inf")),
    Case("adamax", fastopt.Adamax, reference.Adamax,
         dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3), ("exp_avg", "exp_inf")),
    Case("adamax", fastopt.Adamax, reference.Adamax, dict(lr=0.01, betas=(0.0, 0.5)), ("exp_avg", "exp_inf")),
    Case("adamax", fastopt.Adamax, reference.Adamax,
         dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, maximize=True), ("exp_avg", "exp_inf")),
    # RAdam (20 steps: rho_t crosses 5 at step 6 with beta2=0.999, never with beta2=0.5).
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01, maximize=True), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01, weight_decay=0.1), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.01, betas=(0.9, 0.5)), ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, decoupled_weight_decay=True, maximize=True),
         ("exp_avg", "exp_avg_sq")),
    Case("radam", fastopt.RAdam, reference.RAdam,
         dict(lr=0.005, betas=(0.2, 0.95), weight_decay=0.05, maximize=True), ("exp_avg", "exp_avg_sq")),
    # NAdam: each option; beta1 on both sides of the lerp switch.
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, maximize=True), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, weight_decay=0.1), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, betas=(0.3, 0.9), eps=1e-3), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, momentum_decay=0.1), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.01, momentum_decay=0.0, betas=(0.0, 0.99)), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, momentum_decay=0.02,
              decoupled_weight_decay=True, maximize=True), ("exp_avg", "exp_avg_sq")),
    Case("nadam", fastopt.NAdam, reference.NAdam,
         dict(lr=0.005, betas=(0.2, 0.95), weight_decay=0.05, maximize=True), ("exp_avg", "exp_avg_sq")),
    Case("lamb", fastopt.LAMB, reference.LAMB, dict(lr=0.01), ("exp_avg", "exp_avg_sq")),
    Case("lamb", fastopt.LAMB, reference.LAMB, dict(lr=0.01, weight_decay=0.1), ("exp_avg", "exp_avg_sq")),
    Case("lamb", fastopt.LAMB, reference.LAMB, dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3, maximize=True),
         ("exp_avg", "exp_avg_sq")),
    Case("lamb", fastopt.LAMB, reference.LAMB, dict(lr=0.01, weight_decay=0.01, maximize=True),
         ("exp_avg", "exp_avg_sq")),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.1), ("momentum_buffer",)),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.1, momentum=0.0, weight_decay=0.01)),
    Case("lars", fastopt.LARS, reference.LARS,
         dict(lr=0.1, weight_decay=0.05, trust_coefficient=0.02, eps=0.0), ("momentum_buffer",)),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.1, nesterov=True, maximize=True, weight_decay=0.01),
         ("momentum_buffer",)),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.1, dampening=0.3, momentum=0.8), ("momentum_buffer",)),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.05, lars_exclude=True, weight_decay=0.01),
         ("momentum_buffer",)),
    Case("lars", fastopt.LARS, reference.LARS, dict(lr=0.05, lars_exclude=True, momentum=0.0, maximize=True)),
    # Adafactor: each option; state is checked in tests/test_adafactor.py (its buffers' shapes
    # differ between params). 20 steps cross the lerp switch (w < 0.5 from t = 3 with -0.8).
    Case("adafactor", fastopt.Adafactor, reference.Adafactor, dict(lr=0.01)),
    Case("adafactor", fastopt.Adafactor, reference.Adafactor, dict(lr=0.1, weight_decay=0.1)),
    Case("adafactor", fastopt.Adafactor, reference.Adafactor, dict(lr=0.01, maximize=True)),
    Case("adafactor", fastopt.Adafactor, reference.Adafactor, dict(lr=0.01, eps=(1e-3, 1e-2), d=2.0)),
    Case("adafactor", fastopt.Adafactor, reference.Adafactor,
         dict(lr=0.02, beta2_decay=-0.3, eps=(None, 0.0))),
    Case("adafactor", fastopt.Adafactor, reference.Adafactor,
         dict(lr=0.05, beta2_decay=-1.0, eps=(1e-4, 1e-3), d=1.5, weight_decay=0.2, maximize=True)),
]


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

def _curvature(grads):
    """A deterministic diagonal 'Hessian' for the generic tests: g*g (>= 0, same dtype)."""
    if isinstance(grads, dict):
        return {k: None if g is None else g * g for k, g in grads.items()}
    return [None if g is None else g * g for g in grads]


class _DiagonalLMFromGrads(fastopt.DiagonalLM):
    """DiagonalLM driven by step(grads) alone (hessian_diag = g*g), for the generic tests."""

    def step(self, grads=None, hessian_diag=None, closure=None):
        if closure is not None:
            def closure2(f=closure):
                loss, g = f()
                return loss, g, _curvature(g)
            return super().step(closure=closure2)
        return super().step(grads, _curvature(grads) if hessian_diag is None else hessian_diag)


class _DiagonalLMRefFromGrads(reference.DiagonalLM):
    def step(self, grads, hessian_diag=None):
        super().step(grads, _curvature(grads) if hessian_diag is None else hessian_diag)


CASES += [
    Case("diag_lm", _DiagonalLMFromGrads, _DiagonalLMRefFromGrads, dict(lr=0.05)),
    Case("diag_lm", _DiagonalLMFromGrads, _DiagonalLMRefFromGrads, dict(lr=0.05, mu=0.5, maximize=True)),
    Case("diag_lm", _DiagonalLMFromGrads, _DiagonalLMRefFromGrads, dict(lr=0.05, hessian_decay=0.9),
         ("hessian_avg",)),
    Case("diag_lm", _DiagonalLMFromGrads, _DiagonalLMRefFromGrads,
         dict(lr=0.02, mu=0.1, hessian_decay=0.0, maximize=True), ("hessian_avg",)),
]

_NS = fastopt.NoisySGD
CASES += [
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.1)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.1, noise_eta=0.3, seed=2**64 - 5, maximize=True)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.1, weight_decay=0.05, noise_eta=1.0, noise_gamma=0.3)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.05, momentum=0.9, seed=3), ("momentum_buffer",)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.05, momentum=0.9, dampening=0.3), ("momentum_buffer",)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.05, momentum=0.9, nesterov=True), ("momentum_buffer",)),
    Case("noisy_sgd", _NS, reference.NoisySGD,
         dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01, maximize=True), ("momentum_buffer",)),
    Case("noisy_sgd", _NS, reference.NoisySGD, dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1),
         ("momentum_buffer",)),
]

ONE_PER_RULE = list({c.name: c for c in reversed(CASES)}.values())[::-1]
