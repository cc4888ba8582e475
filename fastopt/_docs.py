"""Docstring text shared by many optimizers (one place, so it never drifts).

Optimizer docstrings use ``{name}`` fields filled from :data:`ARGS` by
:func:`fill` at class creation.
"""

ARGS = {
    "params": """params: arrays to optimize: a list of arrays, a list of (name, array)
            pairs, a dict name -> array, or a list of param-group dicts with
            per-group options. Arrays must be writeable, C-contiguous float32 or
            float64; each is updated in place.""",
    "lr": "lr: learning rate, >= 0 (default: {default})",
    "maximize": "maximize: maximize the objective instead of minimizing it (default: False)",
    "weight_decay_l2": """weight_decay: L2 penalty coefficient, added to the gradient as
            ``g + weight_decay * p`` (default: {default})""",
    "n_threads": """n_threads: threads for this optimizer's steps; None follows
            :func:`fastopt.get_num_threads` (default: None)""",
    "flush_denormals": """flush_denormals: flush subnormal numbers to zero inside the
            step (set and restored per worker thread). Faster when state decays
            toward zero, but results then differ from torch (default: False)""",
    "tools": """**tools: the training tools fused into the step, each also a writable
            attribute: ``clip_value``, ``clip_norm``, ``clip_global_norm``
            (None: off), ``skip_nonfinite``, ``track_update_ratio`` (False:
            off); see :class:`fastopt.Optimizer` and docs/tools.md""",
}

STEP_NOTE = """Call ``opt.step(grads)`` with grads as a list in param order or a dict keyed
    by param name; ``opt.step(closure=f)`` evaluates ``f() -> (loss, grads)`` first.
    Each step is one fused C pass per param group and dtype."""


def fill(doc, **defaults):
    """Substitute ``{key}`` fields of `doc` with the shared argument texts."""
    fields = {k: v.format(default=defaults.get(k, "")) for k, v in ARGS.items()}
    fields["step_note"] = STEP_NOTE
    return doc.format(**fields)
