# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The Cython binding between the Python optimizers and the C engine.

It owns three things and nothing else:

* ``Plan``: the pointer table of one list of tensors (one param group, one
  dtype) with its block plan, built once and reused while the params are the
  same. Fixed slots (params, state) are checked when the plan is built;
  per-step input slots (grads, ...) are checked by :meth:`Plan.bind` every step.
* ``WritableSet``: the sorted byte ranges of every buffer an optimizer writes,
  so a grad that aliases any param or state buffer is refused in O(log n).
* the process-wide ISA level and thin wrappers of the C queries.

Errors are raised here, with the GIL, before any C runs; ``Plan.run`` then
releases the GIL around a single ``fo_run`` call.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cpython.list cimport PyList_GET_ITEM
from cpython.ref cimport PyObject

cnp.import_array()

cdef extern from "fastopt.h" nogil:
    enum:
        FO_F32
        FO_F64
        FO_N_ISAS
        FO_N_RULES
        FO_MAX_SCALARS
        FO_MAX_SLOTS
        FO_BLOCK
        FO_TILE
        FO_TILE_STRIP
        FO_OUT_WIDTH
        FO_PREFETCH_MIN
    ctypedef struct fo_hyper:
        double s[16]
        int64_t flags
        const double *per_tensor
        int64_t per_tensor_width
    ctypedef struct fo_span:
        int64_t tensor
        int64_t offset
        int64_t n
    ctypedef void (*fo_kernel_fn)(const fo_hyper *h, char *const *ptr, const fo_span *sp, double *out)
    ctypedef struct fo_plan:
        int64_t n_tensors
        int64_t n_spans
        int64_t n_chunks
        int64_t total
        fo_span *spans
        int64_t *chunk_first
    int fo_plan_init(fo_plan *plan, const int64_t *sizes, int64_t n_tensors, int64_t block)
    void fo_plan_free(fo_plan *plan)
    enum:
        FO_PIPE_CLIP
        FO_PIPE_SCALE
        FO_PIPE_STATS
        FO_PIPE_EMA
        FO_PIPE_EMA_HI
        FO_PIPE_EMA_DIV
        FO_PIPE_GSTATS
        FO_PIPE_TRANSFORM
        FO_PIPE_AVERAGE
    # (the real prototype takes `const fo_pipe *`; Cython only passes the pointer on)
    ctypedef int (*fo_fused_fn)(const fo_hyper *h, char *const *ptr, const fo_span *sp, const void *pipe,
                                 char *avg, double *stats)
    ctypedef struct fo_pipe:
        fo_kernel_fn pre
        fo_kernel_fn post
        fo_fused_fn fused
        fo_hyper h
        int grad_slot
        char *const *avg_base
        double *stats
    int fo_run(const fo_plan *plan, fo_kernel_fn fn, const fo_hyper *h, char *const *base, int n_slots,
               int elsize, unsigned int fixed_mask, int n_threads, double *out, int ftz, const fo_pipe *pipe)
    int64_t fo_serial_threshold()
    void fo_set_serial_threshold(int64_t n)
    fo_kernel_fn fo_kernel(int rule, int dtype, int isa)
    fo_fused_fn fo_fused_kernel(int rule, int dtype, int isa)
    const char *fo_rule_name(int rule)
    int fo_isa_compiled(int isa)
    int fo_isa_supported(int isa)
    int fo_isa_best()
    const char *fo_isa_name(int isa)
    int fo_openmp_enabled()
    int fo_omp_max_threads()

cdef extern from *:
    """
    #ifndef __VERSION__
    #define __VERSION__ "unknown"
    #endif
    static const char *fo_compiler_version(void) {
    #if defined(__clang__)
        return "clang " __VERSION__;
    #elif defined(__GNUC__)
        return "gcc " __VERSION__;
    #else
        return __VERSION__;
    #endif
    }
    """
    const char *fo_compiler_version()

cdef extern from *:
    """
    /* Plan.bind() reads two cache lines of every grad's array object and one
     * of its dims; after a step has streamed megabytes through the caches they
     * are all misses, one dependent chain per grad. Prefetching the objects 16
     * grads ahead and the dims 8 ahead (their pointer read from the object
     * prefetched 8 iterations before) overlaps those misses. */
    #define FO_PF_OBJ 16  /* grads ahead: the array object's two lines */
    #define FO_PF_DIMS 8  /* grads ahead: its dims (pointer read from the object) */
    static inline void fo_bind_prefetch(PyObject *list, Py_ssize_t n, Py_ssize_t t) {
        /* The item pointers are read through a volatile lvalue: gcc 12 drops
         * prefetches of an address it loaded only for them inside this loop. */
        PyObject *const volatile *items = (PyObject *const volatile *)((PyListObject *)list)->ob_item;
        if (t + FO_PF_OBJ < n) {
            const char *o = (const char *)items[t + FO_PF_OBJ];
            __builtin_prefetch(o);
            __builtin_prefetch(o + 64);
        }
        if (t + FO_PF_DIMS < n) {
            PyObject *o = items[t + FO_PF_DIMS];
            if (Py_TYPE(o) == &PyArray_Type)
                __builtin_prefetch(PyArray_DIMS((PyArrayObject *)o));
        }
    }

    /* The fast check of one per-step array (a borrowed reference; no Python
     * code runs, no reference count is touched): its data if it is a native,
     * C-contiguous ndarray of type `typenum` and shape dims[0..nd), else NULL
     * (the caller then checks it in full, raising or copying as needed). */
    static inline char *fo_bind_fast(PyObject *o, int typenum, int nd, const npy_intp *dims) {
        if (Py_TYPE(o) != &PyArray_Type && !PyObject_TypeCheck(o, &PyArray_Type))
            return NULL;
        PyArrayObject *a = (PyArrayObject *)o;
        if (PyArray_TYPE(a) != typenum || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISNOTSWAPPED(a)
                || PyArray_NDIM(a) != nd)
            return NULL;
        const npy_intp *d = PyArray_DIMS(a);
        for (int k = 0; k < nd; k++)
            if (d[k] != dims[k])
                return NULL;
        return PyArray_BYTES(a);
    }
    """
    void fo_bind_prefetch(list lst, Py_ssize_t n, Py_ssize_t t)
    char *fo_bind_fast(PyObject *o, int typenum, int nd, const cnp.npy_intp *dims)

# ---------------------------------------------------------------- constants
BLOCK = FO_BLOCK
TILE = FO_TILE
TILE_STRIP = FO_TILE_STRIP
#: Bytes over a step's streams from which the fused loops prefetch (fastopt.h).
PREFETCH_MIN = FO_PREFETCH_MIN
OUT_WIDTH = FO_OUT_WIDTH
MAX_SCALARS = FO_MAX_SCALARS
RULES = {fo_rule_name(i).decode(): i for i in range(FO_N_RULES)}
ISA_NAMES = tuple(fo_isa_name(i).decode() for i in range(FO_N_ISAS))

#: Marks a slot of a Plan that is bound anew every step (grads, ...).
INPUT = "input"

#: Flag bits of :meth:`Plan.set_pipe` (fo_pipe in csrc/fastopt.h).
PIPE_CLIP = FO_PIPE_CLIP
PIPE_SCALE = FO_PIPE_SCALE
PIPE_STATS = FO_PIPE_STATS
PIPE_EMA = FO_PIPE_EMA
PIPE_EMA_HI = FO_PIPE_EMA_HI
PIPE_EMA_DIV = FO_PIPE_EMA_DIV


class Fixed(list):
    """A Plan slot of per-tensor arrays of any shape (same dtype) that the
    kernel indexes itself: the driver passes their base pointers without
    advancing them to the span's offset (e.g. factored row/column statistics).
    """


class Scratch(Fixed):
    """A Fixed slot of per-tensor float64 arrays, whatever the params' dtype,
    that a kernel writes partial results into (e.g. Adafactor's per-tile
    row and column sums, combined afterwards in a fixed order)."""

cdef int _isa = fo_isa_best()


def compiler():
    """The compiler that built the extension, e.g. ``'gcc 12.2.0'``."""
    return fo_compiler_version().decode()


def openmp_enabled():
    return bool(fo_openmp_enabled())


def omp_max_threads():
    """``omp_get_max_threads()`` of the calling thread (1 in a serial build)."""
    return fo_omp_max_threads()


def isa_compiled():
    return tuple(ISA_NAMES[i] for i in range(FO_N_ISAS) if fo_isa_compiled(i))


def isa_supported():
    return tuple(ISA_NAMES[i] for i in range(FO_N_ISAS) if fo_isa_compiled(i) and fo_isa_supported(i))


def isa_best():
    return ISA_NAMES[fo_isa_best()]


def get_isa():
    """The ISA level whose kernels run now."""
    return ISA_NAMES[_isa]


def set_isa(name):
    """Select the ISA level (must be compiled and supported here)."""
    global _isa
    if name not in ISA_NAMES:
        raise ValueError(f"unknown ISA level {name!r}; expected one of {ISA_NAMES}")
    cdef int i = ISA_NAMES.index(name)
    if not fo_isa_compiled(i):
        raise ValueError(f"ISA level {name!r} is not compiled into this build")
    if not fo_isa_supported(i):
        raise ValueError(f"ISA level {name!r} is not supported by this CPU/OS")
    _isa = i


cdef bint _fused_tools = True


def fused_tools():
    """Whether rules with a fused form (csrc/fused.def) run the training tools
    inside their own loop (the default) rather than as staged pipe stages."""
    return bool(_fused_tools)


def set_fused_tools(bint on):
    """Choose the fused (True) or staged (False) form of the training tools for
    rules that have both: for tests and benchmarks that compare the two. Off,
    plain steps larger than PREFETCH_MIN also run the plain kernel rather than
    the fused form's prefetching loop."""
    global _fused_tools
    _fused_tools = on


def fused_rules():
    """Names of the rules with a fused form (csrc/fused.def)."""
    return tuple(n for n, i in RULES.items() if fo_fused_kernel(i, FO_F32, 0) != NULL)


def serial_threshold():
    """Workloads with fewer elements run on the calling thread (no OpenMP region)."""
    return fo_serial_threshold()


def set_serial_threshold(int64_t n):
    fo_set_serial_threshold(n)


# ---------------------------------------------------------------- helpers
cdef inline int _dtype_code(cnp.ndarray a):
    """FO_F32/FO_F64 for native-byte-order float32/float64 arrays, else -1."""
    if not cnp.PyArray_ISNOTSWAPPED(a):
        return -1
    cdef int t = cnp.PyArray_TYPE(a)
    if t == cnp.NPY_FLOAT32:
        return FO_F32
    if t == cnp.NPY_FLOAT64:
        return FO_F64
    return -1


cdef inline bint _same_shape(cnp.ndarray a, cnp.ndarray b):
    cdef int nd = cnp.PyArray_NDIM(a)
    if nd != cnp.PyArray_NDIM(b):
        return False
    cdef cnp.npy_intp *da = cnp.PyArray_DIMS(a)
    cdef cnp.npy_intp *db = cnp.PyArray_DIMS(b)
    cdef int k
    for k in range(nd):
        if da[k] != db[k]:
            return False
    return True


cdef inline uintptr_t _lo(cnp.ndarray a):
    return <uintptr_t>cnp.PyArray_DATA(a)


cdef inline uintptr_t _hi(cnp.ndarray a):
    return <uintptr_t>cnp.PyArray_DATA(a) + <uintptr_t>cnp.PyArray_NBYTES(a)


def check_params(list arrays, list labels, str what="params"):
    """Check that every entry is a writeable, C-contiguous float32/float64
    ndarray; raise TypeError/ValueError naming its label otherwise."""
    cdef Py_ssize_t i
    for i in range(len(arrays)):
        a = arrays[i]
        if not isinstance(a, cnp.ndarray):
            raise TypeError(f"{labels[i]}: expected a numpy.ndarray, got {type(a).__name__}")
        if _dtype_code(<cnp.ndarray>a) < 0:
            if not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>a):
                raise TypeError(f"{labels[i]}: dtype must be float32 or float64 in native byte order, got {a.dtype.str}")
            raise TypeError(f"{labels[i]}: dtype must be float32 or float64, got {a.dtype}")
        if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
            raise ValueError(f"{labels[i]}: must be C-contiguous")
        if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a):
            raise ValueError(f"{labels[i]}: must be writeable")


def find_overlap(list arrays):
    """Return (i, j), i < j, for two arrays whose memory overlaps (or that are
    the same non-empty array), or None. O(n log n) over byte ranges."""
    spans = sorted((_lo(<cnp.ndarray>a), _hi(<cnp.ndarray>a), i) for i, a in enumerate(arrays)
                   if cnp.PyArray_NBYTES(<cnp.ndarray>a) > 0)
    cdef Py_ssize_t k
    cdef uintptr_t reach = 0
    cdef Py_ssize_t reach_i = -1
    for k in range(len(spans)):
        lo, hi, i = spans[k]
        if reach_i >= 0 and lo < reach:
            return (min(i, reach_i), max(i, reach_i))
        if hi > reach or reach_i < 0:
            reach = hi
            reach_i = i
    return None


cdef class WritableSet:
    """Sorted, disjoint byte ranges of every buffer an optimizer writes."""
    cdef uintptr_t *lo
    cdef uintptr_t *hi
    cdef Py_ssize_t n
    cdef list owners

    def __cinit__(self, list arrays, list owners):
        spans = sorted((_lo(<cnp.ndarray>a), _hi(<cnp.ndarray>a), o) for a, o in zip(arrays, owners)
                       if cnp.PyArray_NBYTES(<cnp.ndarray>a) > 0)
        self.n = len(spans)
        self.lo = <uintptr_t *>malloc(sizeof(uintptr_t) * (self.n + 1))
        self.hi = <uintptr_t *>malloc(sizeof(uintptr_t) * (self.n + 1))
        if self.lo == NULL or self.hi == NULL:
            raise MemoryError()
        self.owners = []
        for k, (lo, hi, o) in enumerate(spans):
            self.lo[k] = lo
            self.hi[k] = hi
            self.owners.append(o)

    def __dealloc__(self):
        free(self.lo)
        free(self.hi)

    def owner_of(self, a):
        """The owner label of a buffer overlapping array `a`'s memory, or None."""
        cdef cnp.ndarray arr = np.asarray(a)
        return self.find(_lo(arr), _hi(arr))

    cdef inline Py_ssize_t last_before(self, uintptr_t hi, Py_ssize_t hint) noexcept nogil:
        """Index of the last range starting before `hi` (-1 if none). `hint` is
        a previous answer: grads are usually allocated in address order (or in
        reverse), so consecutive lookups land in the same gap or the next one
        and cost two loads instead of a log2(n)-deep chain of dependent ones."""
        cdef Py_ssize_t n = self.n, a, b, m
        if -1 <= hint < n:
            if (hint < 0 or self.lo[hint] < hi) and (hint + 1 >= n or self.lo[hint + 1] >= hi):
                return hint
            if hint + 1 < n and self.lo[hint + 1] < hi and (hint + 2 >= n or self.lo[hint + 2] >= hi):
                return hint + 1
        a = 0
        b = n
        while a < b:
            m = (a + b) >> 1
            if self.lo[m] < hi:
                a = m + 1
            else:
                b = m
        return a - 1

    cdef object find(self, uintptr_t lo, uintptr_t hi):
        """The owner of a range overlapping [lo, hi), or None."""
        if hi <= lo or self.n == 0:
            return None
        cdef Py_ssize_t a = self.last_before(hi, -2)
        if a >= 0 and self.hi[a] > lo:
            return self.owners[a]
        return None


cdef class Plan:
    """Pointer table and block plan for one list of same-dtype tensors.

    Args:
        slots: one entry per kernel slot. Slot 0 is the params (a list of
            arrays, already checked with :func:`check_params`); an entry is a
            list of arrays of the params' shapes and dtype (state buffers),
            ``None`` for an absent optional slot (NULL pointers), or
            :data:`INPUT` for a read-only slot bound every step with
            :meth:`bind`.
        labels: one name per tensor, used in error messages.
        tiles: None for the usual plan (spans of BLOCK elements). Or a tiled
            plan: one count per tensor, and the plan has that many spans of
            TILE virtual elements for the tensor (span k has offset k * TILE),
            every slot is passed to the kernel unadvanced, and the kernel works
            out its tile from the offset (see fastopt.h, FO_TILE). ``total``
            then counts virtual elements: callers choose n_threads themselves.
    """
    cdef fo_plan plan
    cdef char **base
    cdef int n_slots, dtype, elsize
    cdef int64_t n
    cdef readonly list params
    cdef list labels
    cdef list slots
    cdef list bound           # per slot: list of bound arrays (keeps copies alive)
    cdef bint busy
    cdef bint is_input[FO_MAX_SLOTS]
    cdef bint is_bound[FO_MAX_SLOTS]
    cdef unsigned int fixed_mask
    cdef fo_pipe pipe          # set_pipe(): transforms/observers around every run
    cdef bint has_pipe
    cdef char **avg_base
    cdef list pipe_keep        # arrays the pipe points into
    cdef int pipe_runs         # runs since set_pipe (grad sums are taken in the first)
    cdef int typenum          # NumPy type number of every tensor (-1 when empty)
    cdef int64_t *nbytes      # bytes of each param (fixed: in-place reshapes keep the size)
    cdef int *ndims           # each param's shape when the plan was built, read by bind()'s
    cdef cnp.npy_intp *dims   # fast path from one contiguous table (dims_at[t] .. + ndims[t])
    cdef int64_t *dims_at

    def __cinit__(self, list slots, list labels, tiles=None):
        memset(&self.plan, 0, sizeof(fo_plan))
        memset(&self.pipe, 0, sizeof(fo_pipe))
        self.base = NULL
        self.avg_base = NULL
        self.nbytes = NULL
        self.ndims = NULL
        self.dims = NULL
        self.dims_at = NULL
        self.typenum = -1

    def __init__(self, list slots, list labels, tiles=None):
        if not 1 <= len(slots) <= FO_MAX_SLOTS:
            raise ValueError(f"a plan has 1..{FO_MAX_SLOTS} slots, got {len(slots)}")
        params = slots[0]
        self.params = list(params)
        self.labels = labels
        self.slots = list(slots)
        self.n_slots = len(slots)
        self.n = len(params)
        self.bound = [None] * self.n_slots
        self.dtype = FO_F32
        self.elsize = 4
        if self.n:
            self.dtype = _dtype_code(<cnp.ndarray>params[0])
            self.elsize = 4 if self.dtype == FO_F32 else 8
        cdef int64_t *sizes = <int64_t *>malloc(sizeof(int64_t) * (self.n + 1))
        self.base = <char **>malloc(sizeof(char *) * (self.n * self.n_slots + 1))
        self.nbytes = <int64_t *>malloc(sizeof(int64_t) * (self.n + 1))
        self.ndims = <int *>malloc(sizeof(int) * (self.n + 1))
        self.dims_at = <int64_t *>malloc(sizeof(int64_t) * (self.n + 1))
        # params were checked by check_params (ndarrays): one table of all their dims
        self.dims = <cnp.npy_intp *>malloc(sizeof(cnp.npy_intp) * (sum([a.ndim for a in params]) + 1))
        if (sizes == NULL or self.base == NULL or self.nbytes == NULL or self.ndims == NULL
                or self.dims_at == NULL or self.dims == NULL):
            free(sizes)
            raise MemoryError()
        cdef Py_ssize_t t, k
        cdef int64_t n_dims = 0
        cdef int64_t block = FO_BLOCK
        cdef cnp.ndarray p, a
        if tiles is not None and len(tiles) != self.n:
            free(sizes)
            raise ValueError(f"tiles: expected {self.n} counts, got {len(tiles)}")
        try:
            for t in range(self.n):
                p = params[t]
                if _dtype_code(p) != self.dtype:
                    raise TypeError(f"{labels[t]}: all tensors of a plan share one dtype")
                sizes[t] = cnp.PyArray_SIZE(p)
                self.nbytes[t] = cnp.PyArray_NBYTES(p)
                self.typenum = cnp.PyArray_TYPE(p)
                self.ndims[t] = cnp.PyArray_NDIM(p)
                self.dims_at[t] = n_dims
                for k in range(self.ndims[t]):
                    self.dims[n_dims + k] = cnp.PyArray_DIMS(p)[k]
                n_dims += self.ndims[t]
            for k in range(self.n_slots):
                entry = slots[k]
                for t in range(self.n):
                    self.base[k * self.n + t] = NULL
                self.is_input[k] = isinstance(entry, str) and entry == INPUT
                self.is_bound[k] = False
                if entry is None or self.is_input[k]:
                    continue
                if len(entry) != self.n:
                    raise ValueError(f"slot {k}: expected {self.n} arrays, got {len(entry)}")
                fixed = isinstance(entry, Fixed)
                scratch = isinstance(entry, Scratch)
                if fixed:
                    self.fixed_mask |= 1u << k
                for t in range(self.n):
                    a = entry[t]
                    p = params[t]
                    if k and ((cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT64 if scratch else _dtype_code(a) != self.dtype)
                              or not cnp.PyArray_IS_C_CONTIGUOUS(a) or not cnp.PyArray_ISWRITEABLE(a)
                              or (not fixed and not _same_shape(a, p))):
                        raise ValueError(f"{labels[t]}: state buffer of slot {k} does not match the param")
                    self.base[k * self.n + t] = <char *>cnp.PyArray_DATA(a)
            if tiles is not None:
                for t in range(self.n):
                    if tiles[t] < 0:
                        raise ValueError(f"{labels[t]}: tiles: expected a count >= 0, got {tiles[t]}")
                    sizes[t] = <int64_t>tiles[t] * FO_TILE
                block = FO_TILE
                self.fixed_mask = (1u << self.n_slots) - 1u
            if fo_plan_init(&self.plan, sizes, self.n, block) != 0:
                raise MemoryError()
        finally:
            free(sizes)

    def __dealloc__(self):
        fo_plan_free(&self.plan)
        free(self.base)
        free(self.avg_base)
        free(self.nbytes)
        free(self.ndims)
        free(self.dims)
        free(self.dims_at)

    @property
    def n_tensors(self):
        return self.n

    @property
    def total(self):
        """Elements over all tensors."""
        return self.plan.total

    @property
    def n_spans(self):
        return self.plan.n_spans

    @property
    def n_chunks(self):
        return self.plan.n_chunks

    @property
    def itemsize(self):
        return self.elsize

    def spans(self):
        """The plan as an (n_spans, 3) int64 array of (tensor, offset, n)."""
        out = np.empty((self.plan.n_spans, 3), dtype=np.int64)
        cdef int64_t[:, ::1] o = out
        for s in range(self.plan.n_spans):
            o[s, 0] = self.plan.spans[s].tensor
            o[s, 1] = self.plan.spans[s].offset
            o[s, 2] = self.plan.spans[s].n
        return out

    def chunk_first(self):
        out = np.empty(self.plan.n_chunks + 1, dtype=np.int64)
        for c in range(self.plan.n_chunks + 1):
            out[c] = self.plan.chunk_first[c]
        return out

    def bound_arrays(self, int slot):
        """The arrays an INPUT slot is bound to, as the kernels read them
        (contiguous copies where bind() made them), or None when unbound."""
        if not (0 < slot < self.n_slots) or not self.is_input[slot]:
            raise ValueError(f"slot {slot} is not an input slot")
        return list(self.bound[slot]) if self.is_bound[slot] else None

    def same_params(self, params):
        """True if `params` holds exactly this plan's arrays, in order."""
        if len(params) != self.n:
            return False
        cdef Py_ssize_t t
        for t in range(self.n):
            if params[t] is not self.params[t]:
                return False
        return True

    def bind(self, int slot, list arrays, WritableSet writable, str what="grads"):
        """Check the per-step arrays of an INPUT slot and point the slot at them.

        Each array must have its param's shape and dtype. Read-only arrays
        are read in place; non-contiguous ones are copied to a contiguous
        temporary; one that overlaps any buffer in `writable` is refused.
        Returns the list of positions whose entry is None (not bound).
        """
        if not (0 < slot < self.n_slots) or not self.is_input[slot]:
            raise ValueError(f"slot {slot} is not an input slot")
        self.is_bound[slot] = False
        if len(arrays) != self.n:
            raise ValueError(f"{what}: expected {self.n} arrays, got {len(arrays)}")
        cdef Py_ssize_t t, hint = -1, j
        cdef char *data
        cdef uintptr_t lo
        cdef char **row = self.base + slot * self.n
        cdef list items = arrays
        cdef list keep = None       # the bound arrays, kept alive until run()
        cdef list missing = []
        for t in range(self.n):
            # Fast path, the common case: a native, C-contiguous ndarray of the
            # param's dtype and shape that overlaps nothing the step writes,
            # checked in C on a borrowed reference. Anything else (None,
            # conversions, copies, errors) takes the slow path, which checks
            # again from scratch and raises the errors.
            fo_bind_prefetch(items, self.n, t)
            data = fo_bind_fast(PyList_GET_ITEM(items, t), self.typenum, self.ndims[t],
                                self.dims + self.dims_at[t])
            if data != NULL:
                if writable is None or self.nbytes[t] == 0:
                    row[t] = data
                    continue
                lo = <uintptr_t>data
                j = writable.last_before(lo + <uintptr_t>self.nbytes[t], hint)
                hint = j
                if not (j >= 0 and writable.hi[j] > lo):
                    row[t] = data
                    continue
            if keep is None:
                # The slow path runs Python code (np.asarray may call anything):
                # from here on, iterate over our own copy of the list.
                keep = items = list(arrays)
            x = self._bind_slow(t, keep[t], writable, what)
            if x is None:
                missing.append(t)
                row[t] = NULL
            else:
                keep[t] = x
                row[t] = <char *>cnp.PyArray_DATA(<cnp.ndarray>x)
        if keep is None:
            # Copied after the checks, when the array objects are in cache
            # (copying first would take every cache miss without prefetching).
            keep = list(arrays)
        self.bound[slot] = keep
        self.is_bound[slot] = True
        return missing

    def set_pipe(self, int64_t flags, double lo=0.0, double hi=0.0, double w=0.0, scale=None,
                 averages=None, stats=None):
        """Run transforms/observers around the kernel of every following
        :meth:`run` (until :meth:`clear_pipe`); see fo_pipe in csrc/fastopt.h.

        Args:
            flags: PIPE_* bits.
            lo, hi: clamp bounds of the grads (PIPE_CLIP).
            w: the average's weight, or its divisor with PIPE_EMA_DIV.
            scale: C-contiguous float64 (n_tensors,) grad factors (PIPE_SCALE).
            averages: n_tensors arrays of the params' shapes and dtype
                (PIPE_EMA / PIPE_EMA_DIV), updated in place.
            stats: writeable C-contiguous float64 (n_spans * OUT_WIDTH,) array,
                per span [sum dw^2, sum p^2, sum g^2, 0] (PIPE_STATS). The grad
                sums are taken in the first run after set_pipe (the pass that
                reads the step's grads), the others in the runs that observe.
        """
        self.clear_pipe()
        cdef fo_pipe pc
        memset(&pc, 0, sizeof(fo_pipe))
        cdef cnp.ndarray a, p
        cdef Py_ssize_t t
        keep = []
        pc.pre = fo_kernel(RULES["pipe_pre"], self.dtype, _isa)
        pc.post = fo_kernel(RULES["pipe_post"], self.dtype, _isa)
        pc.grad_slot = 1
        pc.h.flags = flags
        pc.h.s[0] = lo
        pc.h.s[1] = hi
        pc.h.s[2] = w
        if flags & FO_PIPE_SCALE:
            a = scale
            if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(a)
                    or cnp.PyArray_SIZE(a) != self.n):
                raise ValueError("scale must be a C-contiguous float64 array of n_tensors")
            pc.h.per_tensor = <const double *>cnp.PyArray_DATA(a)
            pc.h.per_tensor_width = 1
            keep.append(a)
        if flags & FO_PIPE_STATS:
            flags |= FO_PIPE_GSTATS
            pc.h.flags = flags
            a = stats
            if (cnp.PyArray_TYPE(a) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(a)
                    or cnp.PyArray_SIZE(a) != self.plan.n_spans * FO_OUT_WIDTH or not cnp.PyArray_ISWRITEABLE(a)):
                raise ValueError("stats must be a writeable C-contiguous float64 array of n_spans*OUT_WIDTH")
            a.fill(0.0)
            pc.stats = <double *>cnp.PyArray_DATA(a)
            keep.append(a)
        if flags & FO_PIPE_AVERAGE:
            if averages is None or len(averages) != self.n:
                raise ValueError(f"averages: expected {self.n} arrays")
            self.avg_base = <char **>malloc(sizeof(char *) * (self.n + 1))
            if self.avg_base == NULL:
                raise MemoryError()
            for t in range(self.n):
                a = averages[t]
                p = self.params[t]
                if (_dtype_code(a) != self.dtype or not cnp.PyArray_IS_C_CONTIGUOUS(a)
                        or not cnp.PyArray_ISWRITEABLE(a) or not _same_shape(a, p)):
                    free(self.avg_base)
                    self.avg_base = NULL
                    raise ValueError(f"{self.labels[t]}: average buffer does not match the param")
                self.avg_base[t] = <char *>cnp.PyArray_DATA(a)
            pc.avg_base = self.avg_base
            keep.append(list(averages))
        if pc.pre == NULL or pc.post == NULL:
            raise ValueError(f"no pipe kernels at ISA {ISA_NAMES[_isa]}")
        self.pipe = pc
        self.pipe_keep = keep
        self.pipe_runs = 0
        self.has_pipe = flags != 0

    def clear_pipe(self):
        """Stop running the pipe set by :meth:`set_pipe`."""
        self.has_pipe = False
        memset(&self.pipe, 0, sizeof(fo_pipe))
        free(self.avg_base)
        self.avg_base = NULL
        self.pipe_keep = None

    def release_inputs(self):
        """Unbind the input slots (a step that stops after binding them)."""
        cdef int k
        for k in range(self.n_slots):
            if self.is_input[k]:
                self.bound[k] = None
                self.is_bound[k] = False

    cdef object _bind_slow(self, Py_ssize_t t, object x, WritableSet writable, str what):
        """Check one per-step array in full; return the array to bind (the
        input, a native or contiguous copy of it) or None. Raises on errors."""
        if x is None:
            return None
        cdef cnp.ndarray a
        cdef cnp.ndarray p = self.params[t]
        if not isinstance(x, cnp.ndarray):
            try:
                x = np.asarray(x)
            except Exception as exc:
                raise TypeError(f"{what} for {self.labels[t]}: cannot convert {type(x).__name__} to an array") from exc
        a = x
        if not cnp.PyArray_ISNOTSWAPPED(a) and cnp.PyArray_TYPE(a) == cnp.PyArray_TYPE(p):
            a = np.ascontiguousarray(a, dtype=p.dtype)  # byte-swapped: read a native copy
        if _dtype_code(a) != self.dtype or cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(p):
            raise TypeError(f"{what} for {self.labels[t]}: dtype {a.dtype} does not match the param's {p.dtype}")
        if not _same_shape(a, p):
            raise ValueError(f"{what} for {self.labels[t]}: shape {np.shape(x)} does not match the param's {np.shape(p)}")
        if not cnp.PyArray_IS_C_CONTIGUOUS(a):
            a = np.ascontiguousarray(a)
        else:
            owner = writable.find(_lo(a), _hi(a)) if writable is not None else None
            if owner is not None:
                raise ValueError(f"{what} for {self.labels[t]}: shares memory with {owner}, which the step writes")
        return a

    def run(self, int rule, scalars, int64_t flags, int n_threads, bint ftz=False,
            per_tensor=None, out=None, bint keep_inputs=False, bint observe=True, bint all_inputs=True):
        """Apply `rule` to every tensor in one C call with the GIL released.

        Args:
            rule: rule id from :data:`RULES`.
            scalars: at most 16 floats, the rule's per-step scalars in the order
                its kernel header documents.
            flags: the rule's flag word (selects the specialised loop).
            n_threads: threads for this call (work under the serial threshold
                runs on the calling thread whatever this says).
            ftz: flush denormals to zero inside the call (restored after).
            per_tensor: optional C-contiguous float64 array (n_tensors, w).
            out: optional C-contiguous float64 array (n_spans, OUT_WIDTH) that
                a reducing rule fills per span.
            keep_inputs: keep the input slots bound after the call (for rules
                that make several passes over the same grads); by default they
                are released so the step's grads are not kept alive.
            observe: apply the pipe's observers (telemetry, averages) in this
                call; multi-pass rules pass False on every pass that does not
                write the params. Grad transforms apply to every call.
            all_inputs: require every input slot to be bound; False for a
                kernel that reads only the grads (the tools' reduction pass,
                run before a rule binds its own per-step inputs).
        """
        cdef fo_hyper h
        cdef Py_ssize_t k, ns = len(scalars)
        if ns > FO_MAX_SCALARS:
            raise ValueError(f"at most {FO_MAX_SCALARS} scalars")
        memset(&h, 0, sizeof(fo_hyper))
        for k in range(ns):
            h.s[k] = scalars[k]
        h.flags = flags
        cdef fo_kernel_fn fn = fo_kernel(rule, self.dtype, _isa)
        if fn == NULL:
            raise ValueError(f"no kernel for rule {rule} at ISA {ISA_NAMES[_isa]}")
        for k in range(self.n_slots):
            if self.is_input[k] and not self.is_bound[k] and (all_inputs or k == 1):
                raise RuntimeError(f"input slot {k} was not bound before run()")
        cdef cnp.ndarray pt, ob
        cdef double *outp = NULL
        if per_tensor is not None:
            pt = per_tensor
            if (cnp.PyArray_TYPE(pt) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(pt)
                    or cnp.PyArray_NDIM(pt) != 2 or cnp.PyArray_DIMS(pt)[0] != self.n):
                raise ValueError("per_tensor must be a C-contiguous float64 (n_tensors, w) array")
            h.per_tensor = <const double *>cnp.PyArray_DATA(pt)
            h.per_tensor_width = cnp.PyArray_DIMS(pt)[1]
        if out is not None:
            ob = out
            if (cnp.PyArray_TYPE(ob) != cnp.NPY_FLOAT64 or not cnp.PyArray_IS_C_CONTIGUOUS(ob)
                    or cnp.PyArray_SIZE(ob) != self.plan.n_spans * FO_OUT_WIDTH or not cnp.PyArray_ISWRITEABLE(ob)):
                raise ValueError("out must be a writeable C-contiguous float64 array of n_spans*OUT_WIDTH")
            outp = <double *>cnp.PyArray_DATA(ob)
        cdef fo_pipe pc
        cdef const fo_pipe *pipe = NULL
        if self.has_pipe:
            pc = self.pipe
            if self.pipe_runs:
                pc.h.flags &= ~(<int64_t>FO_PIPE_GSTATS)
            if not observe:
                pc.h.flags &= FO_PIPE_TRANSFORM | FO_PIPE_GSTATS
            if pc.h.flags:
                pipe = &pc
                # Tools inside the rule's own loop when it has a fused form
                # (not for per-span reductions; the driver runs the averages
                # that the fused loop does not do as stages).
                if outp == NULL and _fused_tools:
                    pc.fused = fo_fused_kernel(rule, self.dtype, _isa)
            self.pipe_runs += 1
        if pipe == NULL and outp == NULL and _fused_tools:
            # A plain step: an empty pipe names the rule's fused form, which
            # fo_run runs (prefetching) when the step is larger than
            # PREFETCH_MIN; below, or for rules without one, the plain kernel.
            memset(&pc, 0, sizeof(fo_pipe))
            pc.fused = fo_fused_kernel(rule, self.dtype, _isa)
            pc.grad_slot = 1
            if pc.fused != NULL:
                pipe = &pc
        if self.busy:
            raise RuntimeError("this plan is already running in another thread")
        self.busy = True
        cdef int rc
        try:
            with nogil:
                rc = fo_run(&self.plan, fn, &h, self.base, self.n_slots, self.elsize, self.fixed_mask,
                            n_threads, outp, ftz, pipe)
            if rc != 0:
                raise MemoryError("fastopt: no memory for the step's scratch spans")
        finally:
            self.busy = False
            for k in range(self.n_slots):
                if self.is_input[k] and not keep_inputs:
                    self.bound[k] = None
                    self.is_bound[k] = False
