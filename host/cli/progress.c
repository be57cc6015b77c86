/* Terminal progress line; see progress.h. */
#define _POSIX_C_SOURCE 200809L

#include "cli/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void dgm_progress_init(dgm_progress *p, int64_t first_step, int64_t total)
{
    p->tty = isatty(fileno(stdout));
    p->first = p->step = first_step;
    p->total = total;
    p->start = now_s();
    p->last_draw = 0.0;
    p->drawn = false;
}

bool dgm_progress_due(const dgm_progress *p) { return p->tty && now_s() - p->last_draw >= 0.25; }

void dgm_progress_update(dgm_progress *p, int64_t step, float loss, const char *model_fields)
{
    p->step = step;
    if (!p->tty) return;
    double t = now_s(), el = t - p->start;
    p->last_draw = t;
    double rate = el > 0 ? (double)(step - p->first) / el : 0.0;
    long eta = rate > 0 ? (long)((double)(p->total - step) / rate) : 0;
    printf("\rstep %lld/%lld  loss %-10.5g %8.1f steps/s  ETA %ld:%02ld  ", (long long)step,
           (long long)p->total, (double)loss, rate, eta / 60, eta % 60);
    for (const char *c = model_fields; c && *c; c++) /* "nfe": 32, ... -> nfe: 32, ... */
        if (*c != '"') putchar(*c);
    if (model_fields && *model_fields) printf("  ");
    fflush(stdout);
    p->drawn = true;
}

void dgm_progress_end(dgm_progress *p)
{
    if (p->tty && p->drawn) {
        printf("\n");
        fflush(stdout);
    }
    p->drawn = false;
}
