/* Multi-step samplers' plumbing (DDPM's reverse chain, flow matching's and the score SDE's
 * ODEs, the CNF next): the state lives in a persistent tensor, each step ends the context's
 * step, so memory stays that of one step whatever the number of steps; the fixed-step ODE
 * solvers and the adaptive Dormand–Prince 5(4) solver; the change of variables of a
 * neural ODE. */
#ifndef DGM_MODELS_ODE_H
#define DGM_MODELS_ODE_H

#include "dgm/dgm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dgm_ode_solver {
    DGM_ODE_EULER = 0,
    DGM_ODE_HEUN,
    DGM_ODE_RK4,
    DGM_ODE_DOPRI5 /* adaptive: Dormand–Prince 5(4), steps chosen by rtol/atol */
} dgm_ode_solver;

/* "euler", "heun", "rk4", "dopri5" -> the solver, or -1. */
int dgm_ode_solver_parse(const char *name);
/* The solver's name. */
const char *dgm_ode_solver_name(dgm_ode_solver solver);

/* v(x, t) [n, dim] for x [n, dim] at time t (a step tensor). */
typedef dgm_status (*dgm_velocity_fn)(void *user, dgm_tensor *x, float t, dgm_tensor **v);

/* How to integrate: a fixed-step solver in `steps` equal steps, or DGM_ODE_DOPRI5 with the
 * local error of each step held under atol + rtol·|x| (the RMS over all the values of the
 * batch, which shares its steps: scipy's solve_ivp on the flattened batch). max_nfe > 0
 * bounds the adaptive solver's evaluations (0: 1,000,000). */
typedef struct dgm_ode_config {
    dgm_ode_solver solver;
    int64_t steps;
    double rtol, atol;
    int64_t max_nfe;
} dgm_ode_config;

/* Integrates dx/dt = v(x, t) from t0 to t1 (t1 < t0: backwards), x persistent and updated
 * in place; ends the step after each step (each attempted step, adaptive). *nfe (may be
 * NULL): the evaluations of v it took. */
dgm_status dgm_ode_solve(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                         dgm_tensor *x, double t0, double t1, int64_t *nfe);

/* The same solve recorded on the tape (discretize-then-optimize: a loss of *out
 * differentiates through every step): x a step tensor, never changed; *out the end state.
 * The adaptive solver's rejected attempts stay on the tape unused; its step sizes are
 * constants (no gradient flows through the error control). */
dgm_status dgm_ode_solve_taped(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, double t0, double t1, dgm_tensor **out, int64_t *nfe);

/* dgm_ode_solve's adaptive branch (ode_dopri5.c), in place and on the tape. */
dgm_status dgm_ode_dopri5(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                          dgm_tensor *x, double t0, double t1, int64_t *nfe);
dgm_status dgm_ode_dopri5_taped(dgm_ctx *ctx, const dgm_ode_config *cfg, dgm_velocity_fn v, void *user,
                                dgm_tensor *x, double t0, double t1, dgm_tensor **out, int64_t *nfe);

/* The evaluations of v that `steps` steps of a fixed-step solver take. */
int64_t dgm_ode_fixed_nfe(dgm_ode_solver solver, int64_t steps);

/* dgm_ode_solve with a fixed-step solver in `steps` steps. */
dgm_status dgm_ode_integrate(dgm_ctx *ctx, dgm_ode_solver solver, dgm_velocity_fn v, void *user,
                             dgm_tensor *x, float t0, float t1, int64_t steps);

/* The change of variables of a neural ODE dx/dt = v(x, t) whose marginal at t_prior is
 * N(0, prior_std²·I): log p(x) at t_data of each row of x [n, d]. Integrates x together
 * with L, dL/dt = div v(x, t), from (x, 0) at t_data to (x', L') at t_prior; then
 * log p(x) = log N(x'; 0, prior_std²·I) + L'. The divergence is exact with probes = 0 (one
 * dgm_autograd pass per column, so v must be made of recorded ops), else the Skilling–
 * Hutchinson estimate εᵀ(∂v/∂x)ε averaged over `probes` Rademacher vectors, drawn once per
 * solve (the ODE stays deterministic for the adaptive solver). x is persistent and ends as
 * x'; logp: host [n]; *nfe (may be NULL): the evaluations of v. */
typedef struct dgm_ode_density {
    dgm_ode_config ode;
    double t_data, t_prior, prior_std;
    int probes;
} dgm_ode_density;

dgm_status dgm_ode_log_density(dgm_ctx *ctx, const dgm_ode_density *cfg, dgm_velocity_fn v, void *user,
                               dgm_tensor *x, double *logp, int64_t *nfe);

/* Training a neural ODE by its likelihood: the same change of variables on the tape (grad
 * mode on), x [n, d] a step tensor -> *logp [n, 1], differentiable in whatever v's
 * parameters are; the divergence's autograd passes record their graphs (create_graph).
 * reg (may be NULL): [n, 2], the integrals along each path of ‖v‖² (kinetic energy) and of
 * ‖∂v/∂x‖_F² (exact with the exact divergence, else ‖εᵀ∂v/∂x‖² with the same probes):
 * RNODE's regularizers (Finlay et al. 2020), integrated with the state. */
dgm_status dgm_ode_log_density_taped(dgm_ctx *ctx, const dgm_ode_density *cfg, dgm_velocity_fn v, void *user,
                                     dgm_tensor *x, dgm_tensor **logp, dgm_tensor **reg, int64_t *nfe);

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
