"""Helpers of the rules that reduce per tensor (LAMB, LARS) or over all params (SAM).

A reducing kernel writes ``OUT_WIDTH`` doubles per span (see csrc/fastopt.h);
inside a span it accumulates in double with L lane accumulators (element k to
lane k % L, lanes combined by a tree of adjacent pairs, for L = 8
((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the tail one by one), the same on
every ISA. L is 8 for SAM and Adafactor and 32 for LAMB and LARS (whose
passes would otherwise wait on the adder's latency). Here the spans of each tensor are
summed in span order with one ``np.add.reduceat``: results depend on neither
the thread count nor the ISA. :func:`ref_sum_sq` reproduces the whole order
in NumPy for the reference implementations, so the tests can be bitwise.

Also :func:`functional_step`, the stateless form of a multi-pass rule: it
validates the caller's buffers and runs one step of a throwaway optimizer
whose state *is* those buffers (updated in place).
"""
import numpy as np

from . import _engine

BLOCK = _engine.BLOCK
OUT_WIDTH = 4


class _SpanInfo:
    __slots__ = ("plan", "out", "starts", "has", "n")

    def __init__(self, plan):
        spans = plan.spans()
        self.plan = plan
        self.n = plan.n_tensors
        self.out = np.zeros(plan.n_spans * OUT_WIDTH)
        first = np.full(self.n, -1, dtype=np.int64)
        if spans.shape[0]:
            t = spans[:, 0]
            new = np.ones(t.size, dtype=bool)
            new[1:] = t[1:] != t[:-1]
            first[t[new]] = np.nonzero(new)[0]
        self.has = first >= 0
        self.starts = first[self.has]

    def sums(self, col):
        """Per-tensor sums of column `col` of the last run's output (0 for empty tensors)."""
        res = np.zeros(self.n)
        if self.starts.size:
            res[self.has] = combine(self.out.reshape(-1, OUT_WIDTH)[:, col], self.starts)
        return res


class SpanCache:
    """Per-plan span layout and output buffer, built once per plan."""

    def __init__(self):
        self._d = {}

    def get(self, plan):
        hit = self._d.get(id(plan))
        if hit is not None and hit.plan is plan:
            return hit
        if len(self._d) > 64:  # plans of slow-path subsets come and go
            self._d.clear()
        info = _SpanInfo(plan)
        self._d[id(plan)] = info
        return info


def combine(values, starts):
    """Sums of the segments values[starts[i]:starts[i+1]] (the spans of one tensor)."""
    return np.add.reduceat(np.ascontiguousarray(values, dtype=np.float64), np.asarray(starts, dtype=np.intp))


def lane_sum(sq, lanes=8):
    """Sum of a 1-D float64 array in the kernels' in-span order with `lanes` lanes."""
    nb = sq.size - sq.size % lanes
    if nb:
        la = np.cumsum(sq[:nb].reshape(-1, lanes), axis=0)[-1]
        while la.size > 1:
            la = la[0::2] + la[1::2]
        t = la[0]
    else:
        t = np.float64(0.0)
    for x in sq[nb:]:
        t = t + x
    return t


def lanes8(sq):
    """Sum of a 1-D float64 array in the 8-lane kernels' in-span order."""
    return lane_sum(sq, 8)


def ref_sum_sq(x, lanes=8):
    """Sum of squares (in double) of a tensor's values, exactly as the kernels
    (with `lanes` lane accumulators) and the span combination compute it."""
    x = np.asarray(x).reshape(-1).astype(np.float64)
    vals = [lane_sum(x[o:o + BLOCK] * x[o:o + BLOCK], lanes) for o in range(0, x.size, BLOCK)]
    if not vals:
        return 0.0
    return float(combine(np.array(vals), [0])[0])


#: Matrices of at most this many rows and columns (a conv filter's 3 x 3, small
#: dense layers) have their statistics finished by the tiled pass itself
#: (csrc/kernels/adafactor.h, FO_AF_SMALL); larger ones get partial sums combined
#: in NumPy (fastopt.adafactor.factored_den).
SMALL_MATRIX = 256


def factored_tiles(R, C):
    """Tile geometry of a (B, R, C) tensor in Adafactor's tiled statistics pass
    (csrc/kernels/adafactor.h, pass 3): (Ct, Rt, ns, nrb, Bt), tiles of at
    most Rt rows by Ct columns of Bt matrices, ns column strips, nrb row
    blocks. Strips are of near equal width (a multiple of 16 unless the whole
    row is narrower) and at most TILE_STRIP: rows up to that width are read
    whole (one stream). A tile holds TILE elements or 64 rows, whichever is
    more (its column sums, one double per column, are then at most 1/64
    double per element); Bt > 1 groups whole small matrices (a conv filter's
    3 x 3) so that a tile is not a handful of elements."""
    def cdiv(a, b):
        return -(-a // b)

    strip, tile = _engine.TILE_STRIP, _engine.TILE
    ns = cdiv(C, strip)
    ct = min(C, cdiv(cdiv(C, ns), 16) * 16)
    ns = cdiv(C, ct)
    rt = max(64, tile // ct)
    nrb = cdiv(R, rt)
    bt = max(1, tile // (R * C)) if nrb == 1 and ns == 1 else 1
    return ct, rt, ns, nrb, bt


def lane_rows(x, lanes=8):
    """Sums along the last axis in the kernels' lane order (see lane_sum), for every row at once."""
    w = x.shape[-1]
    nb = w - w % lanes
    if nb:
        la = np.cumsum(x[..., :nb].reshape(x.shape[:-1] + (nb // lanes, lanes)), axis=-2)[..., -1, :]
        while la.shape[-1] > 1:
            la = la[..., 0::2] + la[..., 1::2]
        t = la[..., 0]
    else:
        t = np.zeros(x.shape[:-1])
    for c in range(nb, w):
        t = t + x[..., c]
    return t


def factored_partials(g):
    """The tiled pass's partial sums of g^2 (in double) of a tensor of shape
    (..., R, C), exactly as the kernel writes them: (rowpart of shape
    (ns, B, R), colpart of shape (B, nrb, C)). NumPy; for the references and
    for steps whose grads are transformed by tools."""
    R, C = g.shape[-2], g.shape[-1]
    B = g.size // (R * C) if R * C else 0
    ct, rt, ns, nrb, _ = factored_tiles(R, C)
    x = np.square(np.ascontiguousarray(g).reshape(B, R, C), dtype=np.float64)
    rowpart = np.empty((ns, B, R))
    colpart = np.empty((B, nrb, C))
    for s in range(ns):
        rowpart[s] = lane_rows(x[:, :, s * ct:(s + 1) * ct])
    for rb in range(nrb):
        blk = x[:, rb * rt:(rb + 1) * rt, :]
        colpart[:, rb, :] = np.cumsum(blk, axis=1)[:, -1, :] if blk.shape[1] else 0.0
    return rowpart, colpart


def factored_sums(rowpart, colpart):
    """Row and column sums of g^2, shapes (B, R) and (B, C), from the tiles'
    partial sums (kernel's or :func:`factored_partials`'), in a fixed order."""
    return np.add.reduce(rowpart, axis=0), np.add.reduce(colpart, axis=1)


def safe_ratio(num, den):
    """num / den elementwise, 1 where num == 0 or den == 0 (LAMB's and LARS's convention)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = num / den
    return np.where((num == 0) | (den == 0), 1.0, r)


def rebind_dummy(plan):
    """Bind the grad slot of `plan` to its own params for a pass that does not
    read it (Plan.run unbinds input slots after every call)."""
    plan.bind(1, list(plan.params), None)


class InputStash:
    """Mixin for rules whose second pass reads the step's inputs again:
    ``Plan.run`` unbinds input slots after each call, so they are bound anew
    from the inputs of the current ``step()`` (kept only while it runs)."""

    _stash = None

    def _apply(self, inputs):
        self._stash = inputs
        try:
            super()._apply(inputs)
        finally:
            self._stash = None

    def _rebind_inputs(self, plan, group):
        gi = next(i for i, g in enumerate(self.param_groups) if g is group)
        for k, per_group in enumerate(self._stash):
            arrays = per_group[gi]
            if not plan.same_params(group["params"]):
                by_id = {id(p): a for p, a in zip(group["params"], arrays)}
                arrays = [by_id[id(p)] for p in plan.params]
            plan.bind(1 + k, list(arrays), None)


def functional_step(cls, hyper, params, grads, buffers, steps, n_threads, flush_denormals):
    """One step of `cls` over caller-owned buffers ({state name: list aligned with params})."""
    params = list(params)
    n = len(params)
    labels = [f"params[{i}]" for i in range(n)]
    _engine.check_params(params, labels)
    grads = list(grads)
    if len(grads) != n:
        raise ValueError(f"grads: expected {n} arrays, got {len(grads)}")
    written, owners = list(params), list(labels)
    for name, lst in buffers.items():
        lst = list(lst)
        if len(lst) != n:
            raise ValueError(f"{name}: expected {n} arrays, got {len(lst)}")
        _engine.check_params(lst, [f"{name}[{i}]" for i in range(n)])
        for i, (b, p) in enumerate(zip(lst, params)):
            if b.shape != p.shape or b.dtype != p.dtype:
                raise ValueError(f"{name}[{i}]: shape/dtype {b.shape}/{b.dtype} does not match "
                                 f"params[{i}] {p.shape}/{p.dtype}")
        buffers[name] = lst
        written += lst
        owners += [f"{name}[{i}]" for i in range(n)]
    hit = _engine.find_overlap(written)
    if hit is not None:
        raise ValueError(f"{owners[hit[1]]}: shares memory with {owners[hit[0]]}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        steps = [int(steps)] * n
    steps = [int(s) for s in steps]
    if len(steps) != n:
        raise ValueError(f"step: expected an int or {n} counts, got {len(steps)}")
    if any(s < 1 for s in steps):
        raise ValueError("step: step numbers are 1-based and must be >= 1")
    if any(g is None for g in grads):
        raise ValueError(f"grads: entry for params[{[g is None for g in grads].index(True)}] is None")
    opt = cls(params, **hyper, n_threads=n_threads, flush_denormals=flush_denormals)
    for i, p in enumerate(params):
        st = {"step": steps[i] - 1}
        st.update({name: lst[i] for name, lst in buffers.items()})
        opt._state[id(p)] = st
    opt.step(grads)
