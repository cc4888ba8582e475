/* omp_shim.h -- lets the same code build with and without OpenMP.
 * FASTOPT_OPENMP is defined by setup.py when the OpenMP probe succeeded. */
#ifndef FASTOPT_OMP_SHIM_H
#define FASTOPT_OMP_SHIM_H
#if defined(FASTOPT_OPENMP) && defined(_OPENMP)
#include <omp.h>
#define FO_HAVE_OPENMP 1
#else
#define FO_HAVE_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline int omp_get_thread_num(void) { return 0; }
#endif
#endif
