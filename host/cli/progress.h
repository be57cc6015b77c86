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
/* model_fields (may be NULL): the family's fields of its last metrics line, JSON members
 * ("nfe": 32, ...), shown after the loss without their quotes. */
void dgm_progress_update(dgm_progress *p, int64_t step, float loss, const char *model_fields);
/* Ends the line (if anything was drawn). */
void dgm_progress_end(dgm_progress *p);

#endif
