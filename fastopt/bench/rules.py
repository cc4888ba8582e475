"""The benchmark rule registry: what to run, what it moves, what to compare with.

A *rule* here is one optimizer configuration (``adam``, ``sgd-momentum`` ...).
Each entry knows

* how to build the fastopt optimizer (class + keyword arguments);
* how many array elements one step moves per parameter (reads + writes), so
  ``bytes/step = elements x itemsize x n_params``;
* its access pattern ``(k, j)``: k arrays read, j of them written back in
  place, the pattern whose bandwidth the ``stream_inplace`` kernel measures
  (k + j == elements);
* its NumPy peer (``fastopt.reference``) and its torch.optim peer.

Adding a rule is one call::

    register(BenchRule("adagrad", fastopt.Adagrad, dict(lr=1e-2), reads=3, writes=2,
                       reference=fastopt.reference.Adagrad, torch="Adagrad"))

``reads``/``writes`` may be callables of the keyword arguments when an option
changes the traffic (e.g. AMSGrad's extra buffer).
"""
from dataclasses import dataclass, field

import numpy as np

import fastopt
from fastopt import reference

from . import bandwidth

__all__ = ["BenchRule", "RULES", "register", "get", "names", "ceiling_gbps", "DEFAULT_QUICK"]


def _itemsize(dtype):
    return np.dtype(dtype).itemsize


def ceiling_gbps(elements, passes, bw):
    """elements / sum(m * (k + j) / bw(k, j)) over ``passes`` ``((k, j), m)``:
    the rate, in `elements` per parameter, of a step whose passes run at their
    probes' rates ``bw(k, j)`` (GB/s)."""
    return elements / sum(m * (k + j) / bw(k, j) for (k, j), m in passes)


@dataclass(frozen=True)
class BenchRule:
    """One benchmarked optimizer configuration.

    Attributes:
        name: registry key, used by ``--rule``.
        cls: the fastopt optimizer class.
        kwargs: hyperparameters (shared by fastopt, the reference and torch).
        reads, writes: arrays read / written per element per step (ints, or
            callables ``f(kwargs) -> int``). Writes are in place, into arrays
            also read (params and state), so the pattern is (reads, writes).
        reference: the plain-NumPy peer class (``fastopt.reference``), or None.
        torch: name of the torch.optim class, or None.
        torch_kwargs: extra/overriding keyword arguments for torch only.
        description: one line for the report.
        moved: array elements moved per parameter per step when the rule is
            not one elementwise pass (a number or ``f(kwargs)``); the (k, j)
            pattern then only picks the in-place probe it is quoted against.
        touched: fraction of the parameter elements a step touches (row-sparse
            rules: GB/s and bytes count the touched rows only).
        layout: ``f(shape) -> shape`` for rules that need matrices (Muon,
            factored Adafactor, row-sparse SparseAdam): params and grads are
            viewed in that shape by every implementation.
        drive: how a step is fed: ``"grads"`` (``step(grads)``), ``"closure"``
            (``step(closure)``, the closure returns the round's precomputed
            grads), ``"sparse"`` (one :class:`fastopt.RowSparseGrad` per
            param over a fixed set of rows), ``"hessian"`` (``step(grads,
            hessian_diag)`` with a positive diagonal derived from the grads).
        wrap: ``f(base_optimizer) -> optimizer`` for wrappers (SAM, Lookahead);
            ``cls``/``kwargs`` then describe the base optimizer.
        prime: optimizer steps run when an implementation is built, on its own
            random grads (LBFGS: fill the history so every timed step does the
            same work).
        max_bytes: the largest workload (params x itemsize) the bench runs the
            rule on, or None; bigger cases are skipped with a message (LBFGS's
            history of float64 2^26 next to its torch peer's ran out of this
            machine's 24 GB and the kernel killed the whole run).
        passes: the rule's passes over memory as ``((k, j), m)`` pairs (or
            ``f(kwargs)`` returning them): m passes per step with the access
            pattern of the (k, j) probe, j = 0 for a read-only (reduction)
            pass. When given, the rule is quoted against the sum of its
            passes' probes: its ceiling is ``elements()`` bytes over the time
            those probes take (:meth:`ceiling_gbps`), since one core reads
            fewer bytes per second in a reduction than it moves in an
            in-place pass. A pass that stores into an array it does not read
            is given the probe of its bus traffic (the store's read for
            ownership is a read), so sum(m * (k + j)) may exceed elements().
            None: one pass of :meth:`pattern`.
    """
    name: str
    cls: type
    kwargs: dict = field(default_factory=dict)
    reads: object = 2
    writes: object = 1
    reference: type = None
    torch: str = None
    torch_kwargs: dict = field(default_factory=dict)
    description: str = ""
    moved: object = None
    touched: float = 1.0
    layout: object = None
    drive: str = "grads"
    wrap: object = None
    prime: int = 0
    max_bytes: int = None
    passes: object = None

    # -- traffic -------------------------------------------------------------
    def pattern(self):
        """(k, j): arrays read and written per element, in place."""
        k = self.reads(self.kwargs) if callable(self.reads) else self.reads
        j = self.writes(self.kwargs) if callable(self.writes) else self.writes
        return int(k), int(j)

    def probe_passes(self):
        """The probes the rule is quoted against: ``(((k, j), m), ...)``."""
        if self.passes is None:
            return ((self.pattern(), 1.0),)
        ps = self.passes(self.kwargs) if callable(self.passes) else self.passes
        return tuple(((int(k), int(j)), float(m)) for (k, j), m in ps)

    def ceiling_elements(self):
        """Elements per parameter the ceiling rate counts: the rule's own
        count when it has passes, else its probe's k + j (a single-probe rule
        is compared rate against rate)."""
        if self.passes is None:
            k, j = self.pattern()
            return k + j
        return self.elements()

    def pattern_label(self):
        """'r4w3', or the passes: 'r2 + r3w2', '3 r1 + r2w1' (j = 0: read only)."""
        def one(k, j):
            return f"r{k}" if j == 0 else f"r{k}w{j}"
        if self.passes is None:
            return one(*self.pattern())
        return " + ".join((f"{m:g} " if m != 1 else "") + one(k, j) for (k, j), m in self.probe_passes())

    def ceiling_gbps(self, bw):
        """The rule's bandwidth ceiling in its own byte count, from ``bw(k, j)``
        (GB/s of each probe): see :func:`ceiling_gbps`."""
        return ceiling_gbps(self.ceiling_elements(), self.probe_passes(), bw)

    def elements(self):
        """Array elements moved per touched parameter per step (reads + writes)."""
        if self.moved is not None:
            return self.moved(self.kwargs) if callable(self.moved) else self.moved
        k, j = self.pattern()
        return k + j

    def bytes_per_element(self, dtype):
        """Bytes moved per touched parameter per step in `dtype`."""
        return self.elements() * _itemsize(dtype)

    def bytes_per_step(self, dtype, n_params):
        touched = int(round(int(n_params) * self.touched))
        extra = 0
        if self.drive == "sparse":   # one int64 row id per touched row
            extra = 8 * len(_sparse_rows(_layout_shape(self, (int(n_params),)), self.touched))
        return int(self.bytes_per_element(dtype) * touched) + extra

    # -- implementations -----------------------------------------------------
    def _views(self, arrays):
        if self.layout is None:
            return list(arrays)
        return [a.reshape(self.layout(a.shape)) for a in arrays]

    def make_fastopt(self, params, n_threads):
        params = self._views(params)
        if self.wrap is not None:
            opt = self.wrap(self.cls(params, n_threads=n_threads, **self.kwargs))
        else:
            opt = self.cls(params, n_threads=n_threads, **self.kwargs)
        self._prime(opt, params, self.fastopt_step)
        return opt

    def make_reference(self, params):
        if self.reference is None:
            return None
        params = self._views(params)
        opt = self.reference(params, **self.kwargs)
        self._prime(opt, params, self.reference_step)
        return opt

    def make_torch(self, tparams, variant):
        """torch.optim peer over `tparams`; variant is 'fused', 'foreach' or 'forloop'.
        Classes without fused/foreach implementations (LBFGS, SparseAdam, Muon)
        run as 'forloop' only; asking them for 'fused' or 'foreach' raises
        TypeError (the runner skips the peer)."""
        import inspect

        import torch

        if self.torch is None:
            return None
        cls = getattr(torch.optim, self.torch)
        kw = dict(self.kwargs)
        kw.update(self.torch_kwargs)
        accepted = inspect.signature(cls.__init__).parameters
        if variant in ("fused", "foreach"):
            if variant not in accepted:
                raise TypeError(f"torch.optim.{self.torch} has no {variant} implementation")
            kw[variant] = True
        elif variant == "forloop":
            if "foreach" in accepted:
                kw.update(foreach=False)
        else:
            raise ValueError(f"unknown torch variant {variant!r}")
        if self.layout is not None:
            tparams = [t.view(self.layout(tuple(t.shape))) for t in tparams]
        opt = cls(tparams, **kw)
        if self.prime:
            rng = np.random.default_rng(1)
            for _ in range(self.prime):
                tg = [torch.from_numpy((rng.standard_normal(t.shape) * 1e-2).astype(t.numpy().dtype))
                      for t in tparams]
                self.torch_prepare(opt, tg)
                self.torch_step(opt)
        return opt

    def _prime(self, opt, params, step):
        if not self.prime:
            return
        rng = np.random.default_rng(1)
        for _ in range(self.prime):
            step(opt, [(rng.standard_normal(p.shape) * 1e-2).astype(p.dtype) for p in params])

    # -- one step of each implementation (the runner calls these) --------------
    def inputs(self, grads):
        """What this rule's step takes for one gradient set, built once per set."""
        hit = _INPUTS.get(id(grads))
        if hit is not None and hit[0] is grads and hit[1] == self.name:
            return hit[2]
        g = self._views(grads)
        if self.drive == "sparse":
            out = []
            for a in g:
                rows = _sparse_rows(a.shape, self.touched)
                out.append(fastopt.RowSparseGrad(rows, np.ascontiguousarray(a[rows])))
            res = out
        elif self.drive == "hessian":
            res = (g, [a * a + a.dtype.type(1e-4) for a in g])
        else:
            res = g
        if len(_INPUTS) > 16:
            _INPUTS.clear()
        _INPUTS[id(grads)] = (grads, self.name, res)
        return res

    def fastopt_step(self, opt, grads):
        x = self.inputs(grads)
        if self.drive == "closure":
            opt.step(lambda: (0.0, x))
        elif self.drive == "hessian":
            opt.step(x[0], x[1])
        else:
            opt.step(x)

    def reference_step(self, opt, grads):
        x = self.inputs(grads)
        if self.drive == "hessian":
            opt.step(x[0], x[1])
        else:
            opt.step(x)

    def torch_prepare(self, opt, tgrads):
        """Bind one gradient set (torch tensors sharing the NumPy sets' memory)."""
        import torch

        params = [p for grp in opt.param_groups for p in grp["params"]]
        if self.drive == "sparse":
            for p, tg in zip(params, tgrads):
                rows = _sparse_rows(tuple(p.shape), self.touched)
                vals = tg.view(tuple(p.shape))[torch.from_numpy(rows)]
                p.grad = torch.sparse_coo_tensor(torch.from_numpy(rows)[None], vals, tuple(p.shape),
                                                 check_invariants=False).coalesce()
        else:
            for p, tg in zip(params, tgrads):
                p.grad = tg.view(tuple(p.shape))

    def torch_step(self, opt):
        if self.drive == "closure":
            import torch

            zero = torch.zeros(())
            opt.step(lambda: zero)   # the grads bound by torch_prepare stay in place
        else:
            opt.step()


_INPUTS = {}
_ROWS = {}


def _layout_shape(rule, shape):
    return tuple(rule.layout(tuple(shape))) if rule.layout is not None else tuple(shape)


def _sparse_rows(shape, fraction):
    """A fixed, seeded, sorted set of round(fraction * rows) distinct row ids."""
    key = (tuple(shape), fraction)
    if key not in _ROWS:
        n = int(shape[0]) if len(shape) else 1
        k = max(1, int(round(n * fraction)))
        _ROWS[key] = np.sort(np.random.default_rng(2).choice(n, size=min(k, n), replace=False)).astype(np.int64)
    return _ROWS[key]


def _matrix(cols):
    """Layout: a 1-D workload tensor as rows x `cols` (other shapes unchanged)."""
    def layout(shape):
        if len(shape) == 1 and shape[0] % cols == 0 and shape[0] >= cols:
            return (shape[0] // cols, cols)
        return tuple(shape)
    return layout


def _wide(rows):
    """Layout for Muon, which takes matrices only: a 1-D workload tensor as
    `rows` x N (the Newton-Schulz cost grows with min(shape)), or 1 x N when N
    is not a multiple of `rows` (a network's biases); a tensor of more than 2
    dims (a conv filter bank) as out_channels x the rest, as Muon users
    flatten them."""
    def layout(shape):
        if len(shape) == 1:
            return (rows, shape[0] // rows) if shape[0] % rows == 0 and shape[0] >= rows else (1, shape[0])
        if len(shape) > 2:
            return (shape[0], int(np.prod(shape[1:])))
        return tuple(shape)
    return layout


RULES = {}

#: The rules the quick benchmark runs.
DEFAULT_QUICK = ("sgd-momentum", "adam")


def register(rule):
    """Add (or replace) a rule in :data:`RULES`; returns it."""
    if not isinstance(rule, BenchRule):
        raise TypeError("register: expected a BenchRule")
    k, j = rule.pattern()
    if not 1 <= j < k <= 6:
        raise ValueError(f"{rule.name}: access pattern ({k}, {j}) has no stream_inplace kernel (1 <= j < k <= 6)")
    for (k, j), m in rule.probe_passes():
        if not bandwidth.probe_pattern_ok(k, j) or not m > 0:
            raise ValueError(f"{rule.name}: pass ({k}, {j}) x {m} has no stream_inplace kernel "
                             "(1 <= j < k <= 6, k = j = 1, or j = 0 with k <= 6; m > 0)")
    RULES[rule.name] = rule
    return rule


def get(name):
    try:
        return RULES[name]
    except KeyError:
        raise KeyError(f"unknown rule {name!r}; known: {', '.join(RULES)}") from None


def names():
    return list(RULES)


register(BenchRule("sgd", fastopt.SGD, dict(lr=1e-2), reads=2, writes=1, reference=reference.SGD,
                   torch="SGD", description="plain SGD: read p, g; write p"))
register(BenchRule("sgd-momentum", fastopt.SGD, dict(lr=1e-2, momentum=0.9), reads=3, writes=2,
                   reference=reference.SGD, torch="SGD",
                   description="SGD with momentum: read p, g, b; write p, b"))
register(BenchRule("sgd-nesterov", fastopt.SGD, dict(lr=1e-2, momentum=0.9, nesterov=True, weight_decay=1e-4),
                   reads=3, writes=2, reference=reference.SGD, torch="SGD",
                   description="SGD, Nesterov momentum + L2 weight decay"))
register(BenchRule("adam", fastopt.Adam, dict(lr=1e-3), reads=4, writes=3, reference=reference.Adam,
                   torch="Adam", description="Adam: read p, g, m, v; write p, m, v"))
register(BenchRule("adamw", fastopt.AdamW, dict(lr=1e-3, weight_decay=1e-2), reads=4, writes=3,
                   reference=reference.AdamW, torch="AdamW", description="AdamW (decoupled weight decay)"))
register(BenchRule("adam-amsgrad", fastopt.Adam, dict(lr=1e-3, amsgrad=True), reads=5, writes=4,
                   reference=reference.Adam, torch="Adam",
                   description="Adam with AMSGrad: read p, g, m, v, vmax; write p, m, v, vmax"))


# ---- the rest of the elementwise rules (issue: every rule in the benchmark) ----
register(BenchRule("adagrad", fastopt.Adagrad, dict(lr=1e-2), reads=3, writes=2, reference=reference.Adagrad,
                   torch="Adagrad", description="Adagrad: read p, g, sum; write p, sum"))
register(BenchRule("rmsprop", fastopt.RMSprop, dict(lr=1e-3), reads=3, writes=2, reference=reference.RMSprop,
                   torch="RMSprop", description="RMSprop: read p, g, square_avg; write p, square_avg"))
register(BenchRule("rmsprop-centered-momentum", fastopt.RMSprop, dict(lr=1e-3, centered=True, momentum=0.9),
                   reads=5, writes=4, reference=reference.RMSprop, torch="RMSprop",
                   description="RMSprop centered + momentum: + grad_avg, momentum_buffer"))
register(BenchRule("adadelta", fastopt.Adadelta, dict(lr=1.0), reads=4, writes=3, reference=reference.Adadelta,
                   torch="Adadelta", description="Adadelta: read p, g, square_avg, acc_delta; write 3"))
register(BenchRule("adamax", fastopt.Adamax, dict(lr=2e-3), reads=4, writes=3, reference=reference.Adamax,
                   torch="Adamax", description="Adamax: read p, g, exp_avg, exp_inf; write 3"))
register(BenchRule("nadam", fastopt.NAdam, dict(lr=2e-3), reads=4, writes=3, reference=reference.NAdam,
                   torch="NAdam", description="NAdam: read p, g, m, v; write p, m, v"))
register(BenchRule("radam", fastopt.RAdam, dict(lr=1e-3), reads=4, writes=3, reference=reference.RAdam,
                   torch="RAdam", description="RAdam: read p, g, m, v; write p, m, v"))
register(BenchRule("rprop", fastopt.Rprop, dict(lr=1e-2), reads=4, writes=3, reference=reference.Rprop,
                   torch="Rprop", description="Rprop: read p, g, prev, step_size; write 3"))
register(BenchRule("asgd", fastopt.ASGD, dict(lr=1e-2, t0=0), reads=3, writes=2, reference=reference.ASGD,
                   torch="ASGD", description="ASGD while averaging (t0=0): read p, g, ax; write p, ax"))
register(BenchRule("adabelief", fastopt.AdaBelief, dict(lr=1e-3), reads=4, writes=3,
                   reference=reference.AdaBelief, description="AdaBelief: read p, g, m, s; write p, m, s"))
register(BenchRule("lion", fastopt.Lion, dict(lr=1e-4), reads=3, writes=2, reference=reference.Lion,
                   description="Lion: read p, g, m; write p, m"))
register(BenchRule("noisy-sgd", fastopt.NoisySGD, dict(lr=1e-2), reads=2, writes=1, reference=reference.NoisySGD,
                   description="SGD + annealed Gaussian noise from a counter-based generator"))
# Two-pass rules: quoted against their passes' probes (``passes``).
register(BenchRule("lamb", fastopt.LAMB, dict(lr=1e-3), reads=6, writes=4, reference=reference.LAMB,
                   passes=(((4, 2), 1), ((3, 1), 1)),
                   description="LAMB, 2 passes: (p, g, m, v -> m, v) + (p, m, v -> p) = 10 elements"))
register(BenchRule("lars", fastopt.LARS, dict(lr=1e-2), reads=4, writes=3, reference=reference.LARS,
                   passes=(((2, 0), 1), ((3, 2), 1)),
                   description="LARS, 2 passes: norms of (p, g) + (p, g, b -> p, b) = 7 elements"))


# ---- rules that are not a single elementwise pass ----------------------------
# Their byte counts are those of their own passes (docs/optimizers.md); with
# ``passes`` they are quoted against the probes of those passes, else the (k, j)
# pattern only picks the in-place probe their rate is compared with.
def _lbfgs_elements(kw):
    # steady state, fixed step, full history of m pairs: GATHER 2 + HIST 7 + NEG 2
    # + m (DOT 2 + AXPY 3) + SCALE 2 + m (DOT 2 + AXPY 3) + g.d 2 + STEP 3
    return 18 + 10 * int(kw["history_size"])


def _lbfgs_passes(kw):
    # The same passes as probes of their bus traffic (kernels/lbfgs.h): GATHER
    # f = g stores into f unread (r2w1), HIST reads c, e, h and stores a, b
    # unread and e (r5w3), NEG a = -b (r2w1), 2m + 1 DOTs (g.d included) read
    # two vectors (r2), 2m AXPYs (r2w1), SCALE in place (r1w1), STEP (r2w1).
    m = int(kw["history_size"])
    return (((2, 1), 2 * m + 3), ((5, 3), 1), ((2, 0), 2 * m + 1), ((1, 1), 1))


register(BenchRule("lbfgs", fastopt.LBFGS, dict(lr=0.1, max_iter=1, history_size=4), reads=2, writes=1,
                   moved=_lbfgs_elements, passes=_lbfgs_passes, drive="closure", prime=5, torch="LBFGS",
                   max_bytes=1 << 28,
                   description="LBFGS, max_iter=1, fixed step, history 4 (full): 58 flat-vector elements "
                               "(one closure call; two-loop recursion of DOT/AXPY passes)"))
register(BenchRule("muon", fastopt.Muon, dict(lr=2e-2), reads=4, writes=3, moved=7, layout=_wide(64),
                   reference=reference.Muon, torch="Muon",
                   description="Muon on 64 x N matrices: GB/s counts the 7 elementwise elements only "
                               "(momentum pass r g B w B U, update pass r p O w p); the 5 Newton-Schulz "
                               "iterations (matmuls) dominate the step"))
register(BenchRule("sparse-adam", fastopt.SparseAdam, dict(lr=1e-3), reads=4, writes=3, touched=1 / 8,
                   layout=_matrix(64), drive="sparse", reference=reference.SparseAdam, torch="SparseAdam",
                   description="SparseAdam, rows of 64, 1/8 of the rows touched: 28 B per touched float32 "
                               "element + 8 B per row id; GB/s over the touched rows"))
register(BenchRule("diag-lm", fastopt.DiagonalLM, dict(lr=1e-3), reads=3, writes=1, drive="hessian",
                   reference=reference.DiagonalLM,
                   description="DiagonalLM, step(grads, hessian_diag): read p, g, h; write p"))
register(BenchRule("adafactor", fastopt.Adafactor, dict(lr=1e-2), reads=2, writes=1, moved=6,
                   layout=_matrix(4096), reference=reference.Adafactor, torch="Adafactor",
                   passes=(((1, 0), 3), ((2, 1), 1)),
                   description="Adafactor on N x 4096 matrices (factored): read p; read g (tiled row/column "
                               "sums of g^2); read g; read p, g, write p = 6 elements (row/col statistics are "
                               "O(N + 4096))"))
register(BenchRule("sam", fastopt.Adam, dict(lr=1e-3), reads=4, writes=3, moved=14, drive="closure",
                   wrap=lambda base: fastopt.SAM(base, rho=0.05),
                   # perturb stores the old weights unread (r3w2 on the bus), restore stores p unread (r2w1)
                   passes=(((4, 3), 1), ((1, 0), 1), ((3, 2), 1), ((2, 1), 1)),
                   description="SAM around Adam, closure called twice: Adam's 7 elements + norm 1 + "
                               "perturb 4 + restore 2 = 14"))
register(BenchRule("lookahead", fastopt.Adam, dict(lr=1e-3), reads=4, writes=3, moved=7 + 4 / 5,
                   wrap=lambda base: fastopt.Lookahead(base, k=5, alpha=0.5),
                   description="Lookahead(k=5) around Adam: Adam's 7 elements + 4 per sync / 5 steps; probe r4w3"))
