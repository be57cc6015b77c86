/* Exact linear assignment by Jonker and Volgenant's algorithm (Computing 38, 1987).
 * Column reduction and augmenting row reduction assign most rows in O(n^2) overall; the
 * rows left free are assigned by Dijkstra shortest augmenting paths on the reduced costs
 * c[i][j] - u[i] - v[j] >= 0, the dual potentials u, v staying feasible throughout (in the
 * form of Crouse, IEEE TAES 52, 2016). Worst case O(n^3); every scan reads one row of the
 * row-major matrix, so it stays in cache. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "metrics/assignment.h"

typedef struct lap {
    int64_t n;
    const double *c;
    double *u, *v;              /* row and column potentials */
    double *dist;               /* shortest path lengths to the columns, current search */
    int64_t *col4row, *row4col; /* the matching; -1 where free */
    int64_t *pred;              /* the row before each column on its shortest path */
    int64_t *todo;              /* columns the current search has not settled */
    int64_t *rows, *cols;       /* rows and columns it has settled */
    int64_t *free_rows;
    double *dbuf;
    int64_t *ibuf;
} lap;

static dgm_status lap_alloc(dgm_ctx *ctx, lap *w, int64_t n, const double *cost)
{
    const size_t m = (size_t)n;
    w->n = n;
    w->c = cost;
    w->dbuf = malloc(3 * m * sizeof *w->dbuf);
    w->ibuf = malloc(7 * m * sizeof *w->ibuf);
    if (!w->dbuf || !w->ibuf) {
        free(w->dbuf);
        free(w->ibuf);
        return dgm_set_error(ctx, DGM_STATUS_OOM, "dgm_assignment_solve: out of memory (n %lld)",
                             (long long)n);
    }
    w->u = w->dbuf;
    w->v = w->u + m;
    w->dist = w->v + m;
    w->col4row = w->ibuf;
    w->row4col = w->col4row + m;
    w->pred = w->row4col + m;
    w->todo = w->pred + m;
    w->rows = w->todo + m;
    w->cols = w->rows + m;
    w->free_rows = w->cols + m;
    for (int64_t k = 0; k < n; k++) w->col4row[k] = w->row4col[k] = -1;
    return DGM_STATUS_OK;
}

static void lap_free(lap *w)
{
    free(w->dbuf);
    free(w->ibuf);
}

/* v[j] = min over the column; each column goes to its minimizing row when that row has
 * none yet. The matched entries have reduced cost 0 (with u = 0), the minimum of their
 * rows. Scanned by rows, not columns, to stay in cache. matches: n counters. */
static void column_reduction(lap *w, int64_t *argmin, int64_t *matches)
{
    const int64_t n = w->n;
    for (int64_t j = 0; j < n; j++) {
        w->v[j] = w->c[j];
        argmin[j] = 0;
        matches[j] = 0;
    }
    for (int64_t i = 1; i < n; i++) {
        const double *ci = w->c + i * n;
        for (int64_t j = 0; j < n; j++)
            if (ci[j] < w->v[j]) {
                w->v[j] = ci[j];
                argmin[j] = i;
            }
    }
    for (int64_t j = n - 1; j >= 0; j--) {
        const int64_t i = argmin[j];
        if (matches[i]++ == 0) {
            w->col4row[i] = j;
            w->row4col[j] = i;
        }
    }
}

/* A row that is the minimum of exactly one column passes on its slack: v of that column
 * drops until the row's second-best entry ties it, which makes the column less attractive
 * to the free rows (and the rows of augmenting row reduction) without breaking feasibility. */
static void reduction_transfer(lap *w, const int64_t *matches)
{
    const int64_t n = w->n;
    for (int64_t i = 0; i < n; i++) {
        if (matches[i] != 1) continue;
        const double *ci = w->c + i * n;
        const int64_t j1 = w->col4row[i];
        double m = INFINITY;
        for (int64_t j = 0; j < n; j++)
            if (j != j1 && ci[j] - w->v[j] < m) m = ci[j] - w->v[j];
        w->v[j1] -= m;
    }
}

/* The smallest and second smallest of c[i][j] - v[j] and their columns (n >= 2). */
static void row_min2(const lap *w, int64_t i, double *m1, double *m2, int64_t *j1, int64_t *j2)
{
    const double *ci = w->c + i * w->n;
    double a = ci[0] - w->v[0], b = INFINITY;
    int64_t ja = 0, jb = -1;
    for (int64_t j = 1; j < w->n; j++) {
        const double h = ci[j] - w->v[j];
        if (h >= b) continue;
        if (h >= a) {
            b = h;
            jb = j;
        } else {
            b = a;
            jb = ja;
            a = h;
            ja = j;
        }
    }
    *m1 = a;
    *m2 = b;
    *j1 = ja;
    *j2 = jb;
}

/* One step of augmenting row reduction: free row i takes its best column j1 (lowering
 * v[j1] so that j1 stays its best by the margin over the second best); the row displaced
 * from it is returned, and *again tells whether to retry it at once (the margin was
 * positive) or in the next pass. Assigned rows keep their column as their row minimum of
 * c - v: v only ever decreases. */
static int64_t arr_step(lap *w, int64_t i, bool *again)
{
    double m1, m2;
    int64_t j1, j2;
    row_min2(w, i, &m1, &m2, &j1, &j2);
    int64_t i0 = w->row4col[j1];
    *again = m1 < m2;
    if (m1 < m2) {
        w->v[j1] -= m2 - m1;
    } else if (i0 >= 0) {
        j1 = j2;
        i0 = w->row4col[j2];
    }
    if (i0 >= 0) w->col4row[i0] = -1;
    w->col4row[i] = j1;
    w->row4col[j1] = i;
    return i0;
}

/* Two passes of augmenting row reduction over the free rows (free_rows[0..nfree)). The
 * steps are capped: near-ties under rounding can make the chain of retries very long, and
 * any row left free is still assigned exactly by the shortest path phase. */
static void augmenting_row_reduction(lap *w, int64_t nfree)
{
    int64_t budget = 4 * w->n;
    for (int pass = 0; pass < 2; pass++) {
        const int64_t prev = nfree;
        int64_t k = 0;
        nfree = 0;
        while (k < prev) {
            const int64_t i = w->free_rows[k++];
            if (budget-- <= 0) {
                w->free_rows[nfree++] = i;
                continue;
            }
            bool again;
            const int64_t i0 = arr_step(w, i, &again);
            if (i0 < 0) continue;
            if (again)
                w->free_rows[--k] = i0;
            else
                w->free_rows[nfree++] = i0;
        }
    }
}

/* The free rows after the reductions, and u of the assigned ones (their row minimum). */
static int64_t collect_free_rows(lap *w)
{
    int64_t nfree = 0;
    for (int64_t i = 0; i < w->n; i++) {
        const int64_t j = w->col4row[i];
        if (j < 0) {
            w->free_rows[nfree++] = i;
            w->u[i] = 0.0;
        } else {
            w->u[i] = w->c[i * w->n + j] - w->v[j];
        }
    }
    return nfree;
}

/* Relaxes the unsettled columns from row i (reached at distance minv) and returns the
 * index in todo[0..ntodo) of the closest one, preferring a free column on ties (it ends
 * the search sooner). */
static int64_t relax_row(lap *w, int64_t i, double minv, int64_t ntodo)
{
    const double *restrict ci = w->c + i * w->n;
    const double *restrict v = w->v;
    const int64_t *restrict todo = w->todo, *restrict row4col = w->row4col;
    double *restrict dist = w->dist;
    int64_t *restrict pred = w->pred;
    const double h = minv - w->u[i];
    double lowest = INFINITY;
    int64_t best = 0;
    for (int64_t k = 0; k < ntodo; k++) {
        const int64_t j = todo[k];
        const double r = h + ci[j] - v[j];
        double dj = dist[j];
        if (r < dj) {
            dist[j] = dj = r;
            pred[j] = i;
        }
        if (dj <= lowest && (dj < lowest || row4col[j] < 0)) {
            lowest = dj;
            best = k;
        }
    }
    return best;
}

/* Dijkstra from free row `row` over the alternating graph until a free column (returned)
 * is settled; *minv its distance, *nrows / *ncols the settled rows and columns. */
static int64_t shortest_path(lap *w, int64_t row, double *minv, int64_t *nrows, int64_t *ncols)
{
    const int64_t n = w->n;
    for (int64_t j = 0; j < n; j++) {
        w->todo[j] = j;
        w->dist[j] = INFINITY;
    }
    int64_t ntodo = n, nr = 0, nc = 0, i = row, sink = -1;
    double d = 0.0;
    while (sink < 0) {
        w->rows[nr++] = i;
        const int64_t k = relax_row(w, i, d, ntodo);
        const int64_t j = w->todo[k];
        d = w->dist[j];
        w->cols[nc++] = j;
        w->todo[k] = w->todo[--ntodo];
        if (w->row4col[j] < 0)
            sink = j;
        else
            i = w->row4col[j];
    }
    *minv = d;
    *nrows = nr;
    *ncols = nc;
    return sink;
}

/* Moves the potentials so that the reduced costs stay >= 0 and the path just found has
 * reduced cost 0, then flips the matching along the path. */
static void augment(lap *w, int64_t row, int64_t sink, double minv, int64_t nrows,
                    int64_t ncols)
{
    w->u[row] += minv;
    for (int64_t k = 1; k < nrows; k++) {
        const int64_t i = w->rows[k];
        w->u[i] += minv - w->dist[w->col4row[i]];
    }
    for (int64_t k = 0; k < ncols; k++) {
        const int64_t j = w->cols[k];
        w->v[j] -= minv - w->dist[j];
    }
    for (int64_t j = sink;;) {
        const int64_t i = w->pred[j];
        const int64_t next = w->col4row[i];
        w->row4col[j] = i;
        w->col4row[i] = j;
        if (i == row) break;
        j = next;
    }
}

static void solve(lap *w)
{
    if (w->n == 1) {
        w->col4row[0] = w->row4col[0] = 0;
        return;
    }
    /* pred and todo are free until the shortest path phase: scratch for the reductions. */
    column_reduction(w, w->pred, w->todo);
    reduction_transfer(w, w->todo);
    augmenting_row_reduction(w, collect_free_rows(w));
    const int64_t nfree = collect_free_rows(w);
    for (int64_t f = 0; f < nfree; f++) {
        const int64_t row = w->free_rows[f];
        double minv;
        int64_t nrows, ncols;
        const int64_t sink = shortest_path(w, row, &minv, &nrows, &ncols);
        augment(w, row, sink, minv, nrows, ncols);
    }
}

/* Costs up to 1e150 keep every sum of costs and potentials (at most ~n times the range)
 * far from overflow; squared distances of any finite floats stay below it. */
#define DGM_ASSIGNMENT_MAX_COST 1e150

static dgm_status check_args(dgm_ctx *ctx, int64_t n, const double *cost,
                             const int64_t *row_to_col, const double *total)
{
    /* n < 2^31 keeps n * n in range; such a matrix could not be held anyway. */
    if (!cost || !row_to_col || !total || n < 1 || n > INT32_MAX)
        return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                             "dgm_assignment_solve: needs cost, row_to_col and total, and "
                             "1 <= n < 2^31 (%lld)",
                             (long long)n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (!(fabs(cost[i * n + j]) <= DGM_ASSIGNMENT_MAX_COST))
                return dgm_set_error(ctx, DGM_STATUS_INVALID_ARGUMENT,
                                     "dgm_assignment_solve: cost[%lld][%lld] is %g: costs must "
                                     "be finite, within +-%g",
                                     (long long)i, (long long)j, cost[i * n + j],
                                     DGM_ASSIGNMENT_MAX_COST);
    return DGM_STATUS_OK;
}

dgm_status dgm_assignment_solve(dgm_ctx *ctx, int64_t n, const double *cost,
                                int64_t *row_to_col, double *total)
{
    dgm_status st = dgm_check_ctx(ctx);
    if (st != DGM_STATUS_OK) return st;
    st = check_args(ctx, n, cost, row_to_col, total);
    if (st != DGM_STATUS_OK) return st;
    lap w = {0};
    st = lap_alloc(ctx, &w, n, cost);
    if (st != DGM_STATUS_OK) return st;
    solve(&w);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        row_to_col[i] = w.col4row[i];
        sum += cost[i * n + w.col4row[i]];
    }
    *total = sum;
    lap_free(&w);
    return DGM_STATUS_OK;
}
