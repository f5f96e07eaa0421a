"""Coarse levels: the UMAP space (default) against the opt-in Ward of the nodes' level-0 means
(``HERCULES_COARSE_WARD=3``, ``pipeline/coarse.py``) at level 3, on sets with truth there.

HWU64 scenarios is in ``bench_quality.py`` (``--sets hwu64``); this adds level 3 of digits [60, 25, 10],
Banking77 [300, 150, 77] and HWU64 [256, 128, 64], 3 seeds each, from the cached vectors.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/bench_coarse.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, write  # noqa: E402
from vectors import load_set  # noqa: E402

CASES = [("digits", [60, 25, 10], "digit"), ("banking77_test", [300, 150, 77], "intent"), ("hwu64", [256, 128, 64], "intent")]


def main() -> None:
    from hercules import Hercules

    rows, table = [], "| set | levels | truth | level 3 by | ARI | NMI |\n|---|---|---|---|---|---|\n"
    for name, levels, col in CASES:
        X, truth = load_set(name)
        for mode, env in (("UMAP space (default)", ""), ("Ward of level-0 means", "3")):
            os.environ["HERCULES_COARSE_WARD"] = env
            scores = []
            for seed in range(3):
                m = Hercules(levels, random_state=seed, progress=False, space="auto").fit(embeddings=X)
                lab = np.asarray(m.membership()[f"L{len(levels)}_cluster_id"])
                scores.append((adjusted_rand_score(truth[col], lab), normalized_mutual_info_score(truth[col], lab)))
            a = np.array(scores)
            rows.append({"set": name, "levels": levels, "mode": mode, "ari": a[:, 0].tolist(), "nmi": a[:, 1].tolist()})
            table += (
                f"| {name} | {levels} | {col} | {mode} | {a[:, 0].mean():.3f} ± {a[:, 0].std():.3f} | {a[:, 1].mean():.3f} |\n"
            )
            print(table.splitlines()[-1], flush=True)
    os.environ.pop("HERCULES_COARSE_WARD", None)
    write("coarse_level3", {"machine": machine(), "rows": rows}, table)


if __name__ == "__main__":
    main()
