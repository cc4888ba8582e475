"""The structures a user may pass as params and grads.

params:
    * a list of arrays                         -> one group, unnamed
    * a list of (name, array) pairs, or a dict -> one group, named
    * a list of dicts {'params': <any of the above>, **options} -> param groups
grads (at each step), matching the params:
    * a list/tuple in flattened param order (group after group), or
    * a dict with exactly the params' names as keys (named params only).
"""
import numpy as np

from . import _engine


def label(index, name):
    return f"param {name!r}" if name is not None else f"params[{index}]"


def by_dtype(arrays, indices=None):
    """Indices of `arrays` (all, or those in `indices`, in order) grouped by
    dtype, in order of first appearance: one engine plan serves one dtype."""
    groups = {}
    for i in range(len(arrays)) if indices is None else indices:
        groups.setdefault(arrays[i].dtype.char, []).append(i)
    return list(groups.values())


def split_params(obj, where="params"):
    """Return (arrays, names) for one group's 'params' entry; names is None if unnamed."""
    if isinstance(obj, np.ndarray):
        raise TypeError(f"{where}: expected an iterable of arrays, a dict or (name, array) pairs, got a single "
                        "ndarray (wrap it in a list)")
    if isinstance(obj, dict):
        names = list(obj.keys())
        arrays = list(obj.values())
        for n in names:
            if not isinstance(n, str):
                raise TypeError(f"{where}: parameter names must be str, got {type(n).__name__}")
        return arrays, names
    try:
        items = list(obj)
    except TypeError:
        raise TypeError(f"{where}: expected an iterable of arrays, got {type(obj).__name__}") from None
    if items and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in items):
        return [x[1] for x in items], [x[0] for x in items]
    return items, None


def normalize_groups(params):
    """params argument -> list of group dicts with 'params' (list) and maybe 'param_names'."""
    if isinstance(params, dict) and "params" in params and not all(isinstance(v, np.ndarray) for v in params.values()):
        params = [params]
    if isinstance(params, dict) and not params:
        raise ValueError("params: optimizer got an empty parameter list")
    if isinstance(params, (dict, np.ndarray)):
        groups = [{"params": params}]
    else:
        try:
            items = list(params)
        except TypeError:
            raise TypeError(f"params: expected an iterable of arrays or param-group dicts, got {type(params).__name__}") from None
        if not items:
            raise ValueError("params: optimizer got an empty parameter list")
        if all(isinstance(x, dict) for x in items):
            groups = [dict(g) for g in items]
        elif any(isinstance(x, dict) for x in items):
            raise TypeError("params: mix of param-group dicts and arrays; pass either a list of arrays or a list of dicts")
        else:
            groups = [{"params": items}]
    out = []
    for gi, g in enumerate(groups):
        if "params" not in g:
            raise ValueError(f"param group {gi}: missing the 'params' key")
        arrays, names = split_params(g["params"], where=f"param group {gi} 'params'")
        g["params"] = arrays
        if names is not None:
            g["param_names"] = names
        elif "param_names" in g:
            names = list(g["param_names"])
            if len(names) != len(arrays):
                raise ValueError(f"param group {gi}: 'param_names' has {len(names)} names for {len(arrays)} params")
            g["param_names"] = names
        out.append(g)
    return out


def check_new_params(arrays, labels, existing=()):
    """Validate arrays for an optimizer: dtype, contiguity, writeability, and
    no two (including those already in `existing`) sharing memory."""
    _engine.check_params(list(arrays), list(labels))
    seen = {}
    for a, lab in list(zip(existing[0], existing[1])) if existing else []:
        seen[id(a)] = lab
    for a, lab in zip(arrays, labels):
        if id(a) in seen:
            raise ValueError(f"{lab}: the same array appears twice ({seen[id(a)]}); each param may be in one group only")
        seen[id(a)] = lab
    all_arrays = (list(existing[0]) if existing else []) + list(arrays)
    all_labels = (list(existing[1]) if existing else []) + list(labels)
    hit = _engine.find_overlap(all_arrays)
    if hit is not None:
        i, j = hit
        raise ValueError(f"{all_labels[j]}: shares memory with {all_labels[i]}; params must not overlap")
