r"""Vectorized numeric kernels shared by the schedules.

:func:`cos_anneal` computes the cosine-annealing factor

.. math:: A(p) = \frac{1 + \cos(\pi p)}{2} = \cos^2\!\left(\frac{\pi p}{2}\right)
          = \sin^2\!\left(\frac{\pi (1 - p)}{2}\right), \qquad p \in [0, 1]

with a polynomial in NumPy ufuncs instead of ``np.cos``. Two reasons:

* speed: NumPy's float64 ``cos`` is a scalar libm loop on many builds
  (20-50 ns per element), the polynomial is ~25 vectorized multiply/add
  passes (a few ns per element);
* accuracy: ``1 + cos(pi p)`` cancels catastrophically as :math:`p \to 1`
  (the end of every cosine decay); the :math:`\sin^2` form keeps a small
  *relative* error all the way down to 0.

The argument :math:`y = \frac{\pi}{2}(1 - p) \in [0, \pi/2]`; ``1 - p`` is
exact for :math:`p \ge 1/2` (Sterbenz) and otherwise perturbs :math:`A` by
at most about one unit in the last place. :math:`\sin y` is its Taylor
series up to :math:`y^{21}`, whose truncation error on :math:`[0, \pi/2]`
is below :math:`(\pi/2)^{23}/23! \approx 1.2\times 10^{-18}`, evaluated by
Horner's rule in :math:`z = y^2`.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["cos_anneal"]

_HALF_PI = math.pi / 2.0
# sin(y) / y = sum_k (-1)^k z^k / (2k + 1)!,  z = y^2,  k = 0 .. 10
_SIN_COEFFS = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(11))


def _cos_anneal_scalar(p: float) -> float:
    # The same operations in the same order as the array path, on Python
    # floats (IEEE double, correctly rounded like NumPy's add and multiply):
    # bitwise the same result, without ~25 ufunc calls on a 1-element array.
    y = (1.0 - p) * _HALF_PI
    z = y * y
    acc = z * _SIN_COEFFS[-1]
    for c in _SIN_COEFFS[-2:0:-1]:
        acc = (acc + c) * z
    acc = (acc + _SIN_COEFFS[0]) * y
    return acc * acc


def cos_anneal(p: np.ndarray) -> np.ndarray:
    r"""Return :math:`(1 + \cos(\pi p)) / 2` for a float64 array ``p`` with
    values in :math:`[0, 1]` (a new array)."""
    if p.size == 1:
        return np.full(p.shape, _cos_anneal_scalar(float(p.reshape(-1)[0])))
    y = np.subtract(1.0, p)
    y *= _HALF_PI
    z = y * y
    acc = z * _SIN_COEFFS[-1]
    for c in _SIN_COEFFS[-2:0:-1]:
        acc += c
        acc *= z
    acc += _SIN_COEFFS[0]
    acc *= y
    acc *= acc
    return acc
