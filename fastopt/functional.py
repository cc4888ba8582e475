"""Stateless update rules, for frameworks that own their optimizer state.

Each function updates ``params`` and the state buffers in place with one fused
pass (one C call per dtype), using exactly the math of the matching optimizer
class. All lists are aligned: ``params[i]``, ``grads[i]``, ``exp_avgs[i]`` ...
belong to the same parameter. ``step`` is the 1-based number of the step being
taken (what the classes keep in ``state['step']`` after incrementing); pass an
int for all params, or a sequence with one count per param.

Pointer tables are built on every call (the classes cache theirs), so for
many small tensors prefer the classes.
"""
import numpy as np

from . import _engine, _threads
from . import _validation as V
from ._params import by_dtype
from .adam import Adam
from .sgd import SGD

__all__ = ["sgd_", "adam_", "adamw_", "adagrad_", "rmsprop_", "adadelta_", "adamax_", "radam_", "nadam_",
           "lamb_", "lars_", "sparse_adam_", "muon_", "rprop_", "asgd_", "lion_", "adabelief_", "diag_lm_",
           "noisy_sgd_", "adafactor_"]


def _labels(n):
    return [f"params[{i}]" for i in range(n)]


def _run(rule_cls, group, params, grads, buffers, bufnames, steps, n_threads, flush_denormals):
    """Validate, then run `rule_cls`'s kernel over the params grouped by step count."""
    params = list(params)
    n = len(params)
    labels = _labels(n)
    _engine.check_params(params, labels)
    hit = _engine.find_overlap(params)
    if hit is not None:
        raise ValueError(f"{labels[hit[1]]}: shares memory with {labels[hit[0]]}")
    grads = list(grads)
    if len(grads) != n:
        raise ValueError(f"grads: expected {n} arrays, got {len(grads)}")
    bufs = {}
    for name, lst in buffers.items():
        if lst is None:
            continue
        lst = list(lst)
        if len(lst) != n:
            raise ValueError(f"{name}: expected {n} arrays, got {len(lst)}")
        _engine.check_params(lst, [f"{name}[{i}]" for i in range(n)])
        for i, (b, p) in enumerate(zip(lst, params)):
            if b.shape != p.shape or b.dtype != p.dtype:
                raise ValueError(f"{name}[{i}]: shape/dtype {b.shape}/{b.dtype} does not match "
                                 f"params[{i}] {p.shape}/{p.dtype}")
        bufs[name] = lst
    written = params + [b for lst in bufs.values() for b in lst]
    owners = labels + [f"{k}[{i}]" for k, lst in bufs.items() for i in range(len(lst))]
    hit = _engine.find_overlap(written)
    if hit is not None:
        raise ValueError(f"{owners[hit[1]]}: shares memory with {owners[hit[0]]}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        steps = [int(steps)] * n
    steps = [V.integer("step", s) for s in steps]
    if len(steps) != n:
        raise ValueError(f"step: expected an int or {n} counts, got {len(steps)}")
    if any(s < 1 for s in steps):
        raise ValueError("step: step numbers are 1-based and must be >= 1")
    rule_cls._check_group(rule_cls, group, None)  # class as self: checks are class data
    ws = _engine.WritableSet(written, owners)
    rule_id = _engine.RULES[rule_cls.rule]
    nt = _threads.resolve(_threads.check_n_threads(n_threads))
    by_step = {}
    for i, s in enumerate(steps):
        by_step.setdefault(s, []).append(i)
    work = []
    for s, idx in sorted(by_step.items()):
        for sub in by_dtype(params, idx):
            slots = [[params[i] for i in sub], _engine.INPUT]
            for name in bufnames:
                slots.append(None if name is None else [bufs[name][i] for i in sub])
            plan = _engine.Plan(slots, [labels[i] for i in sub])
            missing = plan.bind(1, [grads[i] for i in sub], ws)
            if missing:
                raise ValueError(f"grads: entry for {labels[sub[missing[0]]]} is None")
            work.append((plan, s))
    for plan, s in work:
        scalars, flags = rule_cls._scalars(None, group, s)
        plan.run(rule_id, scalars, flags, nt, flush_denormals)


def sgd_(params, grads, momentum_buffers=None, *, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
         nesterov=False, maximize=False, step=1, n_threads=None, flush_denormals=False):
    """In-place SGD step (see :class:`fastopt.SGD` for the math).

    ``momentum_buffers`` is required when momentum != 0; at ``step == 1`` the
    buffers are overwritten with the gradient (torch's first-step rule), so
    they may hold anything.
    """
    group = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                 maximize=maximize)
    if momentum != 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers: required when momentum != 0")
    names = ("momentum_buffer",) if momentum != 0 else (None,)
    _run(SGD, group, params, grads, {"momentum_buffer": momentum_buffers if momentum != 0 else None}, names,
         step, n_threads, flush_denormals)


def adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, beta1=0.9,
          beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False, decoupled_weight_decay=False,
          n_threads=None, flush_denormals=False):
    """In-place Adam step (see :class:`fastopt.Adam` for the math)."""
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                 maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
    if amsgrad and max_exp_avg_sqs is None:
        raise ValueError("max_exp_avg_sqs: required when amsgrad=True")
    names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None)
    bufs = {"exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs, "max_exp_avg_sq": max_exp_avg_sqs if amsgrad else None}
    _run(Adam, group, params, grads, bufs, names, step, n_threads, flush_denormals)


def adamw_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs=None, *, step, lr=1e-3, beta1=0.9,
           beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False, n_threads=None,
           flush_denormals=False):
    """In-place AdamW step (see :class:`fastopt.AdamW` for the math)."""
    adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, step=step, lr=lr, beta1=beta1, beta2=beta2,
          eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
          n_threads=n_threads, flush_denormals=flush_denormals)


from .adagrad import Adagrad  # noqa: E402  (rules appended below keep their imports with them)


def adagrad_(params, grads, state_sums, *, step, lr=1e-2, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
             maximize=False, n_threads=None, flush_denormals=False):
    """In-place Adagrad step (see :class:`fastopt.Adagrad` for the math).

    ``state_sums`` are the accumulators (torch's ``sum`` state); fill them
    with the initial accumulator value before the first step."""
    group = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, initial_accumulator_value=0.0, eps=eps,
                 maximize=maximize)
    _run(Adagrad, group, params, grads, {"sum": state_sums}, ("sum",), step, n_threads, flush_denormals)


from .rmsprop import RMSprop  # noqa: E402


def rmsprop_(params, grads, square_avgs, momentum_buffers=None, grad_avgs=None, *, step, lr=1e-2, alpha=0.99,
             eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False, n_threads=None,
             flush_denormals=False):
    """In-place RMSprop step (see :class:`fastopt.RMSprop` for the math).

    ``momentum_buffers`` are required when momentum > 0, ``grad_avgs`` when
    centered; all buffers start at zero."""
    group = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
                 maximize=maximize)
    if momentum > 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers: required when momentum > 0")
    if centered and grad_avgs is None:
        raise ValueError("grad_avgs: required when centered=True")
    names = RMSprop._buffer_names(None, group)
    bufs = {"square_avg": square_avgs, "momentum_buffer": momentum_buffers if momentum > 0 else None,
            "grad_avg": grad_avgs if centered else None}
    _run(RMSprop, group, params, grads, bufs, names, step, n_threads, flush_denormals)


from .adadelta import Adadelta  # noqa: E402


def adadelta_(params, grads, square_avgs, acc_deltas, *, step, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
              maximize=False, n_threads=None, flush_denormals=False):
    """In-place Adadelta step (see :class:`fastopt.Adadelta` for the math); buffers start at zero."""
    group = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    _run(Adadelta, group, params, grads, {"square_avg": square_avgs, "acc_delta": acc_deltas},
         ("square_avg", "acc_delta"), step, n_threads, flush_denormals)


from .adamax import Adamax  # noqa: E402


def adamax_(params, grads, exp_avgs, exp_infs, *, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
            weight_decay=0.0, maximize=False, n_threads=None, flush_denormals=False):
    """In-place Adamax step (see :class:`fastopt.Adamax` for the math); buffers start at zero."""
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, maximize=maximize)
    _run(Adamax, group, params, grads, {"exp_avg": exp_avgs, "exp_inf": exp_infs}, ("exp_avg", "exp_inf"), step,
         n_threads, flush_denormals)


from .radam import RAdam  # noqa: E402


def radam_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
           weight_decay=0.0, decoupled_weight_decay=False, maximize=False, n_threads=None, flush_denormals=False):
    """In-place RAdam step (see :class:`fastopt.RAdam` for the math); buffers start at zero."""
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    _run(RAdam, group, params, grads, {"exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs}, ("exp_avg", "exp_avg_sq"),
         step, n_threads, flush_denormals)


from .nadam import NAdam  # noqa: E402
from .reference.nadam import nadam_mu  # noqa: E402


def nadam_(params, grads, exp_avgs, exp_avg_sqs, mu_products, *, step, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8,
           weight_decay=0.0, momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False, n_threads=None,
           flush_denormals=False):
    """In-place NAdam step (see :class:`fastopt.NAdam` for the math).

    ``mu_products`` is a writeable 1-d float array with one entry per param
    (torch's ``mu_product`` state: start at 1; float32 matches torch), updated
    in place in its own dtype; the other buffers start at zero."""
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                 decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    NAdam._check_group(NAdam, group, None)
    params, grads = list(params), list(grads)
    n = len(params)
    if not (isinstance(mu_products, np.ndarray) and mu_products.ndim == 1 and mu_products.size == n
            and mu_products.dtype.kind == "f" and mu_products.flags.writeable):
        raise ValueError(f"mu_products: expected a writeable 1-d float array of {n} values")
    steps = [int(step)] * n if isinstance(step, (int, np.integer)) and not isinstance(step, bool) else list(step)
    if len(steps) != n:
        raise ValueError(f"step: expected an int or {n} counts, got {len(steps)}")
    if any(int(s) < 1 for s in steps):
        raise ValueError("step: step numbers are 1-based and must be >= 1")
    one = mu_products.dtype.type
    new = np.array([mu_products[i] * one(nadam_mu(float(beta1), float(momentum_decay), int(steps[i]))[0])
                    for i in range(n)], dtype=mu_products.dtype)
    by_key = {}
    for i in range(n):
        by_key.setdefault((int(steps[i]), float(new[i])), []).append(i)
    bufs = {"exp_avg": list(exp_avgs), "exp_avg_sq": list(exp_avg_sqs)}
    for name, lst in bufs.items():
        if len(lst) != n:
            raise ValueError(f"{name}: expected {n} arrays, got {len(lst)}")
    if len(grads) != n:
        raise ValueError(f"grads: expected {n} arrays, got {len(grads)}")
    if len(by_key) == 1:
        (s, mp), = by_key
        _run(NAdam, dict(group, mu_product=mp), params, grads, bufs, ("exp_avg", "exp_avg_sq"), s, n_threads,
             flush_denormals)
    else:
        # One call per (step, mu_product) subset: check shapes and dtypes of
        # everything first, so that a bad entry raises before any write.
        _engine.check_params(params, _labels(n))
        for name, lst in [("grads", grads)] + list(bufs.items()):
            for i, (b, p) in enumerate(zip(lst, params)):
                b = np.asarray(b)
                if b.shape != p.shape or b.dtype != p.dtype:
                    raise ValueError(f"{name}[{i}]: shape/dtype {b.shape}/{b.dtype} does not match "
                                     f"params[{i}] {p.shape}/{p.dtype}")
        for (s, mp), idx in by_key.items():
            _run(NAdam, dict(group, mu_product=mp), [params[i] for i in idx], [grads[i] for i in idx],
                 {k: [v[i] for i in idx] for k, v in bufs.items()}, ("exp_avg", "exp_avg_sq"), s, n_threads,
                 flush_denormals)
    mu_products[...] = new


def lamb_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-6,
          weight_decay=0.0, maximize=False, n_threads=None, flush_denormals=False):
    """In-place LAMB step (see :class:`fastopt.LAMB` for the math): two fused
    passes, per-tensor trust ratios."""
    from ._multipass import functional_step
    from .lamb import LAMB
    functional_step(LAMB, dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                               maximize=maximize),
                    params, grads, {"exp_avg": exp_avgs, "exp_avg_sq": exp_avg_sqs}, step, n_threads,
                    flush_denormals)


def lars_(params, grads, momentum_buffers=None, *, lr=1e-3, momentum=0.9, dampening=0.0, weight_decay=0.0,
          nesterov=False, trust_coefficient=0.001, eps=1e-8, lars_exclude=False, maximize=False, step=1,
          n_threads=None, flush_denormals=False):
    """In-place LARS step (see :class:`fastopt.LARS` for the math). As for
    :func:`sgd_`, ``momentum_buffers`` are overwritten at ``step == 1``."""
    from ._multipass import functional_step
    from .lars import LARS
    if momentum != 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers: required when momentum != 0")
    functional_step(LARS, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                               nesterov=nesterov, trust_coefficient=trust_coefficient, eps=eps,
                               lars_exclude=lars_exclude, maximize=maximize),
                    params, grads, {"momentum_buffer": momentum_buffers} if momentum != 0 else {}, step,
                    n_threads, flush_denormals)


def sparse_adam_(params, grads, exp_avgs, exp_avg_sqs, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                 maximize=False, n_threads=None, flush_denormals=False):
    """In-place SparseAdam step over row-sparse grads (see :class:`fastopt.SparseAdam`
    and :class:`fastopt.RowSparseGrad`); a None grad skips its param."""
    from .sparse_adam import sparse_adam_ as run
    run(params, grads, exp_avgs, exp_avg_sqs, step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
        maximize=maximize, n_threads=n_threads, flush_denormals=flush_denormals)


def muon_(params, grads, momentum_buffers, *, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
          ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None, ns_dtype="bfloat16",
          n_threads=None, flush_denormals=False):
    """In-place Muon step on 2-D params (see :class:`fastopt.Muon`): two fused
    passes around a Newton-Schulz solve per param. Muon has no step count, so
    there is no ``step`` argument; momentum buffers start as zeros."""
    from .muon import muon_ as run
    run(params, grads, momentum_buffers, lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn, ns_dtype=ns_dtype,
        n_threads=n_threads, flush_denormals=flush_denormals)


def rprop_(params, grads, prevs, step_sizes, *, step=1, etaminus=0.5, etaplus=1.2, step_size_min=1e-6,
           step_size_max=50, maximize=False, n_threads=None, flush_denormals=False):
    """In-place Rprop step (see :class:`fastopt.Rprop` for the math).

    ``prevs`` start at zero and ``step_sizes`` at the learning rate; both are
    updated in place. ``step`` is accepted for symmetry (Rprop does not use it).
    """
    from .rprop import Rprop
    group = dict(lr=0.0, etas=(etaminus, etaplus), step_sizes=(step_size_min, step_size_max), maximize=maximize)
    _run(Rprop, group, params, grads, {"prev": prevs, "step_size": step_sizes}, ("prev", "step_size"),
         step, n_threads, flush_denormals)


def asgd_(params, grads, axs, *, step, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, maximize=False,
          n_threads=None, flush_denormals=False):
    """In-place ASGD step (see :class:`fastopt.ASGD` for the math).

    ``axs`` are the averaged params (torch's ``ax``, zeros at first); eta and
    mu are derived from ``step`` (the 1-based number of this step).
    """
    from .asgd import ASGD
    group = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize)
    _run(ASGD, group, params, grads, {"ax": axs}, ("ax",), step, n_threads, flush_denormals)


def lion_(params, grads, exp_avgs, *, step=1, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, maximize=False,
          n_threads=None, flush_denormals=False):
    """In-place Lion step (see :class:`fastopt.Lion` for the math). ``step`` is
    accepted for symmetry (Lion does not use it)."""
    from .lion import Lion
    group = dict(lr=lr, betas=(beta1, beta2), weight_decay=weight_decay, maximize=maximize)
    _run(Lion, group, params, grads, {"exp_avg": exp_avgs}, ("exp_avg",), step, n_threads, flush_denormals)


def adabelief_(params, grads, exp_avgs, exp_avg_vars, *, step, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-16,
               eps_root=1e-16, weight_decay=0.0, decoupled_weight_decay=True, maximize=False, n_threads=None,
               flush_denormals=False):
    """In-place AdaBelief step (see :class:`fastopt.AdaBelief` for the math)."""
    from .adabelief import AdaBelief
    group = dict(lr=lr, betas=(beta1, beta2), eps=eps, eps_root=eps_root, weight_decay=weight_decay,
                 decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    _run(AdaBelief, group, params, grads, {"exp_avg": exp_avgs, "exp_avg_var": exp_avg_vars},
         ("exp_avg", "exp_avg_var"), step, n_threads, flush_denormals)


def diag_lm_(params, grads, hessian_diags, hessian_avgs=None, *, step=1, lr=1e-3, mu=1e-2, hessian_decay=None,
             maximize=False, n_threads=None, flush_denormals=False):
    """In-place diagonal Levenberg-Marquardt step (see :class:`fastopt.DiagonalLM`).

    ``hessian_diags`` must be C-contiguous arrays of each param's dtype (they
    are only read). ``hessian_avgs`` is required with ``hessian_decay``; at
    ``step == 1`` it is overwritten with the estimate.
    """
    from .diag_lm import DiagonalLM
    group = dict(lr=lr, mu=mu, hessian_decay=hessian_decay, maximize=maximize)
    if hessian_decay is not None and hessian_avgs is None:
        raise ValueError("hessian_avgs: required when hessian_decay is set")
    names = ("hessian_diag", "hessian_avg" if hessian_decay is not None else None)
    _run(DiagonalLM, group, params, grads,
         {"hessian_diag": hessian_diags, "hessian_avg": hessian_avgs if hessian_decay is not None else None},
         names, step, n_threads, flush_denormals)


def noisy_sgd_(params, grads, momentum_buffers=None, *, step, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
               nesterov=False, noise_eta=0.01, noise_gamma=0.55, seed=0, maximize=False, n_threads=None,
               flush_denormals=False):
    """In-place NoisySGD step (see :class:`fastopt.NoisySGD` for the math).

    The noise of ``params[i]`` is keyed by its position among the params
    taking this step with the same step count and dtype (the classes key it
    by the flat param index); ``step`` also sets the noise variance.
    """
    from .noisy_sgd import NoisySGD
    group = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                 noise_eta=noise_eta, noise_gamma=noise_gamma, seed=seed, maximize=maximize)
    if momentum != 0 and momentum_buffers is None:
        raise ValueError("momentum_buffers: required when momentum != 0")
    names = ("momentum_buffer",) if momentum != 0 else (None,)
    _run(NoisySGD, group, params, grads, {"momentum_buffer": momentum_buffers if momentum != 0 else None}, names,
         step, n_threads, flush_denormals)
def adafactor_(params, grads, row_vars, col_vars, variances, *, step, lr=1e-2, beta2_decay=-0.8, eps1=None,
               eps2=1e-3, d=1.0, weight_decay=0.0, maximize=False, n_threads=None, flush_denormals=False):
    """In-place Adafactor step (see :class:`fastopt.Adafactor` for the math).
    Buffers as torch's functional form: ``row_vars[i]`` (shape ``(..., R, 1)``)
    and ``col_vars[i]`` (``(..., 1, C)``) for params of 2 or more dims,
    ``variances[i]`` (the param's shape) for 0-d/1-d params; other entries are
    ignored (None is fine, and a list may be None when no param needs it)."""
    from .adafactor import adafactor_ as run
    run(params, grads, row_vars, col_vars, variances, step=step, lr=lr, beta2_decay=beta2_decay, eps1=eps1,
        eps2=eps2, d=d, weight_decay=weight_decay, maximize=maximize, n_threads=n_threads,
        flush_denormals=flush_denormals)
