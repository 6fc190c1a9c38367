//! Minimum-cost assignment of tasks (rows) to agents (columns).
//!
//! [`solve`] finds, among all matchings of the largest possible size, one of
//! least total cost. The matrix may be rectangular either way and may contain
//! infeasible cells (`f64::INFINITY`: the agent lacks the skill), which are
//! never chosen. With no infeasible cells every row is assigned when
//! `rows <= cols`, otherwise every column; with them, rows (and columns) that
//! cannot be matched are reported in [`Assignment::unassigned_rows`].
//!
//! # Algorithm
//!
//! Successive shortest augmenting paths with dual potentials (the
//! Kuhn–Munkres / Jonker–Volgenant formulation, dense Dijkstra). Each phase
//! grows the matching by one along the cheapest augmenting path from *any*
//! free row, not from the next row in order: with infeasible cells a row can
//! be left unmatched, and which rows lose must be part of the optimisation
//! (two rows wanting the one feasible column: the cheaper one gets it).
//! Successive shortest paths from the super-source give a minimum-cost
//! matching of every size `k`, and stop exactly when no augmenting path is
//! left, i.e. at maximum cardinality (Berge).
//!
//! Cost: at most `min(rows, cols)` phases, each `O(rows * cols)`, so
//! `O(rows * cols * min(rows, cols))`: the `O(n²m)` of the classic method.
//! The multi-source start is made cheap by keeping, per column, its cheapest
//! cell over the free rows, so a phase costs `O(cols)` plus the rows it
//! actually reaches, as in single-source Jonker–Volgenant.
//!
//! # Potentials
//!
//! `u[r] + v[c] <= cost[r][c]` for every feasible cell, with equality on
//! matched cells. Two further invariants make the multi-source start exact:
//! all free rows share one `u`, and every free column has `v == 0`. Then the
//! true cost of an alternating path from free row `r0` to free column `ck` is
//! the sum of its slacks plus that shared constant, so Dijkstra may start
//! every free row at distance 0.
//!
//! # Determinism
//!
//! No randomness, no hashing. Ties are broken towards the lowest index: the
//! next column settled is the lowest-indexed one at the minimum distance, and
//! a column's predecessor is the lowest-indexed row that first reached that
//! distance. A matrix whose costs are all equal is assigned on the diagonal.

use std::fmt;

/// Largest finite cost magnitude accepted.
///
/// Potentials are sums of up to `2 * min(rows, cols)` costs; this bound keeps
/// them (and every slack) finite, since an overflow to infinity would read as
/// "infeasible". It also catches the "big-M" habit: write `f64::INFINITY`
/// for a forbidden cell, not `1e300`.
pub const MAX_ABS_COST: f64 = 1e15;

/// Why a [`CostMatrix`] could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostMatrixError {
    /// The data length is not `rows * cols`.
    #[error("cost matrix of {rows}x{cols} needs {} cells, got {len}", rows * cols)]
    Shape {
        /// Rows requested.
        rows: usize,
        /// Columns requested.
        cols: usize,
        /// Cells supplied.
        len: usize,
    },
    /// A row of [`CostMatrix::from_rows`] has a different length from the first.
    #[error("row {row} has {len} cells, but row 0 has {cols}")]
    Ragged {
        /// The offending row.
        row: usize,
        /// Its length.
        len: usize,
        /// Length of row 0.
        cols: usize,
    },
    /// A cell is NaN, `-inf`, or a finite value beyond [`MAX_ABS_COST`].
    #[error(
        "cell ({row}, {col}) = {value} is not a usable cost: use a finite value \
         with |cost| <= {MAX_ABS_COST:e}, or f64::INFINITY for an infeasible cell"
    )]
    BadCell {
        /// Row of the cell.
        row: usize,
        /// Column of the cell.
        col: usize,
        /// The rejected value.
        value: f64,
    },
}

/// A dense `rows x cols` matrix of costs (or scores), row-major.
///
/// Rows are tasks, columns are agents. `f64::INFINITY` marks an infeasible
/// cell. Every other cell is finite with magnitude at most [`MAX_ABS_COST`]
/// (checked by the constructors, so the solver never sees NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct CostMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl CostMatrix {
    /// A matrix from row-major `data` (`data[r * cols + c]`), with
    /// `f64::INFINITY` for infeasible cells.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<CostMatrix, CostMatrixError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(CostMatrixError::Shape {
                rows,
                cols,
                len: data.len(),
            });
        }
        for (i, &value) in data.iter().enumerate() {
            let usable =
                value == f64::INFINITY || (value.is_finite() && value.abs() <= MAX_ABS_COST);
            if !usable {
                return Err(CostMatrixError::BadCell {
                    row: i / cols,
                    col: i % cols,
                    value,
                });
            }
        }
        Ok(CostMatrix { rows, cols, data })
    }

    /// A matrix whose cell `(r, c)` is `f(r, c)`; `None` is infeasible.
    pub fn from_fn(
        rows: usize,
        cols: usize,
        mut f: impl FnMut(usize, usize) -> Option<f64>,
    ) -> Result<CostMatrix, CostMatrixError> {
        let mut data = Vec::with_capacity(rows.saturating_mul(cols));
        for r in 0..rows {
            for c in 0..cols {
                data.push(f(r, c).unwrap_or(f64::INFINITY));
            }
        }
        CostMatrix::new(rows, cols, data)
    }

    /// A matrix from a slice of equal-length rows (`f64::INFINITY` for
    /// infeasible cells). An empty slice gives a `0 x 0` matrix.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<CostMatrix, CostMatrixError> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(CostMatrixError::Ragged {
                    row,
                    len: r.len(),
                    cols,
                });
            }
            data.extend_from_slice(r);
        }
        CostMatrix::new(rows.len(), cols, data)
    }

    /// Number of rows (tasks).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (agents).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The cost of cell `(row, col)`, or `None` if it is infeasible.
    ///
    /// # Panics
    /// If the cell is outside the matrix.
    pub fn get(&self, row: usize, col: usize) -> Option<f64> {
        let x = self.cell(row, col);
        x.is_finite().then_some(x)
    }

    /// Rows with no feasible cell at all: these can never be assigned.
    pub fn infeasible_rows(&self) -> Vec<usize> {
        (0..self.rows)
            .filter(|&r| self.row(r).iter().all(|x| !x.is_finite()))
            .collect()
    }

    /// The same matrix with every finite cell negated: turns scores to
    /// maximise into costs to minimise. Infeasible cells stay infeasible.
    pub fn negated(&self) -> CostMatrix {
        let data = self
            .data
            .iter()
            .map(|&x| if x.is_finite() { -x } else { x })
            .collect();
        CostMatrix {
            rows: self.rows,
            cols: self.cols,
            data,
        }
    }

    fn cell(&self, row: usize, col: usize) -> f64 {
        assert!(
            row < self.rows && col < self.cols,
            "cell ({row}, {col}) outside a {}x{} matrix",
            self.rows,
            self.cols
        );
        self.data[row * self.cols + col]
    }

    fn row(&self, row: usize) -> &[f64] {
        &self.data[row * self.cols..(row + 1) * self.cols]
    }

    /// Largest finite magnitude in the matrix (0 if none): the scale for
    /// rounding tolerances.
    fn scale(&self) -> f64 {
        self.data
            .iter()
            .filter(|x| x.is_finite())
            .fold(0.0f64, |m, x| m.max(x.abs()))
    }
}

/// A matching of rows to columns, as returned by [`solve`], [`maximize`] and
/// the greedy baseline in [`crate::collab::assign`].
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// For each row, the column it is assigned to.
    pub row_to_col: Vec<Option<usize>>,
    /// For each column, the row assigned to it (the inverse of `row_to_col`).
    pub col_to_row: Vec<Option<usize>>,
    /// Rows left unassigned, ascending: rows with no feasible cell, rows that
    /// lost their only feasible columns to others, or surplus rows of a tall
    /// matrix.
    pub unassigned_rows: Vec<usize>,
    /// Columns left unassigned, ascending.
    pub unassigned_cols: Vec<usize>,
    /// Sum of the matrix's cells over the chosen pairs: the total cost from
    /// [`solve`], the total score from [`maximize`].
    pub total: f64,
}

impl Assignment {
    /// Builds the assignment from a row → column map, checking that it is a
    /// matching on feasible cells, and sums `matrix` over it.
    pub(crate) fn from_row_to_col(
        matrix: &CostMatrix,
        row_to_col: Vec<Option<usize>>,
    ) -> Assignment {
        assert_eq!(row_to_col.len(), matrix.rows, "one entry per row");
        let mut col_to_row = vec![None; matrix.cols];
        let mut total = 0.0;
        for (r, c) in row_to_col.iter().enumerate() {
            let Some(c) = *c else { continue };
            assert!(col_to_row[c].is_none(), "column {c} assigned twice");
            col_to_row[c] = Some(r);
            let x = matrix.get(r, c);
            assert!(x.is_some(), "infeasible cell ({r}, {c}) chosen");
            total += x.unwrap_or(0.0);
        }
        let unassigned_rows = (0..matrix.rows)
            .filter(|&r| row_to_col[r].is_none())
            .collect();
        let unassigned_cols = (0..matrix.cols)
            .filter(|&c| col_to_row[c].is_none())
            .collect();
        Assignment {
            row_to_col,
            col_to_row,
            unassigned_rows,
            unassigned_cols,
            total,
        }
    }

    /// Number of assigned pairs.
    pub fn len(&self) -> usize {
        self.row_to_col.iter().filter(|c| c.is_some()).count()
    }

    /// True if nothing is assigned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The assigned `(row, col)` pairs in row order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.row_to_col
            .iter()
            .enumerate()
            .filter_map(|(r, c)| c.map(|c| (r, c)))
    }
}

impl fmt::Display for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pairs, total {}:", self.len(), self.total)?;
        for (r, c) in self.pairs() {
            write!(f, " {r}->{c}")?;
        }
        if !self.unassigned_rows.is_empty() {
            write!(f, "; unassigned rows {:?}", self.unassigned_rows)?;
        }
        Ok(())
    }
}

/// Minimum-cost assignment of maximum cardinality.
///
/// Among all matchings that use only feasible cells and have the largest
/// possible number of pairs, returns one of least total cost (`total`).
/// Negative costs are fine. Deterministic: see the module docs for ties.
pub fn solve(cost: &CostMatrix) -> Assignment {
    let row_to_col = shortest_augmenting_paths(cost);
    let assignment = Assignment::from_row_to_col(cost, row_to_col);
    assert!(assignment.len() <= cost.rows.min(cost.cols));
    assignment
}

/// Maximum-score assignment of maximum cardinality: [`solve`] on the negated
/// scores. `total` is the total *score* of the chosen pairs.
pub fn maximize(scores: &CostMatrix) -> Assignment {
    let row_to_col = shortest_augmenting_paths(&scores.negated());
    Assignment::from_row_to_col(scores, row_to_col)
}

/// Marks "no row" / "no column" in the solver's index arrays.
const NONE: usize = usize::MAX;

/// The solver proper: returns each row's column. See the module docs.
fn shortest_augmenting_paths(cost: &CostMatrix) -> Vec<Option<usize>> {
    let (n, m) = (cost.rows, cost.cols);
    let mut row_to_col = vec![NONE; n];
    let mut col_to_row = vec![NONE; m];
    let min_cost = cost
        .data
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f64::INFINITY, f64::min);
    if !min_cost.is_finite() {
        return vec![None; n]; // empty, or nothing feasible
    }
    // u + v = min_cost <= every feasible cell: dual-feasible; all free rows
    // share u, all free columns have v == 0.
    let mut u = vec![min_cost; n];
    let mut v = vec![0.0f64; m];
    // Rows with no feasible cell can never start (or lie on) a path: leave
    // them out so each phase does not rescan them.
    let mut free_rows: Vec<usize> = (0..n)
        .filter(|&r| cost.row(r).iter().any(|x| x.is_finite()))
        .collect();

    // Since free rows share u, the best first step into column c from any
    // free row is min over free rows of cost[r][c]: keep that minimum (and
    // its lowest-indexed row) per column instead of rescanning every free row
    // each phase. Only the columns whose minimum came from the row that just
    // got matched need a rescan.
    let mut free_min = vec![f64::INFINITY; m];
    let mut free_arg = vec![NONE; m];
    for c in 0..m {
        rescan_free_min(cost, &free_rows, c, &mut free_min, &mut free_arg);
    }

    // Per-phase buffers, reused.
    let mut min_dist = vec![f64::INFINITY; m]; // tentative distance to column
    let mut way = vec![NONE; m]; // row that reached the column
    let mut settled = vec![false; m];
    let mut settled_cols: Vec<(usize, f64)> = Vec::with_capacity(m);
    let mut tree_rows: Vec<(usize, f64)> = Vec::with_capacity(n.min(m));

    let max_phases = n.min(m);
    for phase in 0.. {
        if free_rows.is_empty() {
            break;
        }
        // Each phase but the last (which finds no path) adds one pair.
        assert!(phase <= max_phases, "more phases than min(rows, cols) + 1");
        min_dist.fill(f64::INFINITY);
        way.fill(NONE);
        settled.fill(false);
        settled_cols.clear();
        tree_rows.clear();

        // Every free row is a source at distance 0 (they share u).
        let u_free = u[free_rows[0]];
        for c in 0..m {
            min_dist[c] = free_min[c] - u_free - v[c];
            way[c] = free_arg[c];
        }
        // Dense Dijkstra over columns; a settled matched column leads, at no
        // extra cost (its matched cell is tight), to its row.
        // Each round settles one more column, so m + 1 rounds at most (the
        // last finds none); more means `settled` is not kept: fail fast.
        let mut rounds = 0usize;
        let end = loop {
            rounds += 1;
            assert!(rounds <= m + 1, "Dijkstra ran more than {m} + 1 rounds");
            let mut best = NONE;
            let mut best_dist = f64::INFINITY;
            for c in 0..m {
                if !settled[c] && min_dist[c] < best_dist {
                    best_dist = min_dist[c];
                    best = c;
                }
            }
            if best == NONE {
                break None; // no augmenting path from any free row
            }
            settled[best] = true;
            settled_cols.push((best, best_dist));
            let r = col_to_row[best];
            if r == NONE {
                break Some((best, best_dist));
            }
            tree_rows.push((r, best_dist));
            relax_from_row(
                cost.row(r),
                u[r],
                best_dist,
                r,
                &v,
                &settled,
                &mut min_dist,
                &mut way,
            );
        };
        let Some((end_col, d)) = end else {
            // Maximum cardinality reached: no free row can ever be augmented
            // later either, since the matching no longer changes.
            break;
        };

        // Potentials: raise settled nodes by (d - dist) so that reduced costs
        // stay non-negative and the path just found is tight. Unsettled nodes
        // keep theirs; the endpoint column has dist == d, so free columns keep
        // v == 0; every free row has dist 0, so they all rise by d together.
        for &r in &free_rows {
            u[r] += d;
        }
        for &(r, dist) in &tree_rows {
            u[r] += d - dist;
        }
        for &(c, dist) in &settled_cols {
            v[c] -= d - dist;
        }

        let start_row = augment(end_col, &way, &mut row_to_col, &mut col_to_row);
        let pos = free_rows.iter().position(|&r| r == start_row);
        assert!(pos.is_some(), "augmenting path must start at a free row");
        free_rows.remove(pos.unwrap_or(0));
        for c in 0..m {
            if free_arg[c] == start_row {
                rescan_free_min(cost, &free_rows, c, &mut free_min, &mut free_arg);
            }
        }
    }

    check_certificate(cost, &u, &v, &row_to_col, &col_to_row, &free_rows);
    row_to_col
        .into_iter()
        .map(|c| (c != NONE).then_some(c))
        .collect()
}

/// Flips the alternating path that ends at the free column `end_col` back
/// to its free start row (following `way`), and returns that row. Each
/// step visits a distinct column, so a walk longer than the number of
/// columns means `way` or the matching is corrupt (a cycle): it fails at
/// once instead of spinning forever.
fn augment(
    end_col: usize,
    way: &[usize],
    row_to_col: &mut [usize],
    col_to_row: &mut [usize],
) -> usize {
    let mut c = end_col;
    for _ in 0..col_to_row.len() {
        let r = way[c];
        assert!(r != NONE, "settled column without a predecessor");
        let prev = row_to_col[r];
        row_to_col[r] = c;
        col_to_row[c] = r;
        if prev == NONE {
            return r;
        }
        c = prev;
    }
    panic!(
        "augmenting walk exceeded {} steps: the path has a cycle",
        col_to_row.len()
    );
}

/// Recomputes the cheapest cell of column `c` over the free rows (lowest
/// row index on ties; infinite with no row if none is feasible).
fn rescan_free_min(
    cost: &CostMatrix,
    free_rows: &[usize],
    c: usize,
    free_min: &mut [f64],
    free_arg: &mut [usize],
) {
    let (mut best, mut arg) = (f64::INFINITY, NONE);
    for &r in free_rows {
        let x = cost.data[r * cost.cols + c];
        if x < best {
            best = x;
            arg = r;
        }
    }
    free_min[c] = best;
    free_arg[c] = arg;
}

/// Offers the cells of row `r` (reached at distance `dist`) to the unsettled
/// columns. Strict `<` keeps the earlier row on ties. Infeasible cells give an infinite slack and never win.
#[allow(clippy::too_many_arguments)]
#[inline]
fn relax_from_row(
    row: &[f64],
    u_r: f64,
    dist: f64,
    r: usize,
    v: &[f64],
    settled: &[bool],
    min_dist: &mut [f64],
    way: &mut [usize],
) {
    let base = dist - u_r;
    for c in 0..row.len() {
        let candidate = base + row[c] - v[c];
        if candidate < min_dist[c] && !settled[c] {
            min_dist[c] = candidate;
            way[c] = r;
        }
    }
}

/// Asserts the optimality certificate, up to rounding: dual feasibility on
/// every feasible cell, tight matched cells, free columns at `v == 0`, and
/// free rows sharing one `u`. Linear in the matrix size, so it stays on.
fn check_certificate(
    cost: &CostMatrix,
    u: &[f64],
    v: &[f64],
    row_to_col: &[usize],
    col_to_row: &[usize],
    free_rows: &[usize],
) {
    let tol = 1e-9 * (1.0 + cost.scale()) * (1 + cost.rows + cost.cols) as f64;
    for r in 0..cost.rows {
        for (c, &x) in cost.row(r).iter().enumerate() {
            if !x.is_finite() {
                continue;
            }
            let slack = x - u[r] - v[c];
            assert!(slack >= -tol, "negative reduced cost {slack} at ({r}, {c})");
            if row_to_col[r] == c {
                assert!(slack <= tol, "matched cell ({r}, {c}) not tight: {slack}");
                assert_eq!(col_to_row[c], r, "row/column maps disagree");
            }
        }
    }
    for c in 0..cost.cols {
        if col_to_row[c] == NONE {
            assert!(v[c] == 0.0, "free column {c} has potential {}", v[c]);
        }
    }
    if let Some(&first) = free_rows.first() {
        assert!(
            free_rows.iter().all(|&r| u[r] == u[first]),
            "free rows disagree on u"
        );
    }
}

#[cfg(test)]
mod tests;
