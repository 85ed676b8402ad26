/* Peak arithmetic rate of one core, measured: independent AVX-512 FMA (fp32) or VNNI (u8 x s8
 * dot product into int32) chains, enough of them to cover the instruction latency on every
 * pipe.  Prints GFLOP/s (fp32: 2 per lane per FMA) or GOP/s (int8: 2 per multiply-add).
 * Built and run by benchmarks/precision.py:  cc -O2 -mavx512f -mavx512vnni simd_peak.c
 *     ./a.out fp32|int8 ITERATIONS
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAINS 12

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    int int8 = argc > 1 && strcmp(argv[1], "int8") == 0;
    long iters = argc > 2 ? atol(argv[2]) : 100000000L;
    double t, ops;
    if (int8) {
        __m512i acc[CHAINS], a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-2);
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_epi32(j);
        t = seconds();
        for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
            for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
        }
        t = seconds() - t;
        long sum = 0;
        for (int j = 0; j < CHAINS; j++) sum += _mm512_reduce_add_epi32(acc[j]);
        ops = (double)iters * CHAINS * 64 * 2;  /* 64 u8 x s8 multiply-adds per instruction */
        printf("%.3f %ld\n", ops / t / 1e9, sum);
    } else {
        __m512 acc[CHAINS], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
        for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_set1_ps((float)j);
        t = seconds();
        for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
            for (int j = 0; j < CHAINS; j++) acc[j] = _mm512_fmadd_ps(acc[j], b, c);
        }
        t = seconds() - t;
        __m512 s = acc[0];
        for (int j = 1; j < CHAINS; j++) s = _mm512_add_ps(s, acc[j]);
        ops = (double)iters * CHAINS * 16 * 2;  /* 16 lanes, multiply + add */
        printf("%.3f %g\n", ops / t / 1e9, (double)_mm512_reduce_add_ps(s));
    }
    return 0;
}
