/* A one-line progress display (step/total, loss, steps/s, ETA), redrawn on a terminal at
 * most a few times a second; silent when stdout is not a terminal. */
#ifndef DGM_PROGRESS_H
#define DGM_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct dgm_progress {
    bool tty;
    int64_t first, total, step;
    double start, last_draw;
    bool drawn;
} dgm_progress;

void dgm_progress_init(dgm_progress *p, int64_t first_step, int64_t total);
/* Whether a redraw is due (so the caller reads the loss only then). */
bool dgm_progress_due(const dgm_progress *p);
void dgm_progress_update(dgm_progress *p, int64_t step, float loss);
/* Ends the line (if anything was drawn). */
void dgm_progress_end(dgm_progress *p);

#endif
