"""Benchmark workloads: named lists of parameter shapes.

A workload is only a list of shapes; the runner allocates seeded random
params and gradient sets for it. The shape lists of the two networks are
written here from their published architectures (torchvision's ResNet-50 and
OpenAI's GPT-2 small, in their parameter order), not loaded from any model.

Names:
    ``2^k``        one contiguous tensor of 2**k elements (k = 10..26)
    ``1000x512``   1,000 tensors of 512 elements (many small tensors)
    ``1x512000``   one tensor of 512,000 elements (the same bytes in one piece)
    ``resnet50``   ResNet-50's 161 parameter tensors, 25,557,032 elements
    ``gpt2-small`` GPT-2 small's 148 parameter tensors (tied LM head),
                   124,439,808 elements; float32 only, ``--full`` only
"""
from dataclasses import dataclass, field
from math import prod

__all__ = ["Workload", "WORKLOADS", "get", "single", "many", "resnet50_shapes", "gpt2_small_shapes",
           "single_sizes", "register"]


@dataclass(frozen=True)
class Workload:
    """A named list of parameter shapes.

    Attributes:
        name: the name used on the command line and in reports.
        shapes: one shape tuple per parameter tensor, in the network's order.
        description: one line for the report.
        dtypes: the dtypes this workload is run in (None: every dtype asked for).
        rules: the rules this workload is run with (None: every rule asked for).
        full_only: run only with ``--full`` (or when named with ``--workload``).
    """
    name: str
    shapes: tuple
    description: str = ""
    dtypes: tuple = None
    rules: tuple = None
    full_only: bool = False
    tags: tuple = field(default_factory=tuple)

    @property
    def n_tensors(self):
        return len(self.shapes)

    @property
    def n_params(self):
        return sum(prod(s) for s in self.shapes)

    @property
    def sizes(self):
        return [prod(s) for s in self.shapes]

    def accepts(self, rule, dtype):
        """True if this workload is meant to run with `rule` in `dtype`."""
        return (self.dtypes is None or dtype in self.dtypes) and (self.rules is None or rule in self.rules)


def single(n, name=None):
    """One contiguous tensor of `n` elements."""
    if name is None:
        k = n.bit_length() - 1
        name = f"2^{k}" if n == 1 << k else f"1x{n}"
    return Workload(name, ((n,),), f"one tensor of {n:,} elements", tags=("single",))


def many(count, n, name=None):
    """`count` tensors of `n` elements each."""
    return Workload(name or f"{count}x{n}", ((n,),) * count, f"{count:,} tensors of {n:,} elements",
                    tags=("many",))


def resnet50_shapes(num_classes=1000):
    """The 161 parameter shapes of ResNet-50 (He et al. 2016, torchvision layout).

    Stem: 7x7 conv 3->64 (no bias) + BatchNorm. Four stages of 3, 4, 6, 3
    bottleneck blocks of width 64, 128, 256, 512 (expansion 4): each block is
    1x1 conv (in->w), BN, 3x3 conv (w->w), BN, 1x1 conv (w->4w), BN; the first
    block of each stage adds a 1x1 projection conv (in->4w) + BN. Head: fully
    connected 2048->classes with bias. Convs have no bias; each BN has a
    weight and a bias (running statistics are buffers, not parameters).
    """
    shapes = []

    def conv(cin, cout, k):
        shapes.append((cout, cin, k, k))

    def bn(c):
        shapes.append((c,))
        shapes.append((c,))

    conv(3, 64, 7)
    bn(64)
    cin = 64
    for width, blocks in zip((64, 128, 256, 512), (3, 4, 6, 3)):
        for b in range(blocks):
            conv(cin, width, 1)
            bn(width)
            conv(width, width, 3)
            bn(width)
            conv(width, 4 * width, 1)
            bn(4 * width)
            if b == 0:
                conv(cin, 4 * width, 1)
                bn(4 * width)
            cin = 4 * width
    shapes.append((num_classes, cin))
    shapes.append((num_classes,))
    return tuple(shapes)


def gpt2_small_shapes(vocab=50257, context=1024, d=768, layers=12):
    """The parameter shapes of GPT-2 small (Radford et al. 2019), HF layout.

    Token and position embeddings; per layer: LayerNorm (weight, bias), fused
    QKV projection d->3d (Conv1D weight (d, 3d) + bias), output projection
    d->d, LayerNorm, MLP d->4d and 4d->d with biases; final LayerNorm. The LM
    head is tied to the token embedding (no extra parameter).
    """
    shapes = [(vocab, d), (context, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,), (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    shapes += [(d,), (d,)]
    return tuple(shapes)


#: Exponents of the single-tensor sizes.
#: The single-tensor sizes --full runs (issue #6's list; any 2^k is built on
#: demand by --workload 2^k). All 17 sizes 2^10..2^26 took over 1.5 hours here.
SINGLE_EXPONENTS = (10, 14, 18, 20, 22, 24, 26)


def single_sizes(exponents=SINGLE_EXPONENTS):
    return [single(1 << k) for k in exponents]


WORKLOADS = {}


def register(workload):
    """Add a workload to :data:`WORKLOADS` (replacing one of the same name)."""
    WORKLOADS[workload.name] = workload
    return workload


for _w in single_sizes():
    register(_w)
register(many(1000, 512))
register(single(512000))
register(Workload("resnet50", resnet50_shapes(), "ResNet-50: 161 tensors, 25.6M params", tags=("network",)))
register(Workload("gpt2-small", gpt2_small_shapes(), "GPT-2 small: 148 tensors, 124M params (tied head)",
                  dtypes=("float32",), rules=("adam",), full_only=True, tags=("network",)))


def get(name):
    """The workload called `name` (``2^k``, ``CxN`` and ``1xN`` are built on demand)."""
    if name in WORKLOADS:
        return WORKLOADS[name]
    if name.startswith("2^") and name[2:].isdigit():
        return single(1 << int(name[2:]))
    if "x" in name:
        a, _, b = name.partition("x")
        if a.isdigit() and b.isdigit() and int(a) > 0 and int(b) > 0:
            return single(int(b), name) if int(a) == 1 else many(int(a), int(b), name)
    raise KeyError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)} (or 2^k, CxN)")
