/* Multi-step samplers' plumbing (DDPM's reverse chain, flow matching's ODE): the state
 * lives in a persistent tensor, each step ends the context's step, so memory stays that
 * of one step whatever the number of steps; and the fixed-step ODE solvers. */
#ifndef DGM_MODELS_ODE_H
#define DGM_MODELS_ODE_H

#include "dgm/dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dgm_ode_solver { DGM_ODE_EULER = 0, DGM_ODE_HEUN, DGM_ODE_RK4 } dgm_ode_solver;

/* "euler", "heun", "rk4" -> the solver, or -1. */
int dgm_ode_solver_parse(const char *name);

/* v(x, t) [n, dim] for x [n, dim] at time t (a step tensor). */
typedef dgm_status (*dgm_velocity_fn)(void *user, dgm_tensor *x, float t, dgm_tensor **v);

/* Integrates dx/dt = v(x, t) from t0 to t1 in `steps` equal steps (t1 < t0: backwards),
 * x persistent and updated in place; ends the step after each step. */
dgm_status dgm_ode_integrate(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                             dgm_tensor *x, float t0, float t1, int64_t steps);

/* The neural ODE's change of variables: log p_1(x) of each row of x [n, d] for the flow
 * dx/dt = v(x, t) carrying p_0 = N(0, I) at t = 0 to p_1 at t = 1. Integrates x together
 * with L, dL/dt = div v(x, t), backwards from (x, 0) at t = 1 to (x_0, L_0) at t = 0 with
 * `solver` in `steps` steps; then log p_1(x) = log N(x_0; 0, I) + L_0. The divergence is
 * exact: one dgm_autograd pass per column (so v must be made of recorded ops). x is
 * persistent and ends as x_0; logp: host [n]. Ends the step after each step. */
dgm_status dgm_ode_log_density(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, int64_t steps, double *logp);

/* A persistent copy of step tensor x, and a step copy of persistent tensor p (what a
 * sampler returns after its last step_end). */
dgm_status dgm_persist(dgm_ctx *ctx, dgm_tensor *x, dgm_tensor **out);
dgm_status dgm_unpersist(dgm_ctx *ctx, dgm_tensor *p, dgm_tensor **out);

/* [n, 1] filled with value (a step tensor). */
dgm_status dgm_column_of(dgm_ctx *ctx, int64_t n, float value, dgm_tensor **out);

#ifdef __cplusplus
}
#endif

#endif
