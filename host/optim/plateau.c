/* The plateau rule (see dgm/optim.h): window means of the loss, a decay of the learning rate
 * after `patience` windows that do not beat the best by `tol`, a stop after `max_decays`.
 * A decay restarts the rule (best and patience): the loss a new learning rate reaches is
 * judged on its own, and a run that spiked before the decay is not stopped while it still
 * improves after it. */
#include <math.h>
#include <string.h>

#include "dgm/optim.h"

void dgm_plateau_init(dgm_plateau *p, const dgm_plateau_rule *rule)
{
    memset(p, 0, sizeof *p);
    p->rule = *rule;
    if (p->rule.window < 1) p->rule.window = 1;
    if (p->rule.patience < 1) p->rule.patience = 1;
    p->best = INFINITY;
}

dgm_plateau_event dgm_plateau_update(dgm_plateau *p, double loss)
{
    p->sum += isfinite(loss) ? loss : INFINITY;
    if (++p->count < p->rule.window) return DGM_PLATEAU_CONTINUE;
    const double mean = p->sum / (double)p->count;
    p->sum = 0.0;
    p->count = 0;
    if (mean < p->best - p->rule.tol) {
        p->best = mean;
        p->since = 0;
        return DGM_PLATEAU_CONTINUE;
    }
    if (mean < p->best) p->best = mean;
    if (++p->since < p->rule.patience) return DGM_PLATEAU_CONTINUE;
    p->since = 0;
    if (p->decays >= p->rule.max_decays) return DGM_PLATEAU_STOP;
    p->decays++;
    p->best = INFINITY;
    return DGM_PLATEAU_DECAY;
}
