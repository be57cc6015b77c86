/* The library's one clock: seconds on the monotonic clock, for durations (a run's elapsed
 * time, a step that takes too long). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <time.h>

#include "core/internal.h"

double dgm_seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
