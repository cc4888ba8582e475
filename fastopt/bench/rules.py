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

__all__ = ["BenchRule", "RULES", "register", "get", "names", "DEFAULT_QUICK"]


def _itemsize(dtype):
    return np.dtype(dtype).itemsize


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

    # -- traffic -------------------------------------------------------------
    def pattern(self):
        """(k, j): arrays read and written per element, in place."""
        k = self.reads(self.kwargs) if callable(self.reads) else self.reads
        j = self.writes(self.kwargs) if callable(self.writes) else self.writes
        return int(k), int(j)

    def elements(self):
        """Array elements moved per parameter per step (reads + writes)."""
        k, j = self.pattern()
        return k + j

    def bytes_per_element(self, dtype):
        """Bytes moved per parameter per step in `dtype`."""
        return self.elements() * _itemsize(dtype)

    def bytes_per_step(self, dtype, n_params):
        return self.bytes_per_element(dtype) * int(n_params)

    # -- implementations -----------------------------------------------------
    def make_fastopt(self, params, n_threads):
        return self.cls(params, n_threads=n_threads, **self.kwargs)

    def make_reference(self, params):
        if self.reference is None:
            return None
        return self.reference(params, **self.kwargs)

    def make_torch(self, tparams, variant):
        """torch.optim peer over `tparams`; variant is 'fused', 'foreach' or 'forloop'."""
        import torch

        if self.torch is None:
            return None
        cls = getattr(torch.optim, self.torch)
        kw = dict(self.kwargs)
        kw.update(self.torch_kwargs)
        if variant == "fused":
            kw.update(fused=True)
        elif variant == "foreach":
            kw.update(foreach=True)
        elif variant == "forloop":
            kw.update(foreach=False)
        else:
            raise ValueError(f"unknown torch variant {variant!r}")
        return cls(tparams, **kw)


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
# Two-pass rules: quoted against the in-place kernel with the same total
# element count (an approximation of their two access patterns).
register(BenchRule("lamb", fastopt.LAMB, dict(lr=1e-3), reads=6, writes=4, reference=reference.LAMB,
                   description="LAMB, 2 passes: (p, g, m, v -> m, v) + (p, m, v -> p) = 10 elements"))
register(BenchRule("lars", fastopt.LARS, dict(lr=1e-2), reads=4, writes=3, reference=reference.LARS,
                   description="LARS, 2 passes: (p, g) + (p, g, b -> p, b) = 7 elements"))
