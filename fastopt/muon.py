"""Muon (torch.optim.Muon): momentum orthogonalised by Newton-Schulz iterations, for 2-D params."""
import math

import numpy as np

from . import _engine, _threads
from . import _validation as V
from ._docs import fill
from ._params import by_dtype
from .optimizer import Optimizer

__all__ = ["Muon", "muon_"]

NS_DTYPES = ("bfloat16", "float32", "float64")
_ADJUST = (None, "original", "match_rms_adamw")


def _round_bf16(x):
    """Round a float32 array to bfloat16 in place (nearest, ties to even; NaN
    becomes the positive quiet NaN, as torch's conversion does); returns x."""
    u = x.view(np.uint32)
    nan = np.isnan(x)
    bias = u >> 16
    bias &= 1
    bias += 0x7FFF
    u += bias
    u &= np.uint32(0xFFFF0000)
    if nan.any():
        x[nan] = np.nan
    return x


#: Iterates of at least this many elements take the engine for their
#: elementwise steps (kernels/muon.h, flag bit 4); smaller ones NumPy, whose few
#: passes cost less than a plan. Both give the same bits.
NS_ENGINE_MIN = 1 << 15


def _ns_elementwise(op, y, x=None, s=0.0, bf16=True, n_threads=1):
    """One of Newton-Schulz's elementwise steps in place on the iterate y:
    op 0 y = r(y), op 1 y = r(y / s), op 2 y = r(y + s * x), r the bfloat16
    rounding when `bf16` (else none). The engine's fused pass when y (and x)
    are C-contiguous and large enough, else NumPy in the same float operations."""
    if op == 0 and not bf16:
        return y

    # The engine walks memory in order: a C-contiguous y as it is, an F-contiguous
    # one (a tall update, transposed) as y.T; x must be laid out as y.
    fy = fx = None
    if y.flags.c_contiguous:
        fy, fx = y, (x if x is not None and x.flags.c_contiguous else None)
    elif y.flags.f_contiguous:
        fy, fx = y.T, (x.T if x is not None and x.flags.f_contiguous else None)
    if y.size >= NS_ENGINE_MIN and fy is not None and y.flags.writeable and y.ndim == 2 \
            and (x is None or (fx is not None and x.shape == y.shape and x.dtype == y.dtype)):
        plan = _engine.Plan([[fy]] if x is None else [[fy], [fx]], ["Newton-Schulz iterate"])
        plan.run(_engine.RULES["muon"], [float(s)], 16 | (op << 5) | (128 if bf16 else 0), n_threads)
        return y
    T = y.dtype.type
    if op == 1:
        np.divide(y, T(s), out=y)
    elif op == 2:
        y += T(s) * x
    return _round_bf16(y) if bf16 else y


def newton_schulz(update, coefficients, steps, eps, ns_dtype="bfloat16", n_threads=1):
    """Newton-Schulz orthogonalisation of a 2-D array, torch.optim.Muon's op order.

    ``ns_dtype='bfloat16'`` reproduces torch on CPU, which runs the iteration in
    bfloat16 for every param dtype: NumPy has no bfloat16, so each torch op is
    computed in float32 (BLAS matmul) and its result rounded to bfloat16, as
    torch's CPU bfloat16 matmul/addmm accumulate in float32 and round once.
    'float32'/'float64' run the same iteration in that dtype without rounding.
    The elementwise steps on the iterate (the rounding of the cast, the
    scaling by the norm, addmm's ``a * X`` and its rounding) are fused engine
    passes on `n_threads` threads (:func:`_ns_elementwise`), the matmuls
    NumPy's BLAS. Returns a new array of the working dtype (float32 for
    bfloat16).
    """
    a, b, c = coefficients
    bf16 = ns_dtype == "bfloat16"
    W = np.float64 if ns_dtype == "float64" else np.float32
    rnd = _round_bf16 if bf16 else (lambda y: y)
    X = np.array(update, dtype=W)  # float64 -> float32 -> bfloat16, as torch's cast goes
    _ns_elementwise(0, X, bf16=bf16, n_threads=n_threads)
    tall = X.shape[0] > X.shape[1]
    if tall:
        X = X.T
    nrm = np.array(math.sqrt(float(np.sum(np.square(X, dtype=np.float64)))), dtype=W)
    rnd(nrm.reshape(1))
    floor = rnd(np.array([eps], dtype=W))[0]
    if nrm < floor:
        nrm = floor
    X = _ns_elementwise(1, np.array(X, order="K"), s=float(nrm), bf16=bf16, n_threads=n_threads)
    a, b, c = W(a), W(b), W(c)
    spare = None   # the previous iterate's buffer: the next M @ X is written into it (no new pages)
    for _ in range(steps):
        G = _ns_elementwise(0, X @ X.T, bf16=bf16)   # gram = X X^T (m x m: the engine's rounding too)
        M = G @ G                         # addmm(G, G, G, beta=b, alpha=c)
        M *= c
        G *= b
        M += G
        _ns_elementwise(0, M, bf16=bf16)
        Y = M @ X if spare is None else np.matmul(M, X, out=spare)   # addmm(X, M, X, beta=a)
        spare = X if X.flags.c_contiguous and X.shape == Y.shape else None
        X = _ns_elementwise(2, Y, X, s=float(a), bf16=bf16, n_threads=n_threads)
    return X.T if tall else X


def adjusted_lr(lr, adjust_lr_fn, shape):
    """torch.optim.Muon's learning rate for a param of `shape` (in double)."""
    A, B = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, A / B))
    else:  # "match_rms_adamw"
        ratio = 0.2 * math.sqrt(max(A, B))
    return lr * ratio


def _flags(group, dtype):
    T = np.dtype(dtype).type
    w1 = T(1.0 - float(group["momentum"]))
    mu = T(float(group["momentum"]))
    return (2 if group["nesterov"] else 0) | (4 if abs(w1) < 0.5 else 0) | (8 if abs(mu) < 0.5 else 0)


def _scalars(group):
    lr, wd, mom = float(group["lr"]), float(group["weight_decay"]), float(group["momentum"])
    return (1.0 - mom, mom, 1.0 - lr * wd)


def _check(group, index):
    V.nonneg("lr", group["lr"], index)
    V.nonneg("weight_decay", group["weight_decay"], index)
    V.nonneg("momentum", group["momentum"], index)
    V.boolean("nesterov", group["nesterov"], index)
    coef = group["ns_coefficients"]
    try:
        coef = tuple(coef)
    except TypeError:
        raise TypeError(f"ns_coefficients: expected a tuple of 3 numbers, got {type(coef).__name__}"
                        f"{V._where(index)}") from None
    if len(coef) != 3:
        raise ValueError(f"ns_coefficients: expected 3 values, got {len(coef)}{V._where(index)}")
    for i, x in enumerate(coef):
        V.number(f"ns_coefficients[{i}]", x, index)
    V.positive("eps", group["eps"], index)
    steps = group["ns_steps"]
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        raise TypeError(f"ns_steps: expected an int, got {type(steps).__name__}{V._where(index)}")
    if not 0 <= steps < 100:
        raise ValueError(f"ns_steps: expected a value in [0, 100), got {steps}{V._where(index)}")
    if group["adjust_lr_fn"] not in _ADJUST:
        raise ValueError(f"adjust_lr_fn: expected None, 'original' or 'match_rms_adamw', "
                         f"got {group['adjust_lr_fn']!r}{V._where(index)}")
    if group["ns_dtype"] not in NS_DTYPES:
        raise ValueError(f"ns_dtype: expected one of {NS_DTYPES}, got {group['ns_dtype']!r}{V._where(index)}")


def _check_2d(params, labels):
    for p, lab in zip(params, labels):
        if np.ndim(p) != 2:
            raise ValueError(f"{lab}: Muon only supports 2-D params, got shape {np.shape(p)} "
                             f"(optimize biases, embeddings and other params with e.g. AdamW)")


def _two_passes(rule_id, plan, params, bufs, group, n_threads, ftz):
    """Pass 1 (momentum), Newton-Schulz per param, pass 2 (decay + update) on a
    plan whose grads slot is bound; slot 2 gets the per-step update arrays."""
    T = params[0].dtype
    upd = [np.empty_like(p) for p in params]
    plan.bind(2, upd, None, "update")
    scalars = _scalars(group)
    nesterov = bool(group["nesterov"])
    plan.run(rule_id, scalars, _flags(group, T), n_threads, ftz, observe=False)
    coef = tuple(float(x) for x in group["ns_coefficients"])
    steps, eps, ns_dtype = int(group["ns_steps"]), float(group["eps"]), group["ns_dtype"]
    neg_lr = np.empty((len(params), 1), dtype=np.float64)
    lr, fn = float(group["lr"]), group["adjust_lr_fn"]
    for t, p in enumerate(params):
        src = upd[t] if nesterov else bufs[t]
        # The solve's elementwise passes run on the calling thread: between two
        # GEMMs, an OpenMP team fights the BLAS threads still spinning from the
        # last one (2 threads on 2 cores made a ResNet-50 step 2.2x slower).
        np.copyto(upd[t], newton_schulz(src, coef, steps, eps, ns_dtype, 1))
        neg_lr[t, 0] = -adjusted_lr(lr, fn, p.shape)
    # Pass 2 reads only slots 0 and 2; the grads slot was released by the first
    # run and is re-pointed at the update arrays only to satisfy the binding.
    plan.bind(1, upd, None, "update")
    plan.bind(2, upd, None, "update")
    plan.run(rule_id, scalars, 1, n_threads, ftz, neg_lr)


class Muon(Optimizer):
    __doc__ = fill(r"""Muon: SGD-momentum whose update is orthogonalised by Newton-Schulz
    iterations (torch.optim.Muon semantics, defaults and op order). 2-D params only.

    With :math:`\mathrm{{lerp}}(a, b, w) = a + w(b - a)`, per step and param:

    .. math::

        B &\leftarrow \mathrm{{lerp}}(B, g, 1 - \mu) \\
        U &\leftarrow \mathrm{{lerp}}(g, B, \mu) \text{{ if nesterov, else }} B \\
        O &\leftarrow \mathrm{{NS}}^{{(a,b,c)}}_{{k}}(U;\ \varepsilon) \\
        \theta &\leftarrow \theta\,(1 - \gamma\lambda) - \gamma' O, \qquad
            \gamma' = \gamma \sqrt{{\max(1, A/B)}} \text{{ (original) or }}
            0.2\,\gamma \sqrt{{\max(A, B)}} \text{{ (match_rms_adamw)}}

    for a param of shape :math:`(A, B)`. :math:`\mathrm{{NS}}` transposes a tall
    :math:`U` to wide, scales it by :math:`1/\max(\lVert U\rVert_F, \varepsilon)`
    and repeats :math:`k` times :math:`G = XX^T`, :math:`X \leftarrow aX + (bG + cG^2)X`.

    State per param: ``momentum_buffer`` (no ``step``, as in torch). A step is
    two fused C passes per param group and dtype and one Newton-Schulz solve per
    param in between: pass 1 updates the buffer and writes the Nesterov update
    (reads g, B; writes B, U), the solve runs NumPy matmuls (BLAS) on each
    matrix, pass 2 applies the weight decay and the update together (reads
    :math:`\theta`, O; writes :math:`\theta`): 28 bytes per element in float32
    with nesterov (24 without: the solve reads B directly), plus the solve.

    Newton-Schulz dtype: torch runs it in bfloat16 on CPU for float32 and
    float64 params alike. fastopt's default ``ns_dtype='bfloat16'`` reproduces
    that: every op in float32 with BLAS, its result rounded to bfloat16
    (torch's CPU bfloat16 matmul accumulates in float32 and rounds once; sums
    over long rows may round across a bfloat16 boundary in another order, so a
    few elements can differ from torch by one bfloat16 ulp). 'float32' or
    'float64' run the iteration in that dtype, unrounded: more accurate, not
    torch's numbers.

    Args:
        {params} Every param must be 2-D.
        lr: learning rate, >= 0 (default: 0.001)
        weight_decay: decoupled weight decay, >= 0: params are multiplied by
            ``1 - lr * weight_decay`` each step (default: 0.1)
        momentum: momentum factor, >= 0 (default: 0.95)
        nesterov: use the Nesterov update :math:`\mathrm{{lerp}}(g, B, \mu)` (default: True)
        ns_coefficients: :math:`(a, b, c)` of the Newton-Schulz quintic (default: (3.4445, -4.775, 2.0315))
        eps: floor of the norm the update is divided by, > 0 (default: 1e-07)
        ns_steps: Newton-Schulz iterations, in [0, 100) (default: 5)
        adjust_lr_fn: None or 'original' (scale lr by :math:`\sqrt{{\max(1, A/B)}}`) or
            'match_rms_adamw' (by :math:`0.2\sqrt{{\max(A, B)}}`) (default: None)
        ns_dtype: dtype of the Newton-Schulz iteration: 'bfloat16' (torch's,
            emulated), 'float32' or 'float64' (default: 'bfloat16')
        {n_threads}
        {flush_denormals}
        {tools}

    Example:
        >>> import numpy as np, fastopt
        >>> w = np.array([[1.0, 2.0, 3.0]])
        >>> opt = fastopt.Muon([w], lr=0.1, weight_decay=0.0)
        >>> opt.step([np.array([[0.5, -1.0, 2.0]])])
        >>> w
        array([[0.98505859, 2.02988281, 2.94023438]])

    References:
        Jordan et al., "Muon: An optimizer for hidden layers in neural networks",
        https://kellerjordan.github.io/posts/muon/ (2024).
        Liu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982 (2025).
    """)

    rule = "muon"
    step_in_state = False
    n_inputs = 2  # grads, and the per-step update arrays the Newton-Schulz solve fills
    _input_names = ("grads", "update")

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None, *,
                 ns_dtype="bfloat16", n_threads=None, flush_denormals=False, **tools):
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                        ns_dtype=ns_dtype)
        super().__init__(params, defaults, n_threads=n_threads, flush_denormals=flush_denormals, **tools)

    def add_param_group(self, param_group):
        n0 = len(self._flat_params())
        super().add_param_group(param_group)
        g = self.param_groups[-1]
        try:
            _check_2d(g["params"], self._flat_labels()[n0:])
        except ValueError:
            self.param_groups.pop()
            self._runtimes.pop()
            raise

    def _check_group(self, group, index):
        _check(group, index)

    def _buffer_names(self, group):
        return ("momentum_buffer",)

    def _scalars(self, group, step):
        return _scalars(group), 0

    def _run_plan(self, plan, group, step, n_threads):
        params = plan.params
        bufs = [self._state[id(p)]["momentum_buffer"] for p in params]
        _two_passes(self._rule_id, plan, params, bufs, group, n_threads, self.flush_denormals)


def muon_(params, grads, momentum_buffers, *, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
          ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None,
          ns_dtype="bfloat16", n_threads=None, flush_denormals=False):
    """In-place Muon step (see :class:`fastopt.Muon`): ``momentum_buffers[i]``
    (zeros before the first step) is updated with ``params[i]``. Muon has no
    step count, so there is no ``step`` argument."""
    params = list(params)
    n = len(params)
    labels = [f"params[{i}]" for i in range(n)]
    _engine.check_params(params, labels)
    _check_2d(params, labels)
    grads, bufs = list(grads), list(momentum_buffers)
    for name, lst in (("grads", grads), ("momentum_buffers", bufs)):
        if len(lst) != n:
            raise ValueError(f"{name}: expected {n} arrays, got {len(lst)}")
    _engine.check_params(bufs, [f"momentum_buffers[{i}]" for i in range(n)])
    for i, (b, p) in enumerate(zip(bufs, params)):
        if b.shape != p.shape or b.dtype != p.dtype:
            raise ValueError(f"momentum_buffers[{i}]: shape/dtype {b.shape}/{b.dtype} does not match params[{i}] "
                             f"{p.shape}/{p.dtype}")
    written = params + bufs
    owners = labels + [f"momentum_buffers[{i}]" for i in range(n)]
    hit = _engine.find_overlap(written)
    if hit is not None:
        raise ValueError(f"{owners[hit[1]]}: shares memory with {owners[hit[0]]}")
    group = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                 ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
                 ns_dtype=ns_dtype)
    _check(group, None)
    ws = _engine.WritableSet(written, owners)
    work = []
    for idx in by_dtype(params):
        plan = _engine.Plan([[params[i] for i in idx], _engine.INPUT, _engine.INPUT, [bufs[i] for i in idx]],
                            [labels[i] for i in idx])
        missing = plan.bind(1, [grads[i] for i in idx], ws)
        if missing:
            raise ValueError(f"grads: entry for {labels[idx[missing[0]]]} is None")
        work.append((plan, idx))
    nt = _threads.resolve(_threads.check_n_threads(n_threads))
    rule_id = _engine.RULES["muon"]
    for plan, idx in work:
        _two_passes(rule_id, plan, [params[i] for i in idx], [bufs[i] for i in idx], group, nt, flush_denormals)
