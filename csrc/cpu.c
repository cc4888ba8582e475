/*
 * cpu.c -- which instruction-set level this CPU *and* OS can run.
 *
 * CPUID says what the processor implements; XGETBV(XCR0) says which register
 * states the OS saves on context switches. AVX needs XCR0 bits 1-2 (SSE, AVX
 * state); AVX-512 also needs bits 5-7 (opmask, ZMM0-15 upper, ZMM16-31).
 * The Python layer caps the result with FASTOPT_CPU and picks once at import.
 */
#include "fastopt.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int detect(void)
{
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return FO_ISA_BASELINE;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!(osxsave && avx && fma)) return FO_ISA_BASELINE;
    const unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return FO_ISA_BASELINE;
    if (__get_cpuid_max(0, 0) < 7) return FO_ISA_BASELINE;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1;
    if (!avx2) return FO_ISA_BASELINE;
    const int avx512 = ((b >> 16) & 1) /* F */ && ((b >> 17) & 1) /* DQ */ && ((b >> 30) & 1) /* BW */ &&
                       ((b >> 31) & 1) /* VL */;
    if (avx512 && (xcr0 & 0xE6) == 0xE6) return FO_ISA_AVX512;
    return FO_ISA_AVX2;
}
#else
static int detect(void) { return FO_ISA_BASELINE; }
#endif

int fo_isa_supported(int isa)
{
    if (isa == FO_ISA_SCALAR || isa == FO_ISA_BASELINE) return 1;
    return isa <= detect();
}

int fo_isa_best(void)
{
    int best = FO_ISA_BASELINE;
    for (int isa = FO_ISA_AVX2; isa < FO_N_ISAS; isa++)
        if (fo_isa_compiled(isa) && fo_isa_supported(isa)) best = isa;
    return best;
}

const char *fo_isa_name(int isa)
{
    static const char *const names[FO_N_ISAS] = {"scalar", "baseline", "avx2", "avx512"};
    return (isa >= 0 && isa < FO_N_ISAS) ? names[isa] : "unknown";
}
