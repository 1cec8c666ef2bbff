"""Expected failures of scikit-learn's estimator checks, shared by the test modules."""


def cv_weight_checks(estimator):
    """Checks expected to fail: integer weights are the rows repeated only on folds that
    keep a row's copies together (tests/test_sample_weight.py), and the check's KFold
    splits the repeated rows differently (as for scikit-learn's own CV estimators)."""
    reason = "the folds of the repeated rows differ from those of the weighted rows"
    return {"check_sample_weight_equivalence_on_dense_data": reason,
            "check_sample_weight_equivalence_on_sparse_data": reason}
