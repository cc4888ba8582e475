"""Common shape of the reference optimizers: per-tensor Python loop, torch's state layout."""
import numpy as np


class ReferenceOptimizer:
    def __init__(self, params, **hyper):
        self.params = list(params)
        self.hyper = hyper
        self.state = [dict() for _ in self.params]

    def step(self, grads):
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if g is None:
                continue
            # 1-d views so 0-d params stay arrays (their state is kept 1-d).
            g = np.asarray(g, dtype=p.dtype).reshape(-1)
            self.update(p.reshape(-1), g, self.state[i], p.dtype.type)

    def update(self, p, g, state, T):
        """Update one param in place; T is its scalar type (np.float32/np.float64)."""
        raise NotImplementedError
