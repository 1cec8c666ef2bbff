"""Expected failures of scikit-learn's estimator checks, shared by the test modules."""

#: the checks of integer weights against repeated rows
WEIGHT_EQUIVALENCE_CHECKS = ("check_sample_weight_equivalence_on_dense_data",
                             "check_sample_weight_equivalence_on_sparse_data")


def cv_weight_checks(estimator):
    """Checks expected to fail: with ``cv`` set to splits that keep a row's copies
    together, they ask the fits on weighted and on repeated rows for the same predictions
    to rtol 1e-7; the two searches take different paths and stop within their tolerance
    (1e-3 of the criterion), at points whose predictions differ by about 1e-5 on the
    check's data. tests/test_sample_weight.py tests the equivalence where it is exact: the
    fits at fixed hyperparameters and the criterion."""
    reason = ("the searches on weighted and on repeated rows stop within their tolerance, "
              "at points further apart than the check's rtol 1e-7")
    return dict.fromkeys(WEIGHT_EQUIVALENCE_CHECKS, reason)


def smooth_search_weight_checks(estimator):
    """:func:`cv_weight_checks` for a search whose folds are solved to a tolerance (pure L2
    penalty); with an L1 part the fold solutions end in a direct solve on their support,
    exact on weighted and on repeated rows alike, and the checks must pass."""
    return cv_weight_checks(estimator) if estimator.penalty == "l2" else {}


def check_name(check):
    """The name of a check as ``parametrize_with_checks`` passes it (a partial)."""
    return getattr(check, "func", check).__name__
