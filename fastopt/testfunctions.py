r"""Test functions for optimizers: classic landscapes and the noisy 1-D
prototypes of the "unit tests for stochastic optimization".

Every function is an object with

* ``value(x)``, ``grad(x)`` and ``value_and_grad(x)`` (also ``f(x)`` for
  ``value``);
* ``minimum``: a :class:`Minimum` (``x``, ``value``) where it is known, else
  ``None`` (the saddle and the line are unbounded below);
* ``start``: a standard starting point (a new float64 array at each access);
* ``bounds``: one ``(low, high)`` pair per coordinate, the box to draw;
* ``dim``: the number of coordinates.

The point ``x`` may be given in three ways:

* a float64 array of shape ``(dim,)``: one point; ``value`` returns a
  ``float`` and ``grad`` an array of shape ``(dim,)``;
* an array of shape ``(dim, *batch)``: many points at once (the coordinate is
  the **first** axis, so ``value(np.stack([X, Y]))`` evaluates a whole
  contour grid); ``value`` returns an array of shape ``batch`` and ``grad``
  one of shape ``(dim, *batch)``;
* a list/tuple of arrays or a dict of arrays (the structures fastopt's
  optimizers take): their elements, flattened in order and concatenated, are
  the coordinates; ``grad`` returns the same structure, so
  ``opt.step(f.grad(params))`` works directly.

A scalar is accepted for one-coordinate functions, and a tuple of ``dim``
same-shape grids such as ``(X, Y)`` from ``np.meshgrid`` is stacked into a
batch (the flattened reading would not have ``dim`` coordinates).

Classic landscapes: :class:`Rosenbrock`, :class:`Beale`, :class:`Saddle`,
:class:`IllConditionedQuadratic`.

Shape prototypes (Schaul, Antonoglou & Silver 2014), each a separable sum
:math:`f(x) = \sum_i \phi(x_i)` over any number of coordinates:
:class:`Line`, :class:`QuadraticBowl`, :class:`AbsoluteValue`,
:class:`RectifiedLinear`, :class:`Cliff`, :class:`GaussianBowl`,
:class:`LaplaceBowl`. Noise prototypes: :class:`Noisy` with ``"additive"``,
``"multiplicative"``, ``"cauchy"`` or ``"maskout"`` noise, seeded; each
call draws a new realization, :meth:`Noisy.sample` fixes one.

Example:
    >>> import numpy as np, fastopt
    >>> from fastopt.testfunctions import Rosenbrock
    >>> f = Rosenbrock()
    >>> x = [f.start]                     # params as an optimizer takes them
    >>> opt = fastopt.Adam(x, lr=0.05)
    >>> for _ in range(3000):
    ...     opt.step(f.grad(x))
    >>> print(round(f.value(x), 6), np.round(x[0], 3))
    0.0 [1. 1.]

References:
    H. H. Rosenbrock, "An automatic method for finding the greatest or least
    value of a function", The Computer Journal 3(3), 1960.

    E. M. L. Beale, "On an iterative method for finding a local minimum of a
    function of more than one variable", Tech. Rep. 25, Statistical
    Techniques Research Group, Princeton University, 1958.

    J. J. Moré, B. S. Garbow, K. E. Hillstrom, "Testing unconstrained
    optimization software", ACM TOMS 7(1), 1981 (the extended Rosenbrock
    start).

    T. Schaul, I. Antonoglou, D. Silver, "Unit tests for stochastic
    optimization", ICLR 2014, arXiv:1312.6055.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "NOISE_KINDS",
    "AbsoluteValue",
    "Beale",
    "Cliff",
    "GaussianBowl",
    "IllConditionedQuadratic",
    "LaplaceBowl",
    "Line",
    "Minimum",
    "Noisy",
    "Objective",
    "QuadraticBowl",
    "Realization",
    "RectifiedLinear",
    "Rosenbrock",
    "Saddle",
    "Separable",
]


@dataclass(frozen=True)
class Minimum:
    """A global minimizer ``x`` and the minimum ``value``."""

    x: np.ndarray
    value: float


# ---------------------------------------------------------------------------
# points in, values and gradients out


class _Structured:
    """The flattening of a list/tuple/dict of arrays into one coordinate vector."""

    def __init__(self, obj: Any):
        if isinstance(obj, dict):
            self.keys: list | None = list(obj.keys())
            arrays = list(obj.values())
            self.kind = "dict"
        else:
            self.keys = None
            arrays = list(obj)
            self.kind = "tuple" if isinstance(obj, tuple) else "list"
        self.shapes = [np.shape(a) for a in arrays]
        self.flat = (np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
                     if arrays else np.zeros(0))

    def rebuild(self, flat: np.ndarray) -> Any:
        out, pos = [], 0
        for shape in self.shapes:
            n = int(np.prod(shape, dtype=np.int64))
            out.append(flat[pos:pos + n].reshape(shape).copy())
            pos += n
        if self.kind == "dict":
            return dict(zip(self.keys, out))
        return tuple(out) if self.kind == "tuple" else out


def _is_structure(x: Any) -> bool:
    if isinstance(x, dict):
        return True
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(a, np.ndarray) for a in x)


class Objective:
    """Base class: a deterministic function of ``dim`` coordinates.

    Subclasses implement ``_eval(X) -> (f, g)`` on ``X`` of shape
    ``(dim, *batch)`` (float64), returning ``f`` of shape ``batch`` and ``g``
    of ``X``'s shape, and set ``dim``, ``_start``, ``_bounds``,
    ``_minimum``.
    """

    name = "objective"
    dim: int = 0
    _start: np.ndarray
    _bounds: tuple
    _minimum: Minimum | None = None

    # -- public API ---------------------------------------------------------
    @property
    def start(self) -> np.ndarray:
        """A standard starting point (a fresh float64 array of shape ``(dim,)``)."""
        return np.array(self._start, dtype=np.float64)

    @property
    def bounds(self) -> tuple:
        """``((low, high), ...)``, one pair per coordinate: the box to draw."""
        return self._bounds

    @property
    def minimum(self) -> Minimum | None:
        """The global minimum (``x``, ``value``), or ``None`` if unbounded or unknown."""
        return self._minimum

    def value(self, x: Any) -> Any:
        """f(x): a float for one point, an array of shape ``batch`` for many."""
        X, _ = self._points(x)
        f = self._value(X)
        return float(f) if np.ndim(f) == 0 else f

    def grad(self, x: Any) -> Any:
        """The gradient, with the shape (or the structure) of ``x``."""
        X, struct = self._points(x)
        _, g = self._eval(X)
        return struct.rebuild(g) if struct is not None else g

    def value_and_grad(self, x: Any) -> tuple[Any, Any]:
        """``(value(x), grad(x))`` computed together."""
        X, struct = self._points(x)
        f, g = self._eval(X)
        f = float(f) if np.ndim(f) == 0 else f
        return f, (struct.rebuild(g) if struct is not None else g)

    __call__ = value

    def grid(self, num: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(X, Y, Z)`` on a ``num x num`` grid over :attr:`bounds` (2-D functions)."""
        if self.dim != 2:
            raise ValueError(f"{self.name}: grid() needs a 2-D function, this one has dim={self.dim}")
        (x0, x1), (y0, y1) = self.bounds
        X, Y = np.meshgrid(np.linspace(x0, x1, num), np.linspace(y0, y1, num))
        return X, Y, self.value(np.stack([X, Y]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim})"

    # -- internals ----------------------------------------------------------
    def _points(self, x: Any) -> tuple[np.ndarray, _Structured | None]:
        struct = None
        if _is_structure(x):
            struct = _Structured(x)
            X = struct.flat
            if (X.shape[0] != self.dim and not isinstance(x, dict) and len(x) == self.dim
                    and len({np.shape(a) for a in x}) == 1):
                # (X, Y) grids of one shape: a batch of points, not params
                X, struct = np.stack([np.asarray(a, dtype=np.float64) for a in x]), None
        else:
            X = np.asarray(x, dtype=np.float64)
            if X.ndim == 0:
                if self.dim != 1:
                    raise ValueError(f"{self.name}: a scalar point needs a 1-coordinate function (dim={self.dim})")
                X = X.reshape(1)
        if X.shape[0] != self.dim:
            raise ValueError(f"{self.name}: expected {self.dim} coordinate(s) along the first axis, got shape "
                             f"{X.shape}" + (" (flattened params)" if struct is not None else ""))
        return X, struct

    def _value(self, X: np.ndarray) -> np.ndarray:
        return self._eval(X)[0]

    def _eval(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError


# ---------------------------------------------------------------------------
# classic landscapes


class Rosenbrock(Objective):
    r"""Rosenbrock's banana valley in ``n`` dimensions.

    .. math::

        f(x) = \sum_{i=1}^{n-1} \Big[\, b\,(x_{i+1} - x_i^2)^2 + (a - x_i)^2 \Big]

    .. math::

        \partial_i f = -4b\,x_i\,(x_{i+1} - x_i^2) - 2(a - x_i)
                       + 2b\,(x_i - x_{i-1}^2)

    (the first term for ``i < n``, the last for ``i > 1``). The valley
    floor is found at once; following its curved, nearly flat bottom to the
    minimum is the hard part (the Hessian at the minimum has condition
    number about 2500 for ``n = 2``).

    Minimum: ``f(1, ..., 1) = 0`` for ``a = 1``; ``f(a, a^2) = 0`` for
    ``n = 2``; otherwise unknown (``minimum`` is ``None``). Start:
    ``(-1.2, 1)`` (Rosenbrock 1960), ``(-1.2, 1, -1.2, 1, ...)`` in ``n``
    dimensions (Moré, Garbow & Hillstrom 1981). Bounds ``[-2, 2] x [-1, 3]``
    in 2-D, ``[-2, 2]`` per coordinate otherwise.

    Args:
        n: number of coordinates, >= 2 (default: 2)
        a: the valley's target (default: 1)
        b: the valley's steepness (default: 100)

    Example:
        >>> from fastopt.testfunctions import Rosenbrock
        >>> f = Rosenbrock()
        >>> print(f.value(f.start), f.grad(f.start))
        24.199999999999996 [-215.6  -88. ]
    """

    name = "Rosenbrock"

    def __init__(self, n: int = 2, a: float = 1.0, b: float = 100.0):
        if int(n) != n or n < 2:
            raise ValueError(f"Rosenbrock: n must be an integer >= 2, got {n!r}")
        self.dim = int(n)
        self.a, self.b = float(a), float(b)
        self._start = np.where(np.arange(self.dim) % 2 == 0, -1.2, 1.0)
        self._bounds = ((-2.0, 2.0), (-1.0, 3.0)) if self.dim == 2 else ((-2.0, 2.0),) * self.dim
        if self.a == 1.0:
            self._minimum = Minimum(np.ones(self.dim), 0.0)
        elif self.dim == 2:
            self._minimum = Minimum(np.array([self.a, self.a * self.a]), 0.0)
        else:
            self._minimum = None

    def _eval(self, X):
        a, b = self.a, self.b
        x, y = X[:-1], X[1:]
        r = y - x * x
        f = np.sum(b * r * r + (a - x) ** 2, axis=0)
        g = np.zeros_like(X)
        g[:-1] += -4.0 * b * x * r - 2.0 * (a - x)
        g[1:] += 2.0 * b * r
        return f, g

    def __repr__(self):
        return f"Rosenbrock(n={self.dim}, a={self.a:g}, b={self.b:g})"


class Beale(Objective):
    r"""Beale's function: a flat plateau, steep walls and sharp corners.

    .. math::

        f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2

    With :math:`t_k = c_k - x + x y^k` (:math:`c = 1.5, 2.25, 2.625`):
    :math:`\partial_x f = \sum_k 2 t_k (y^k - 1)`,
    :math:`\partial_y f = \sum_k 2 t_k\, k\, x\, y^{k-1}`.

    Minimum ``f(3, 0.5) = 0``; start ``(1, 1.5)``; bounds
    ``[-4.5, 4.5]^2``.

    Example:
        >>> from fastopt.testfunctions import Beale
        >>> f = Beale()
        >>> print(f.value([3.0, 0.5]), f.grad([3.0, 0.5]))
        0.0 [0. 0.]
    """

    name = "Beale"
    dim = 2
    _C = (1.5, 2.25, 2.625)

    def __init__(self):
        self._start = np.array([1.0, 1.5])
        self._bounds = ((-4.5, 4.5), (-4.5, 4.5))
        self._minimum = Minimum(np.array([3.0, 0.5]), 0.0)

    def _eval(self, X):
        x, y = X[0], X[1]
        f = np.zeros(np.shape(x))
        gx = np.zeros(np.shape(x))
        gy = np.zeros(np.shape(x))
        for k, c in enumerate(self._C, start=1):
            t = c - x + x * y ** k
            f = f + t * t
            gx = gx + 2.0 * t * (y ** k - 1.0)
            gy = gy + 2.0 * t * k * x * y ** (k - 1)
        return f, np.stack([gx, gy])


class Saddle(Objective):
    r"""The saddle :math:`f(x, y) = x^2 - y^2`, unbounded below.

    .. math::

        \nabla f = (2x, \; -2y)

    The origin is a saddle point: a minimum along ``x``, a maximum along
    ``y``. Started on the ridge ``y = 0`` a gradient method converges to
    the saddle; started just off it, at ``(-1, 1e-3)`` (the ``start``), the
    ``y`` gradient is tiny (``2e-3``) and plain SGD needs many steps to
    leave, while methods that normalise the step per coordinate (RMSprop,
    Adam, ...) leave at once. ``minimum`` is ``None``; bounds
    ``[-1.5, 1.5]^2``.

    Example:
        >>> from fastopt.testfunctions import Saddle
        >>> f = Saddle()
        >>> print(f.value(f.start), f.grad(f.start))
        0.999999 [-2.    -0.002]
    """

    name = "saddle"
    dim = 2

    def __init__(self):
        self._start = np.array([-1.0, 1e-3])
        self._bounds = ((-1.5, 1.5), (-1.5, 1.5))
        self._minimum = None

    def _eval(self, X):
        return X[0] ** 2 - X[1] ** 2, np.stack([2.0 * X[0], -2.0 * X[1]])


class IllConditionedQuadratic(Objective):
    r"""A convex quadratic with a chosen condition number.

    .. math::

        f(x) = \tfrac12\, x^\top A x, \qquad \nabla f = A x, \qquad
        A = Q^\top \operatorname{diag}(\lambda_1, \dots, \lambda_n)\, Q,
        \qquad \lambda_i = \kappa^{(i-1)/(n-1)}

    so the curvatures are log-spaced from 1 to :math:`\kappa` and
    :math:`\kappa = \lambda_n / \lambda_1` is the condition number. Gradient
    descent with the largest stable rate :math:`2/\lambda_n` contracts the
    flattest direction only by :math:`1 - 2/\kappa` per step. With ``Q = I``
    (the default) the axes are the eigenvectors, which favours per-coordinate
    methods (Adagrad, RMSprop, Adam); ``angle`` (2-D) or ``seed`` (random
    orthogonal ``Q``, any ``n``) rotates them away.

    Minimum ``f(0) = 0``; start ``(1, ..., 1)``; bounds ``[-1.5, 1.5]``
    per coordinate.

    Args:
        n: number of coordinates (default: 2)
        condition: the condition number :math:`\kappa \ge 1` (default: 100)
        angle: rotate the eigenvectors by this angle in radians (2-D only)
            (default: None)
        seed: draw a random rotation ``Q`` with this seed (default: None)

    Example:
        >>> from fastopt.testfunctions import IllConditionedQuadratic
        >>> f = IllConditionedQuadratic(condition=100)
        >>> print(f.eigenvalues, f.value([1.0, 1.0]), f.grad([1.0, 1.0]))
        [  1. 100.] 50.5 [  1. 100.]
    """

    name = "ill-conditioned quadratic"

    def __init__(self, n: int = 2, condition: float = 100.0, angle: float | None = None, seed: int | None = None):
        if int(n) != n or n < 1:
            raise ValueError(f"IllConditionedQuadratic: n must be an integer >= 1, got {n!r}")
        if not condition >= 1.0:
            raise ValueError(f"IllConditionedQuadratic: condition must be >= 1, got {condition!r}")
        if angle is not None and seed is not None:
            raise ValueError("IllConditionedQuadratic: give angle or seed, not both")
        self.dim = int(n)
        self.condition = float(condition)
        self.eigenvalues = (self.condition ** (np.arange(self.dim) / (self.dim - 1)) if self.dim > 1
                            else np.ones(1))
        if angle is not None:
            if self.dim != 2:
                raise ValueError("IllConditionedQuadratic: angle needs n = 2 (use seed for a random rotation)")
            c, s = np.cos(angle), np.sin(angle)
            Q = np.array([[c, s], [-s, c]])
        elif seed is not None:
            q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((self.dim, self.dim)))
            Q = q * np.sign(np.diag(r))
        else:
            Q = np.eye(self.dim)
        self.Q = Q
        self.A = Q.T @ (self.eigenvalues[:, None] * Q)
        self.A = 0.5 * (self.A + self.A.T)
        self._start = np.ones(self.dim)
        self._bounds = ((-1.5, 1.5),) * self.dim
        self._minimum = Minimum(np.zeros(self.dim), 0.0)

    def _eval(self, X):
        AX = np.tensordot(self.A, X, axes=1)
        return 0.5 * np.sum(X * AX, axis=0), AX

    def __repr__(self):
        return f"IllConditionedQuadratic(n={self.dim}, condition={self.condition:g})"


# ---------------------------------------------------------------------------
# shape prototypes (separable sums of one 1-D shape)


class Separable(Objective):
    r"""Base of the 1-D shape prototypes: :math:`f(x) = \sum_i \phi(x_i)`.

    Subclasses implement ``_phi(x) -> (phi, dphi)`` elementwise. ``dim``
    coordinates (default 1) each follow the same 1-D shape.
    """

    _start1 = 1.0
    _bounds1 = (-2.0, 2.0)
    _min1: float | None = 0.0   # a minimizer of phi (None: unbounded below)

    def __init__(self, dim: int = 1):
        if int(dim) != dim or dim < 1:
            raise ValueError(f"{type(self).__name__}: dim must be an integer >= 1, got {dim!r}")
        self.dim = int(dim)
        self._start = np.full(self.dim, self._start1)
        self._bounds = (tuple(self._bounds1),) * self.dim
        if self._min1 is None:
            self._minimum = None
        else:
            phi, _ = self._phi(np.float64(self._min1))
            self._minimum = Minimum(np.full(self.dim, float(self._min1)), float(phi) * self.dim)

    def _phi(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def _eval(self, X):
        phi, dphi = self._phi(X)
        return np.sum(phi, axis=0), np.asarray(dphi, dtype=np.float64) * np.ones_like(X)

    def elementwise(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        r"""``(phi(x_i), phi'(x_i))`` per coordinate, without the sum."""
        X, _ = self._points(x)
        phi, dphi = self._phi(X)
        return phi, np.asarray(dphi, dtype=np.float64) * np.ones_like(X)


class Line(Separable):
    r"""A linear slope :math:`\phi(x) = s\,x` (zero curvature, unbounded below).

    :math:`\phi'(x) = s`. Tests that an optimizer keeps moving at a steady
    (or growing) speed where nothing changes. Start 0; bounds ``[-5, 5]``.

    Args:
        slope: :math:`s` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import Line
        >>> print(Line(slope=2.0).value_and_grad(3.0))
        (6.0, array([2.]))
    """

    name = "line"
    _start1 = 0.0
    _bounds1 = (-5.0, 5.0)
    _min1 = None

    def __init__(self, slope: float = 1.0, dim: int = 1):
        self.slope = float(slope)
        super().__init__(dim)

    def _phi(self, x):
        return self.slope * x, self.slope


class QuadraticBowl(Separable):
    r"""The quadratic bowl :math:`\phi(x) = \tfrac{c}{2} x^2` (constant curvature).

    :math:`\phi'(x) = c\,x`. Gradient descent converges for learning rates
    below :math:`2/c` and in one step at :math:`1/c`. Minimum 0 at 0; start
    1; bounds ``[-2, 2]``.

    Args:
        curvature: :math:`c > 0` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import QuadraticBowl
        >>> print(QuadraticBowl(curvature=4.0).value_and_grad(0.5))
        (0.5, array([2.]))
    """

    name = "quadratic bowl"

    def __init__(self, curvature: float = 1.0, dim: int = 1):
        if not curvature > 0:
            raise ValueError(f"QuadraticBowl: curvature must be > 0, got {curvature!r}")
        self.curvature = float(curvature)
        super().__init__(dim)

    def _phi(self, x):
        return 0.5 * self.curvature * x * x, self.curvature * x


class AbsoluteValue(Separable):
    r"""The kink :math:`\phi(x) = s\,|x|` (non-differentiable at the minimum).

    :math:`\phi'(x) = s\,\operatorname{sign}(x)` (0 at 0). The gradient
    does not shrink near the minimum, so a constant step size oscillates
    around it with amplitude about the step; the step must decay. Minimum 0
    at 0; start 1; bounds ``[-2, 2]``.

    Args:
        slope: :math:`s > 0` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import AbsoluteValue
        >>> print(AbsoluteValue().value_and_grad(-0.5))
        (0.5, array([-1.]))
    """

    name = "absolute value"

    def __init__(self, slope: float = 1.0, dim: int = 1):
        if not slope > 0:
            raise ValueError(f"AbsoluteValue: slope must be > 0, got {slope!r}")
        self.slope = float(slope)
        super().__init__(dim)

    def _phi(self, x):
        return self.slope * np.abs(x), self.slope * np.sign(x)


class RectifiedLinear(Separable):
    r"""The rectified linear shape :math:`\phi(x) = s\,\max(x, 0)`.

    :math:`\phi'(x) = s` for :math:`x > 0`, else 0: a slope that ends in a
    plateau with zero gradient (every :math:`x \le 0` is a minimizer;
    ``minimum.x`` reports the kink, 0). Start 1; bounds ``[-2, 2]``.

    Args:
        slope: :math:`s > 0` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import RectifiedLinear
        >>> print(RectifiedLinear().value_and_grad([-1.0]), RectifiedLinear().value_and_grad([2.0]))
        (0.0, array([0.])) (2.0, array([1.]))
    """

    name = "rectified linear"

    def __init__(self, slope: float = 1.0, dim: int = 1):
        if not slope > 0:
            raise ValueError(f"RectifiedLinear: slope must be > 0, got {slope!r}")
        self.slope = float(slope)
        super().__init__(dim)

    def _phi(self, x):
        return self.slope * np.maximum(x, 0.0), np.where(x > 0, self.slope, 0.0)


class Cliff(Separable):
    r"""A shallow slope that ends at a cliff: an asymmetric kink.

    .. math::

        \phi(x) = \begin{cases} s\,x & x \ge 0 \\ -k\,s\,x & x < 0 \end{cases}
        \qquad
        \phi'(x) = \begin{cases} s & x > 0 \\ -k\,s & x < 0 \end{cases}

    An optimizer that walks down the shallow side (slope ``s``) and
    oversteps the minimum meets a wall ``k`` times steeper (``k = 10`` by
    default, the ratio used by the paper's released framework), whose gradient throws it
    back much further than it came: the exploding gradients met at the
    cliffs of recurrent-network losses. Minimum 0 at 0; start 1; bounds
    ``[-1, 2]``.

    Args:
        slope: the shallow slope :math:`s > 0` (default: 1)
        steepness: the ratio :math:`k \ge 1` of the cliff's slope to the
            shallow one (default: 10)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import Cliff
        >>> f = Cliff()
        >>> print(f.value_and_grad(0.5), f.value_and_grad(-0.5))
        (0.5, array([1.])) (5.0, array([-10.]))
    """

    name = "cliff"
    _bounds1 = (-1.0, 2.0)

    def __init__(self, slope: float = 1.0, steepness: float = 10.0, dim: int = 1):
        if not slope > 0:
            raise ValueError(f"Cliff: slope must be > 0, got {slope!r}")
        if not steepness >= 1:
            raise ValueError(f"Cliff: steepness must be >= 1, got {steepness!r}")
        self.slope, self.steepness = float(slope), float(steepness)
        super().__init__(dim)

    def _phi(self, x):
        s, k = self.slope, self.steepness
        return np.where(x >= 0, s * x, -k * s * x), np.where(x > 0, s, np.where(x < 0, -k * s, 0.0))


class GaussianBowl(Separable):
    r"""The Gaussian bowl :math:`\phi(x) = 1 - \exp(-x^2 / 2w^2)`.

    :math:`\phi'(x) = \frac{x}{w^2} \exp(-x^2/2w^2)`. Smooth and convex for
    :math:`|x| < w`, concave beyond, with a gradient that vanishes in the
    tails: far from the minimum a method that follows the raw gradient
    barely moves, one that normalises it does not notice. Minimum 0 at 0;
    start :math:`2w`; bounds :math:`[-4w, 4w]`.

    Args:
        width: :math:`w > 0` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import GaussianBowl
        >>> v, g = GaussianBowl().value_and_grad(1.0)
        >>> print(round(v, 6), g.round(6))
        0.393469 [0.606531]
    """

    name = "Gaussian bowl"

    def __init__(self, width: float = 1.0, dim: int = 1):
        if not width > 0:
            raise ValueError(f"GaussianBowl: width must be > 0, got {width!r}")
        self.width = float(width)
        self._start1 = 2.0 * self.width
        self._bounds1 = (-4.0 * self.width, 4.0 * self.width)
        super().__init__(dim)

    def _phi(self, x):
        w2 = self.width * self.width
        e = np.exp(-0.5 * x * x / w2)
        return 1.0 - e, x / w2 * e


class LaplaceBowl(Separable):
    r"""The Laplace bowl :math:`\phi(x) = 1 - \exp(-|x| / w)`.

    :math:`\phi'(x) = \frac{\operatorname{sign}(x)}{w} \exp(-|x|/w)`. A kink
    at the minimum (slope :math:`\pm 1/w`) and flat tails: the difficulties
    of :class:`AbsoluteValue` and :class:`GaussianBowl` together. Minimum 0
    at 0; start :math:`2w`; bounds :math:`[-4w, 4w]`.

    Args:
        width: :math:`w > 0` (default: 1)
        dim: number of coordinates (default: 1)

    Example:
        >>> from fastopt.testfunctions import LaplaceBowl
        >>> v, g = LaplaceBowl().value_and_grad(-1.0)
        >>> print(round(v, 6), g.round(6))
        0.632121 [-0.367879]
    """

    name = "Laplace bowl"

    def __init__(self, width: float = 1.0, dim: int = 1):
        if not width > 0:
            raise ValueError(f"LaplaceBowl: width must be > 0, got {width!r}")
        self.width = float(width)
        self._start1 = 2.0 * self.width
        self._bounds1 = (-4.0 * self.width, 4.0 * self.width)
        super().__init__(dim)

    def _phi(self, x):
        e = np.exp(-np.abs(x) / self.width)
        return 1.0 - e, np.sign(x) / self.width * e


# ---------------------------------------------------------------------------
# noise prototypes

NOISE_KINDS = ("additive", "multiplicative", "cauchy", "maskout")


def _draw(kind: str, scale: float, rng: np.random.Generator, size: int) -> np.ndarray:
    if kind == "additive":
        return scale * rng.standard_normal(size)
    if kind == "cauchy":
        return scale * rng.standard_cauchy(size)
    if kind == "multiplicative":
        return np.exp(scale * rng.standard_normal(size) - 0.5 * scale * scale)
    return (rng.random(size) >= scale).astype(np.float64)   # maskout: keep with probability 1 - p


class Realization(Objective):
    r"""One fixed draw of a :class:`Noisy` function: deterministic, with
    value and gradient consistent (its gradient is the gradient of its
    value), so it can be gradient-checked and plotted.

    ``xi`` holds the draw: the additive shift per coordinate (``"additive"``,
    ``"cauchy"``) or the factor per coordinate (``"multiplicative"``,
    ``"maskout"``; one shared factor for a non-separable function).
    """

    def __init__(self, objective: Objective, kind: str, xi: np.ndarray):
        self.objective, self.kind, self.xi = objective, kind, np.asarray(xi, dtype=np.float64)
        self.dim = objective.dim
        self.name = f"{objective.name} ({kind} noise draw)"
        self._start = objective._start
        self._bounds = objective._bounds
        self._minimum = None

    def _eval(self, X):
        xi = self.xi.reshape((-1,) + (1,) * (X.ndim - 1))
        if self.kind in ("additive", "cauchy"):
            f, g = self.objective._eval(X)
            return f + np.sum(xi * X, axis=0), g + xi * np.ones_like(X)
        if isinstance(self.objective, Separable) and self.xi.size == self.dim:
            phi, dphi = self.objective._phi(X)
            return np.sum(xi * phi, axis=0), xi * dphi * np.ones_like(X)
        f, g = self.objective._eval(X)
        return xi[0] * f, xi[0] * g


class Noisy(Objective):
    r"""A noise prototype wrapped around a function: each evaluation draws a
    new random function :math:`f_\xi` and returns its value and gradient.

    With :math:`\xi_i` drawn independently per coordinate, per call:

    ``"additive"`` (Gaussian):
        :math:`f_\xi(x) = f(x) + \sum_i \xi_i x_i`,
        :math:`\nabla f_\xi = \nabla f + \xi`,
        :math:`\xi_i \sim \mathcal N(0, \sigma^2)`: unbiased gradient with
        standard deviation :math:`\sigma` per coordinate.
    ``"cauchy"``:
        the same with :math:`\xi_i \sim \sigma \cdot \mathrm{Cauchy}(0, 1)`:
        heavy tails, no mean; the median of the gradient is :math:`\nabla f`
        and its interquartile range :math:`2\sigma`.
    ``"multiplicative"`` (scale noise):
        :math:`f_\xi(x) = \sum_i \lambda_i \phi(x_i)`,
        :math:`\partial_i f_\xi = \lambda_i \phi'(x_i)`, with log-normal
        :math:`\lambda_i = \exp(\sigma \xi_i - \sigma^2/2)`,
        :math:`\xi_i \sim \mathcal N(0, 1)`, so :math:`E[\lambda_i] = 1`:
        unbiased, the gradient's scale (not its sign) varies.
    ``"maskout"``:
        the same with :math:`\lambda_i \sim \mathrm{Bernoulli}(1 - p)`,
        ``scale`` being the probability :math:`p` that a coordinate's
        gradient is zeroed (sparse gradients); :math:`E[\nabla f_\xi] =
        (1-p)\nabla f`, same direction.

    For a function that is not a :class:`Separable` prototype,
    ``"multiplicative"`` and ``"maskout"`` use one factor :math:`\lambda`
    for the whole function. Expectations are those of the noise-free
    ``objective`` (up to the factor ``1 - p`` for maskout), so ``minimum``
    and ``start`` are the objective's. ``value``, ``grad`` and
    ``value_and_grad`` each draw once per call (a batch of points shares the
    draw; ``value_and_grad`` returns the value and gradient of the same
    draw). The draws come from ``numpy.random.default_rng(seed)``; the same
    seed gives the same sequence, ``reset()`` restarts it.

    Args:
        objective: the noise-free function, e.g. ``QuadraticBowl()``
        kind: one of ``"additive"``, ``"multiplicative"``, ``"cauchy"``,
            ``"maskout"`` (default: "additive")
        scale: :math:`\sigma` (additive, cauchy, multiplicative) or the
            mask-out probability :math:`p \in [0, 1)` (default: 1)
        seed: seed of the random generator (default: 0)

    Example:
        >>> from fastopt.testfunctions import Noisy, QuadraticBowl
        >>> f = Noisy(QuadraticBowl(), "additive", scale=0.5, seed=0)
        >>> grads = [f.grad(1.0)[0] for _ in range(4000)]   # true gradient: 1
        >>> print(round(float(np.mean(grads)), 1), round(float(np.std(grads)), 1))
        1.0 0.5
    """

    def __init__(self, objective: Objective, kind: str = "additive", scale: float = 1.0, seed: int | None = 0):
        if not isinstance(objective, Objective):
            raise TypeError(f"Noisy: objective must be a testfunctions.Objective, got {type(objective).__name__}")
        if kind not in NOISE_KINDS:
            raise ValueError(f"Noisy: kind must be one of {', '.join(NOISE_KINDS)}; got {kind!r}")
        scale = float(scale)
        if kind == "maskout" and not 0.0 <= scale < 1.0:
            raise ValueError(f"Noisy: the maskout probability (scale) must be in [0, 1), got {scale!r}")
        if not scale >= 0.0:
            raise ValueError(f"Noisy: scale must be >= 0, got {scale!r}")
        self.objective, self.kind, self.scale, self.seed = objective, kind, scale, seed
        self.dim = objective.dim
        self.name = f"{objective.name} + {kind} noise"
        self._start = objective._start
        self._bounds = objective._bounds
        self._minimum = objective._minimum
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Restart the random sequence (with ``seed``, or the constructor's)."""
        self.rng = np.random.default_rng(self.seed if seed is None else seed)

    def sample(self) -> Realization:
        """Draw one realization :math:`f_\\xi` and return it as a deterministic function."""
        per_coordinate = self.kind in ("additive", "cauchy") or isinstance(self.objective, Separable)
        xi = _draw(self.kind, self.scale, self.rng, self.dim if per_coordinate else 1)
        return Realization(self.objective, self.kind, xi)

    def _eval(self, X):
        return self.sample()._eval(X)

    def __repr__(self):
        return f"Noisy({self.objective!r}, {self.kind!r}, scale={self.scale:g}, seed={self.seed!r})"
