/* Host random numbers for data: xoshiro256** (Blackman and Vigna) seeded through
 * splitmix64. Toy samples and epoch permutations come from here so they depend on their
 * seed alone, on every platform, and never consume the context's device generator. */
#include <math.h>

#include "data/data_internal.h"

uint64_t dgm_data_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void dgm_data_rng_seed(dgm_data_rng *r, uint64_t seed, uint64_t stream)
{
    /* Mixing the stream in before expanding keeps (seed, 1) and (seed + 1, 0) apart. */
    uint64_t x = dgm_data_mix64(seed) ^ dgm_data_mix64(stream ^ 0x5851F42D4C957F2Dull);
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ull;
        r->s[i] = dgm_data_mix64(x);
    }
    /* xoshiro must not start from all zeros; splitmix64 makes that practically
     * impossible, but a fixed word costs nothing. */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dgm_data_rng_next(dgm_data_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dgm_data_rng_uniform(dgm_data_rng *r)
{
    return (double)(dgm_data_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t dgm_data_rng_below(dgm_data_rng *r, uint64_t bound)
{
    /* Rejection from the top of the 64-bit range: unbiased, and a rejection is rare
     * (probability below bound / 2^64). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t x;
    do x = dgm_data_rng_next(r);
    while (x >= limit);
    return x % bound;
}

double dgm_data_rng_normal(dgm_data_rng *r)
{
    /* u1 in (0, 1] keeps log finite. */
    double u1 = 1.0 - dgm_data_rng_uniform(r);
    double u2 = dgm_data_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
