//! Hungarian solver tests: hand-checked cases first, then properties
//! against brute force on small rectangular matrices.

use super::*;
use crate::collab::assign::greedy;
use proptest::prelude::*;

const INF: f64 = f64::INFINITY;

fn m<R: AsRef<[f64]>>(rows: &[R]) -> CostMatrix {
    CostMatrix::from_rows(rows).unwrap()
}

/// Solves and checks the assignment is self-consistent before returning it.
fn check(cost: &CostMatrix) -> Assignment {
    let a = solve(cost);
    for (r, c) in a.pairs() {
        assert_eq!(a.col_to_row[c], Some(r));
        assert!(cost.get(r, c).is_some(), "infeasible ({r}, {c}) chosen");
    }
    assert_eq!(a.unassigned_rows.len() + a.len(), cost.rows());
    assert_eq!(a.unassigned_cols.len() + a.len(), cost.cols());
    a
}

/// The textbook 3x3 case: optimum 5 (1 + 2 + 2) on the anti-diagonal-ish
/// permutation, found uniquely.
#[test]
fn square_matrix_finds_unique_optimum() {
    let a = check(&m(&[[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]));
    assert_eq!(a.row_to_col, vec![Some(1), Some(0), Some(2)]);
    assert_eq!(a.total, 5.0);
    assert!(a.unassigned_rows.is_empty() && a.unassigned_cols.is_empty());
}

/// Wide (more agents than tasks): every row is assigned, the surplus column
/// is reported.
#[test]
fn wide_matrix_assigns_every_row() {
    let a = check(&m(&[[4.0, 1.0, 2.5], [2.0, 0.0, 5.0]]));
    assert_eq!(a.row_to_col, vec![Some(2), Some(1)]);
    assert_eq!(a.total, 2.5);
    assert_eq!(a.unassigned_cols, vec![0]);
}

/// Tall (more tasks than agents): every column is used, the costliest rows
/// to serve are left out.
#[test]
fn tall_matrix_assigns_every_column() {
    let a = check(&m(&[[1.0, 9.0], [9.0, 1.0], [5.0, 5.0]]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1), None]);
    assert_eq!(a.total, 2.0);
    assert_eq!(a.unassigned_rows, vec![2]);
}

/// A row with no feasible agent stays unassigned; the rest still get their
/// optimum.
#[test]
fn all_infeasible_row_is_reported() {
    let cost = m(&[[1.0, 2.0], [INF, INF], [3.0, 1.0]]);
    assert_eq!(cost.infeasible_rows(), vec![1]);
    let a = check(&cost);
    assert_eq!(a.row_to_col, vec![Some(0), None, Some(1)]);
    assert_eq!(a.total, 2.0);
    assert_eq!(a.unassigned_rows, vec![1]);
}

/// Infeasible cells are avoided even when that costs more.
#[test]
fn infeasible_cells_are_never_chosen() {
    let a = check(&m(&[[INF, 100.0], [1.0, INF]]));
    assert_eq!(a.row_to_col, vec![Some(1), Some(0)]);
    assert_eq!(a.total, 101.0);
}

/// Two rows compete for the one feasible column: the cheaper row wins, even
/// though the costlier one comes first. (Solving row by row and skipping
/// rows that cannot be augmented would give row 0 the column, at cost 10.)
#[test]
fn competition_for_a_column_goes_to_the_cheaper_row() {
    let a = check(&m(&[[10.0, INF], [1.0, INF]]));
    assert_eq!(a.row_to_col, vec![None, Some(0)]);
    assert_eq!(a.total, 1.0);
    assert_eq!(a.unassigned_rows, vec![0]);
    assert_eq!(a.unassigned_cols, vec![1]);
}

/// Cardinality comes first: a cheap pair that would block a second pair is
/// not taken.
#[test]
fn maximum_cardinality_beats_lower_cost() {
    let a = check(&m(&[[0.0, 50.0], [1.0, INF]]));
    assert_eq!(a.row_to_col, vec![Some(1), Some(0)]);
    assert_eq!(a.total, 51.0);
}

/// Equal costs everywhere: ties go to the lowest indices, so the square
/// case is the diagonal and the wide case uses the first columns.
#[test]
fn ties_break_towards_lowest_index() {
    let a = check(&m(&[[7.0; 4]; 4]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1), Some(2), Some(3)]);
    let a = check(&m(&[[7.0; 5]; 3]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1), Some(2)]);
    let a = check(&m(&[[7.0; 2]; 4]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1), None, None]);
}

/// Negative costs (and a mix of signs) are minimised like any others.
#[test]
fn negative_costs() {
    let a = check(&m(&[[-5.0, -1.0], [-3.0, -4.0]]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1)]);
    assert_eq!(a.total, -9.0);
    let a = check(&m(&[[-2.0, 3.0, 0.0], [4.0, -1.0, -6.0]]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(2)]);
    assert_eq!(a.total, -8.0);
}

/// `maximize` picks the largest total score and reports it as a score.
#[test]
fn maximize_prefers_high_scores() {
    let scores = m(&[[0.9, 0.1], [0.8, 0.7]]);
    let a = maximize(&scores);
    assert_eq!(a.row_to_col, vec![Some(0), Some(1)]);
    assert!((a.total - 1.6).abs() < 1e-12);
    let a = maximize(&m(&[[0.9, INF], [0.8, 0.1]]));
    assert_eq!(a.row_to_col, vec![Some(0), Some(1)]);
}

/// Empty shapes and all-infeasible matrices give empty assignments.
#[test]
fn empty_and_all_infeasible_matrices() {
    for (r, c) in [(0, 0), (0, 3), (3, 0)] {
        let a = check(&CostMatrix::new(r, c, vec![]).unwrap());
        assert!(a.is_empty());
        assert_eq!(a.total, 0.0);
    }
    let a = check(&m(&[[INF, INF], [INF, INF]]));
    assert!(a.is_empty());
    assert_eq!(a.unassigned_rows, vec![0, 1]);
}

/// The constructors reject what the solver must never see, with errors that
/// say where and what to do instead.
#[test]
fn constructors_reject_bad_input() {
    assert!(matches!(
        CostMatrix::new(2, 2, vec![1.0; 3]),
        Err(CostMatrixError::Shape { len: 3, .. })
    ));
    assert!(matches!(
        CostMatrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]),
        Err(CostMatrixError::Ragged {
            row: 1,
            len: 1,
            cols: 2
        })
    ));
    for bad in [f64::NAN, f64::NEG_INFINITY, 1e300] {
        let e = CostMatrix::from_rows(&[[0.0, 0.0], [0.0, bad]]).unwrap_err();
        assert!(
            matches!(e, CostMatrixError::BadCell { row: 1, col: 1, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("f64::INFINITY"));
    }
    let ok = CostMatrix::from_fn(2, 3, |r, c| (r != c).then_some((r * 3 + c) as f64)).unwrap();
    assert_eq!(ok.get(0, 0), None);
    assert_eq!(ok.get(1, 2), Some(5.0));
}

// ---------------------------------------------------------------- properties

/// Best (cardinality, cost) over every partial matching, preferring more
/// pairs, then less cost.
fn brute_force(cost: &CostMatrix) -> (usize, f64) {
    fn go(
        cost: &CostMatrix,
        r: usize,
        used: &mut Vec<bool>,
        k: usize,
        sum: f64,
        best: &mut (usize, f64),
    ) {
        if r == cost.rows() {
            if k > best.0 || (k == best.0 && sum < best.1) {
                *best = (k, sum);
            }
            return;
        }
        go(cost, r + 1, used, k, sum, best); // row r unassigned
        for c in 0..cost.cols() {
            if let (false, Some(x)) = (used[c], cost.get(r, c)) {
                used[c] = true;
                go(cost, r + 1, used, k + 1, sum + x, best);
                used[c] = false;
            }
        }
    }
    let mut best = (0, 0.0);
    go(cost, 0, &mut vec![false; cost.cols()], 0, 0.0, &mut best);
    best
}

/// Up to 6x6, any shape, about 30% infeasible cells, values from `cell`.
fn small_matrix(
    cell: impl Strategy<Value = f64> + Clone + 'static,
) -> impl Strategy<Value = CostMatrix> {
    (0usize..=6, 0usize..=6).prop_flat_map(move |(r, c)| {
        prop::collection::vec(prop::option::weighted(0.7, cell.clone()), r * c)
            .prop_map(move |cells| CostMatrix::from_fn(r, c, |i, j| cells[i * c + j]).unwrap())
    })
}

fn transpose(cost: &CostMatrix) -> CostMatrix {
    CostMatrix::from_fn(cost.cols(), cost.rows(), |i, j| cost.get(j, i)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Integer costs (exact in f64): the solver matches brute force exactly
    /// on cardinality and total, and only uses feasible cells.
    #[test]
    fn matches_brute_force_on_integer_costs(cost in small_matrix((-10i32..=10).prop_map(f64::from))) {
        let a = check(&cost);
        let (k, best) = brute_force(&cost);
        prop_assert_eq!(a.len(), k, "{}", a);
        prop_assert_eq!(a.total, best, "{}", a);
    }

    /// Fractional costs of mixed sign: totals agree up to rounding.
    #[test]
    fn matches_brute_force_on_fractional_costs(cost in small_matrix(-1000.0f64..1000.0)) {
        let a = check(&cost);
        let (k, best) = brute_force(&cost);
        prop_assert_eq!(a.len(), k);
        prop_assert!((a.total - best).abs() <= 1e-9 * (1.0 + best.abs()), "{} vs {}", a.total, best);
    }

    /// Tasks x agents or agents x tasks: the same optimum either way.
    #[test]
    fn transposing_keeps_the_optimum(cost in small_matrix((-10i32..=10).prop_map(f64::from))) {
        let a = check(&cost);
        let t = check(&transpose(&cost));
        prop_assert_eq!(a.len(), t.len());
        prop_assert_eq!(a.total, t.total);
    }

    /// Greedy never beats Hungarian: it has fewer pairs, or as many at no
    /// lower cost. Both are deterministic.
    #[test]
    fn greedy_is_never_better(cost in small_matrix((-10i32..=10).prop_map(f64::from))) {
        let h = check(&cost);
        let g = greedy(&cost);
        prop_assert!(g.len() <= h.len());
        if g.len() == h.len() {
            prop_assert!(g.total >= h.total, "greedy {} < hungarian {}", g, h);
        }
        prop_assert_eq!(solve(&cost), h);
        prop_assert_eq!(greedy(&cost), g);
    }
}

/// A larger deterministic instance (60x90, 20% infeasible) runs to completion
/// with its certificate assertions, and `maximize` on negated costs agrees.
#[test]
fn larger_random_instance_is_consistent() {
    let mut rng = crate::rng::SimRng::derive(7, "hungarian-test");
    let cost = CostMatrix::from_fn(60, 90, |_, _| {
        (!rng.chance(0.2)).then(|| rng.unit() * 100.0)
    })
    .unwrap();
    let a = check(&cost);
    assert_eq!(a.len(), 60);
    let b = maximize(&cost.negated());
    assert_eq!(a.row_to_col, b.row_to_col);
    assert!((a.total + b.total).abs() < 1e-9);
}

/// The augmenting walk is bounded: a corrupt predecessor map that makes the
/// path cycle (column 0 reached from row 0, which is matched to column 1,
/// reached from row 1, matched to column 0) panics after as many steps as
/// there are columns instead of looping forever.
#[test]
#[should_panic(expected = "augmenting walk exceeded 2 steps")]
fn augmenting_walk_with_a_cycle_fails_fast() {
    let way = [0, 1];
    let mut row_to_col = [1, 0];
    let mut col_to_row = [1, 0];
    super::augment(0, &way, &mut row_to_col, &mut col_to_row);
}

/// The walk flips a real alternating path: free row 1 takes column 0 from
/// row 0, which moves to the free column 1.
#[test]
fn augmenting_walk_flips_an_alternating_path() {
    // Row 0 holds column 0; row 1 is free. The path ends at free column 1,
    // reached from row 0, whose column 0 was reached from row 1.
    let way = [1, 0];
    let mut row_to_col = [0, super::NONE];
    let mut col_to_row = [0, super::NONE];
    let start = super::augment(1, &way, &mut row_to_col, &mut col_to_row);
    assert_eq!(start, 1);
    assert_eq!(row_to_col, [1, 0]);
    assert_eq!(col_to_row, [1, 0]);
}
