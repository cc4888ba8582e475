"""Save and load an optimizer's state_dict as one .npz file, atomically.

Layout inside the archive:
  ``__meta__``               JSON (a 0-d unicode array): format version, the
                             optimizer's class, its param_groups, and for each
                             state entry the names of its buffers and its step;
  ``state/<index>/<name>``   one array per state buffer.
The file is written to a temporary name in the same directory, flushed and
fsynced, then renamed over the target, so a crash never leaves a torn file.
Loading never unpickles (``allow_pickle=False``).
"""
import json
import os
import tempfile

import numpy as np

__all__ = ["save", "load"]

FORMAT = 1


def _jsonable(v):
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    raise TypeError(f"cannot save a param-group option of type {type(v).__name__}")


def save(path, optimizer):
    """Write ``optimizer.state_dict()`` to `path` (.npz) atomically."""
    sd = optimizer.state_dict()
    arrays = {}
    state_meta = {}
    for idx, st in sd["state"].items():
        entry = {}
        for name, v in st.items():
            if isinstance(v, np.ndarray):
                arrays[f"state/{idx}/{name}"] = v
                entry.setdefault("buffers", []).append(name)
            else:
                entry[name] = _jsonable(v)
        state_meta[str(idx)] = entry
    groups = [{k: _jsonable(v) for k, v in g.items()} for g in sd["param_groups"]]
    meta = {"format": FORMAT, "optimizer": type(optimizer).__name__, "param_groups": groups, "state": state_meta,
            "extra": {k: _jsonable(v) for k, v in sd.items() if k not in ("state", "param_groups")}}
    arrays["__meta__"] = np.array(json.dumps(meta))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path, optimizer=None):
    """Read a file written by :func:`save`; return its state_dict, and load it
    into `optimizer` when one is given."""
    with np.load(os.fspath(path), allow_pickle=False) as z:
        meta = json.loads(str(z["__meta__"]))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown fastopt state format {meta.get('format')!r}")
        state = {}
        for idx, entry in meta["state"].items():
            st = {k: v for k, v in entry.items() if k != "buffers"}
            for name in entry.get("buffers", []):
                st[name] = z[f"state/{idx}/{name}"]
            state[int(idx)] = st
    sd = {"state": state, "param_groups": meta["param_groups"]}
    sd.update(meta.get("extra", {}))
    if optimizer is not None:
        optimizer.load_state_dict(sd)
    return sd
