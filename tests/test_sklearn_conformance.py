"""scikit-learn's own estimator checks, run over :class:`Hercules` on numeric input.

Every check must pass except the ones listed with the reason they do not fit a hierarchy.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import check_estimator

from hercules import Hercules

NOT_APPLICABLE = {
    # k-means runs once per level with its own iteration count; there is no single n_iter_.
    "check_non_transformer_estimators_n_iter",
    # Array API dispatch (CuPy, torch tensors) is not supported; sklearn only runs this check when
    # SCIPY_ARRAY_API=1, and reports it as skipped otherwise.
    "check_array_api_input",
}


def test_sklearn_estimator_checks_pass():
    results = check_estimator(Hercules([4, 2], embedder="hashing:64", progress=False, cache=False), on_fail=None)
    names = {r["check_name"] for r in results}
    assert len(names) > 40  # the battery really ran
    failed = [
        f"{r['check_name']}: {r['exception']}"
        for r in results
        if r["status"] != "passed" and r["check_name"] not in NOT_APPLICABLE
    ]
    assert not failed, "\n".join(failed)
