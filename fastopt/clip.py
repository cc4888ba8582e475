"""Gradient clipping over lists of arrays, in place, through the C engine.

The same operations are optimizer options (``clip_value=``, ``clip_norm=``,
``clip_global_norm=`` on every fastopt optimizer), where they ride inside the
update's own pass instead of running here as separate passes.

Semantics follow torch.nn.utils:

* :func:`clip_by_value_` is ``clip_grad_value_``: every element is clamped
  to ``[-clip_value, clip_value]`` (NaN stays NaN).
* :func:`clip_by_global_norm_` is ``clip_grad_norm_`` with the 2-norm: with
  ``total = sqrt(sum over all arrays of sum x^2)``, every element is multiplied
  by ``min(1, max_norm / (total + 1e-6))`` (the factor cast to the arrays'
  dtype first), and ``total`` is returned.

Sums of squares are accumulated in double in a fixed order (fixed spans, eight
lanes per span, spans and arrays combined in order), so the norm, and hence
the result, is the same for any thread count and ISA. torch accumulates a
float32 norm in float32, so its norm may differ in the last bits.
"""
import math
from numbers import Real

import numpy as np

from . import _engine, _multipass, _threads
from ._params import by_dtype

__all__ = ["clip_by_value_", "clip_by_global_norm_", "global_norm", "norm_clip_coef"]

#: torch.nn.utils.clip_grad_norm_'s guard against a zero norm.
NORM_EPS = 1e-6


def norm_clip_coef(max_norm, norm):
    """The factor ``min(1, max_norm / (norm + 1e-6))`` (numbers or arrays, in double)."""
    return np.minimum(1.0, max_norm / (np.asarray(norm, dtype=np.float64) + NORM_EPS))


def threshold(name, value, optional=False):
    """`value` as a positive finite float (None passes when `optional`);
    TypeError/ValueError naming `name` otherwise."""
    if value is None and optional:
        return None
    what = "None or a positive" if optional else "a positive"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name}: expected {what} number, got {type(value).__name__}")
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: must be {what} finite number, got {value!r}")
    return value


def _plans(arrays, what):
    """One plan per dtype over the arrays (checked: writeable, C-contiguous,
    float32/float64, no overlaps); returns [(indices, Plan)]."""
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    arrays = list(arrays)
    labels = [f"{what}[{i}]" for i in range(len(arrays))]
    _engine.check_params(arrays, labels)
    hit = _engine.find_overlap(arrays)
    if hit is not None:
        raise ValueError(f"{labels[hit[1]]}: shares memory with {labels[hit[0]]}")
    return arrays, [(idx, _engine.Plan([[arrays[i] for i in idx]], [labels[i] for i in idx]))
                    for idx in by_dtype(arrays)]


def _sum_sq(plans, n, n_threads, clip=None):
    """Per-array sums of squares (float64, in array order) and whether any
    element is NaN or infinite. With `clip`, the squares are those of the
    elements clamped to [-clip, clip] (the non-finite test sees them unclamped)."""
    sums = np.zeros(n)
    nonfinite = False
    rule = _engine.RULES["grad_stats"]
    scalars, flags = ((-clip, clip), 9) if clip else ((), 8)
    for idx, plan in plans:
        info = _multipass.SpanCache().get(plan)
        plan.run(rule, scalars, flags, n_threads, out=info.out)
        sums[idx] = info.sums(0)
        nonfinite |= bool(np.isnan(info.sums(1)).any())
    return sums, nonfinite


def global_norm(arrays, *, n_threads=None):
    """The 2-norm of all elements of all arrays together (a float), computed
    in double in a fixed order (see the module docstring)."""
    arrays, plans = _plans(arrays, "arrays")
    sums, _ = _sum_sq(plans, len(arrays), _threads.resolve(_threads.check_n_threads(n_threads)))
    return math.sqrt(math.fsum(sums)) if sums.size else 0.0


def clip_by_value_(grads, clip_value, *, n_threads=None):
    """Clamp every element of every array to ``[-clip_value, clip_value]`` in place.

    Args:
        grads: an array or a list of writeable C-contiguous float32/float64 arrays.
        clip_value: the bound, > 0.
        n_threads: threads; None follows :func:`fastopt.get_num_threads` (default: None).

    Example:
        >>> g = np.array([-3.0, 0.5, 2.0])
        >>> clip_by_value_(g, 1.0); g
        array([-1. ,  0.5,  1. ])
    """
    c = threshold("clip_value", clip_value)
    nt = _threads.resolve(_threads.check_n_threads(n_threads))
    _, plans = _plans(grads, "grads")
    for _, plan in plans:
        plan.run(_engine.RULES["clip"], (-c, c), 1, nt)


def clip_by_global_norm_(grads, max_norm, *, n_threads=None, error_if_nonfinite=False):
    """Scale all arrays in place so that their global 2-norm is at most
    ``max_norm`` (torch.nn.utils.clip_grad_norm_); return the norm before clipping.

    Args:
        grads: an array or a list of writeable C-contiguous float32/float64 arrays.
        max_norm: the largest global norm, > 0.
        n_threads: threads; None follows :func:`fastopt.get_num_threads` (default: None).
        error_if_nonfinite: raise ValueError, changing nothing, when the norm
            is NaN or infinite (default: False).

    Returns:
        The global norm before clipping, a float. When an element is infinite
        the norm is ``inf`` and the factor 0; when one is NaN both are NaN
        (the arrays then become NaN, as with torch).

    Example:
        >>> g = np.array([3.0, 4.0])
        >>> clip_by_global_norm_(g, 1.0)
        5.0
    """
    c = threshold("max_norm", max_norm)
    nt = _threads.resolve(_threads.check_n_threads(n_threads))
    arrays, plans = _plans(grads, "grads")
    sums, _ = _sum_sq(plans, len(arrays), nt)
    total = math.sqrt(math.fsum(sums))
    if error_if_nonfinite and not math.isfinite(total):
        raise ValueError(f"grads: the global norm is {total}; nothing was clipped")
    coef = float(norm_clip_coef(c, total))
    if coef < 1.0 or math.isnan(coef):
        for idx, plan in plans:
            scale = np.full(len(idx), coef)
            plan.run(_engine.RULES["clip"], (0.0, 0.0), 2, nt, per_tensor=scale.reshape(-1, 1))
    return total
