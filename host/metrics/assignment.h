/* Exact linear assignment: the minimum-cost perfect matching of a dense square cost matrix
 * (the coupling of minibatch optimal transport, and of exact Wasserstein distances). */
#ifndef DGM_ASSIGNMENT_H
#define DGM_ASSIGNMENT_H

#include <stdint.h>

#include "dgm/core.h"

/* cost: n x n (row-major, host memory); row_to_col: n entries, receives the column of each
 * row (a permutation of 0..n-1); total: the sum of the chosen costs, added in row order.
 * Exact (Jonker-Volgenant: column reduction, augmenting row reduction, then shortest
 * augmenting paths with dual potentials), up to the rounding of double arithmetic.
 * INVALID_ARGUMENT for n < 1 or n >= 2^31, NULL pointers, or a cost that is not finite or
 * beyond +-1e150; OOM when the O(n) workspace cannot be allocated. No global state:
 * thread-safe.
 * Speed: worst case O(n^3). Fast when the nearest-neighbour matching is close to the
 * optimum, as for squared distances between two samples that overlap (2-D, one core:
 * n = 512 in about 12 ms, n = 2000 in under 1 s). Two point sets far apart are much slower
 * (~10x); for squared Euclidean costs, centre both sets first: translating a set adds
 * row and column constants to the costs, which does not change the optimal matching. */
dgm_status dgm_assignment_solve(dgm_ctx *ctx, int64_t n, const double *cost,
                                int64_t *row_to_col, double *total);

#endif
