"""Muon's Newton-Schulz matmuls: NumPy float32 (what fastopt's bfloat16
emulation runs: BLAS in float32, results rounded to bfloat16) against torch in
float32 and bfloat16 (what torch.optim.Muon runs on CPU), for the shapes of a
64 x N iterate and of ResNet-50's largest: X X^T (the gram) and M X (M = the
gram polynomial).

    python benchmarks/muon_matmul.py [--threads 1]

Prints the median of 7 calls in ms per product. Needs torch.
"""
import argparse
import time

import numpy as np


def median_ms(fn, reps=7):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (NumPy's BLAS keeps its own)")
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    print(f"{'X shape':>14} {'product':>8} {'numpy f32':>10} {'torch f32':>10} {'torch bf16':>10}  (ms, median of 7)")
    for m, n in ((64, 1 << 18), (512, 4608), (1000, 2048)):
        X = rng.standard_normal((m, n)).astype(np.float32)
        M = rng.standard_normal((m, m)).astype(np.float32)
        tX, tM = torch.from_numpy(X), torch.from_numpy(M)
        bX, bM = tX.bfloat16(), tM.bfloat16()
        for name, f_np, f_t, f_b in (("X X^T", lambda: X @ X.T, lambda: tX @ tX.T, lambda: bX @ bX.T),
                                     ("M X", lambda: M @ X, lambda: tM @ tX, lambda: bM @ bX)):
            print(f"{f'{m} x {n}':>14} {name:>8} {median_ms(f_np):10.2f} {median_ms(f_t):10.2f} {median_ms(f_b):10.2f}")


if __name__ == "__main__":
    main()
