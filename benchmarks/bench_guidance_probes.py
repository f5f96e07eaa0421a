"""Probes of issue 16's open goals (ClusterLLM guidance): variants of stage 1 and stage 2 measured against the default,
90% label judge, on cached MiniLM vectors (bench_guidance.vectors), default clustering space (UMAP 5-d), level NMI.
Each row is printed as one JSON line; none of these variants is the default (see benchmarks/out/guidance_probes.md).

    python benchmarks/bench_guidance_probes.py stage1 banking77,hwu64 none,r2,r1,r4,near,near!,aug 0,1,2
        r1/r2/r4: rounds of entropy selection (r2 = the default: the second round on the adapted space); near: the
        candidates are the anchor's nearest member of each of its two closest clusters (``!``: applied even where the
        held-out test refuses it); medoid: the member closest to each cluster's centroid; aug: each answer (a, closer, farther) also trains as (closer, a, farther)
    python benchmarks/bench_guidance_probes.py pck banking77 0,1,2
        the answers as must-link (anchor, closer) / cannot-link (anchor, farther) in the level-1 k-means of the space:
        PCKMeans-style assignment (penalty w per violated constraint, in units of the median item-centroid distance)
    python benchmarks/bench_guidance_probes.py iter banking77,hwu64 0
        ClusterLLM-I-iter: 512 triplets, MiniLM fine-tuned, 512 more selected on the tuned (+ adapter) space, the base
        model fine-tuned on all answers, the adapter on top (the default instead selects both rounds on the adapter)
    python benchmarks/bench_guidance_probes.py tune banking77,hwu64 batch:2e-5:1 0,1,2
        the default pipeline from the texts (MiniLM fine-tuned, then the adapter) with another fine-tune:
        NEGATIVES:LR:EPOCHS[!] (negatives "triplet" = the default loss, "batch" = ClusterLLM's in-batch softmax; "!": the
        held-out test disabled, the answers always applied)
    python benchmarks/bench_guidance_probes.py heldout banking77 triplet:2e-5:1,batch:2e-5:1,triplet:1e-4:1 0
        how much of the judge reaches held-out anchors: one round of 1,024 entropy triplets, MiniLM fine-tuned
        (NEGATIVES:LR:EPOCHS) on 2/3 of the answers, agreement of the tuned vectors (and of the adapter on them, l2 0.01)
        with the judge's and with the true answers on the other third; "base" = the untuned vectors
    python benchmarks/bench_guidance_probes.py guard hwu64,banking77 0,1,2 0.1,0.3 1,8
        the guard's held-out test (stage 1's answers, 1,024 triplets) by judge noise and by the number of random 3-fold
        splits it averages (REPEATS): held-out agreement of the adapter vs the raw vectors and the paired z (accepted
        above 1.645)
    python benchmarks/bench_guidance_probes.py bias
        position bias of the embedded 1.5B judge (local): Banking77's 64 control triplets asked in each candidate order
        (one order per question each time): accuracy per order, share of "first" answers, self-agreement, and accuracy
        where the two orders agree
    python benchmarks/bench_guidance_probes.py links banking77,hwu64 0,1,2,3,4,5,6,7 0.1 none,adapter,links,both
        stage 1's answers (1,024 triplets, judge noise NOISE) written into the UMAP space's neighbour graph (anchor
        joined to the closer item, cut from the farther: the default since session 12) with and without the adapter,
        flat k-means at each level's true k in the space. The control questions are taken as passed (a judge right on
        easy questions), so NOISE 0.5 is the hard case: a judge that guesses on the hard triplets
    python benchmarks/bench_guidance_probes.py consistency banking77,hwu64 0,1,2,3,4,5,6,7 0.1,0.3,0.5
        the guard's second test on stage 1's answers (1,024 triplets, the control test taken as passed, NOISE the
        judge's error on the hard questions): the guard's two halves on the same answers, the answers' consistency
        between nearby anchors (hercules.guidance.consistency) and the adapter's held-out z, at 5% (the guard until
        session 12) and 1% (since), and the guard's verdict (either passes)
    python benchmarks/bench_guidance_probes.py select hwu64,banking77 0,1,2,3 entropy,margin,both,entropy+margin
        how stage 1's rounds pick anchors (per round, joined by "+"; "both": the margin and entropy rankings in turn):
        the answers as the default uses them (adapter, the probe's held-out test at 5%, and links), flat k-means at each
        level's true k in the space; the default since session 13 is margin (GuideConfig.select)
    python benchmarks/bench_guidance_probes.py k p1024t1,p4096t1,p1024t4,avg-cos,avg-euc
        stage 2 alone (5 seeds): pPAIRStTREES = budget and number of Ward trees (median k); avg-*: average linkage
"""

from __future__ import annotations

import json
import sys
import time
from functools import partial

import numpy as np
from bench_guidance import SETS, vectors
from sklearn.metrics import normalized_mutual_info_score as nmi

from hercules import Hercules
from hercules.clustering.auto_k import AutoKConfig, candidate_ks
from hercules.clustering.kmeans import kmeans
from hercules.guidance import pairs as pairs_mod
from hercules.guidance.adapter import apply_adapter, choose_l2, fit_adapter
from hercules.guidance.judge import LabelJudge
from hercules.guidance.select import border_triplets, oriented, soft_assign
from hercules.guidance.stage import Z_ONE_SIDED, Guide, GuideConfig, heldout_z
from hercules.space import make_space

NOISE = 0.1


def medoid_triplets(sa, n, rng, exclude):
    """The entropy anchors, each against the member closest to the centroid of each of its two nearest clusters."""
    from hercules.guidance.select import Triplets, _central_members, _shuffle

    order = np.argsort(-sa.entropy, kind="stable")
    anchors = order[~np.isin(order, exclude)][:n]
    pools = _central_members(sa, int(sa.nearest.max()) + 1)
    first = np.array([p[0] for p in pools])
    second = np.array([p[1] if len(p) > 1 else p[0] for p in pools])

    def medoid(j):
        return np.where(first[j] == anchors, second[j], first[j])

    questions, swap = _shuffle(anchors, medoid(sa.nearest[anchors, 0]), medoid(sa.nearest[anchors, 1]), rng)
    return Triplets(questions, swap.astype(np.int8))


def stage1(X, judge, k, seed, cand="central", augment=False, budget=1024, rounds=2, force=False, select=None):
    """Guide.perspective with the variant's options; returns (W or None, info, oriented answers)."""
    g = Guide(judge, GuideConfig(random_state=seed))
    if not g.check_judge(X):
        return None, {}, None
    rng = g.rng
    T, asked, W, l2 = np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.int64), None, 0.01
    for r in range(rounds):
        Xa = apply_adapter(X, W)
        sa = soft_assign(Xa, k, rng)
        if cand == "medoid":
            tr = medoid_triplets(sa, budget // rounds, rng, asked)
        else:
            by = (select or GuideConfig.select)[min(r, len(select or GuideConfig.select) - 1)]
            tr = border_triplets(sa, budget // rounds, rng, exclude=asked, X=Xa if cand == "nearest" else None, by=by)
        answers = judge.triplets(tr.questions)
        asked = np.concatenate([asked, tr.questions[:, 0]])
        T = np.concatenate([T, oriented(tr.questions, answers)])
        Tt = np.concatenate([T, T[:, [1, 0, 2]]]) if augment else T
        if r == rounds - 1:
            l2, held, base = choose_l2(X, Tt, rng)
        W = fit_adapter(X, Tt, l2=l2).W
    applied = heldout_z(held, base) > Z_ONE_SIDED or force
    info = {"answered": len(T), "l2": l2, "held": round(float(held.mean()), 3), "base": round(float(base.mean()), 3)}
    return (W if applied else None), info | {"applied": applied}, T


def nmi_row(df, cols, labels_by_level) -> dict:
    return {col: round(nmi(df[col], labels_by_level(t)), 4) for t, col in enumerate(cols, start=1)}


def part_stage1(sets: list[str], variants: list[str], seeds: list[int]) -> None:
    for name in sets:
        df, X = vectors(name)
        _, cols, levels = SETS[name]
        for seed in seeds:
            for v in variants:
                t0, W, info = time.perf_counter(), None, {}
                if v != "none":
                    judge = LabelJudge(df[cols[0]].to_numpy(), noise=NOISE, seed=seed)
                    rounds = int(v[1]) if v.startswith("r") else 2
                    cand = "nearest" if "near" in v else "medoid" if "medoid" in v else "central"
                    kw = dict(cand=cand, augment="aug" in v, force=v.endswith("!"))
                    W, info, _ = stage1(X, judge, levels[0], seed, rounds=rounds, **kw)
                m = Hercules(levels, random_state=seed, progress=False, layout="pca").fit(df, embeddings=apply_adapter(X, W))
                row = {"set": name, "variant": v, "seed": seed, **info, **nmi_row(df, cols, m.hierarchy_.item_labels)}
                print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def pck(Y, labels, C, ml, cl, w, iters=10):
    """PCKMeans-style ICM over the constrained items: |y - mu_c|^2 / s + w * (violated must-/cannot-links)."""
    k, labels = len(C), labels.copy()
    items = np.unique(np.concatenate([ml.ravel(), cl.ravel()]))
    for _ in range(iters):
        D = ((Y[:, None, :] - C[None]) ** 2).sum(-1)
        s, changed = np.median(D[np.arange(len(Y)), labels]), 0
        for i in items:
            cost = D[i] / s
            for links, sign in ((ml, 1), (cl, -1)):
                for a, b in links[(links[:, 0] == i) | (links[:, 1] == i)]:
                    same = np.arange(k) == labels[b if a == i else a]
                    cost = cost + w * (~same if sign > 0 else same)
            c = int(np.argmin(cost))
            changed += c != labels[i]
            labels[i] = c
        C = np.stack([Y[labels == c].mean(0) if (labels == c).any() else C[c] for c in range(k)])
        if not changed:
            break
    return labels


def part_pck(sets: list[str], seeds: list[int]) -> None:
    for name in sets:
        df, X = vectors(name)
        _, cols, levels = SETS[name]
        for seed in seeds:
            W, info, T = stage1(X, LabelJudge(df[cols[0]].to_numpy(), noise=NOISE, seed=seed), levels[0], seed)
            Y = make_space("auto", len(X)).fit_transform(apply_adapter(X, W), seed)
            km = kmeans(Y, levels[0], random_state=seed)  # = the fit's level 1 (same space, k and seed)
            row = {"set": name, "seed": seed, "kmeans": round(nmi(df[cols[0]], km.labels), 4)}
            for w in (0.5, 2.0, 100.0):
                row[f"pck_w{w}"] = round(nmi(df[cols[0]], pck(Y, km.labels, km.centroids, T[:, [0, 1]], T[:, [0, 2]], w)), 4)
            print(json.dumps(row), flush=True)


def part_iter(sets: list[str], seeds: list[int]) -> None:
    from hercules.embeddings import get_embedder
    from hercules.guidance.finetune import finetune, tuned_embedder

    for name in sets:
        df, X = vectors(name)
        _, cols, levels = SETS[name]
        texts, t0 = df.text.tolist(), time.perf_counter()
        for seed in seeds:
            judge = LabelJudge(df[cols[0]].to_numpy(), noise=NOISE, seed=seed)
            base = get_embedder("minilm", progress=False)
            g = Guide(judge, GuideConfig(random_state=seed, triplets=512, rounds=1))
            if g.perspective(X, levels[0]) is None:
                print(json.dumps({"set": name, "seed": seed, "refused": g.report}, default=str), flush=True)
                continue
            T, rng = g.answers, g.rng
            X1 = tuned_embedder(finetune(base, texts, T, seed, progress=False), base, progress=False).embed(texts)
            X1 = apply_adapter(X1, fit_adapter(X1, T, l2=g.report["triplets"]["l2"]).W)
            tr = border_triplets(soft_assign(X1, levels[0], rng), 512, rng, exclude=T[:, 0])
            T = np.concatenate([T, oriented(tr.questions, judge.triplets(tr.questions))])
            X2 = tuned_embedder(finetune(base, texts, T, seed, progress=False), base, progress=False).embed(texts)
            l2, held, b = choose_l2(X2, T, rng)
            m = Hercules(levels, random_state=seed, progress=False, layout="pca")
            m.fit(df, embeddings=apply_adapter(X2, fit_adapter(X2, T, l2=l2).W))
            row = {"set": name, "seed": seed, "answered": len(T), "l2": l2, "held": round(float(held.mean()), 3)}
            row |= {"base": round(float(b.mean()), 3), **nmi_row(df, cols, m.hierarchy_.item_labels)}
            print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def average_merges(centroids, sizes, k_lo, metric="cos"):
    """Size-weighted average linkage (UPGMA) of the fine clusters, cosine or squared Euclidean between centroids."""
    C = centroids.astype(np.float64)
    if metric == "cos":
        U = C / np.linalg.norm(C, axis=1, keepdims=True)
        D = 1 - U @ U.T
    else:
        sq = (C * C).sum(1)
        D = np.maximum(sq[:, None] - 2 * C @ C.T + sq[None, :], 0)
    n, k = sizes.astype(np.float64).copy(), len(C)
    np.fill_diagonal(D, np.inf)
    alive, merges = np.ones(k, bool), []
    for _ in range(k - k_lo):
        i, j = divmod(int(np.argmin(D)), k)
        merges.append((i, j))
        row = (n[i] * D[i] + n[j] * D[j]) / (n[i] + n[j])
        n[i] += n[j]
        alive[j] = False
        row[~alive] = np.inf
        row[i] = np.inf
        D[i, :] = D[:, i] = row
        D[j, :] = D[:, j] = np.inf
    return merges


def part_k(variants: list[str]) -> None:
    levels = [("banking77", "category", 77), ("hwu64", "intent", 64), ("hwu64", "scenario", 18)]
    ward = pairs_mod.ward_merges
    for v in variants:
        pairs, trees = (1024, 1) if v.startswith("avg") else (int(v[1:].split("t")[0]), int(v.split("t")[1]))
        linkage = partial(average_merges, metric=v[4:]) if v.startswith("avg") else ward
        pairs_mod.ward_merges = linkage
        for name, col, truth in levels:
            df, X = vectors(name)
            hi = max(candidate_ks(len(X), AutoKConfig()))
            ks = []
            for seed in range(5):
                judge, rng = LabelJudge(df[col].to_numpy(), noise=NOISE, seed=seed), np.random.default_rng(seed)
                got = [
                    pairs_mod.choose_k_by_pairs(X, judge.pairs, None, None, (2, hi), pairs // trees, rng).k for _ in range(trees)
                ]
                got = [k for k in got if k is not None]
                ks.append(int(np.median(got)) if got else None)
            ok = sum(k is not None and abs(k - truth) <= 0.2 * truth for k in ks)
            print(json.dumps({"variant": v, "level": col, "truth": truth, "ks": ks, "within": f"{ok}/5"}), flush=True)
    pairs_mod.ward_merges = ward


def part_tune(sets: list[str], variant: str, seeds: list[int]) -> None:
    import dataclasses

    import bench_guidance

    from hercules.guidance import finetune as ft
    from hercules.guidance import stage

    force = variant.endswith("!")  # "!": the held-out test accepts every answer set (what a refusal saved)
    negatives, lr, epochs = variant.rstrip("!").split(":")
    z, stage.Z_ONE_SIDED = stage.Z_ONE_SIDED, (-np.inf if force else stage.Z_ONE_SIDED)
    default = ft.TuneConfig
    ft.TuneConfig = dataclasses.make_dataclass(  # the variant's settings as the defaults the pipeline uses
        "TuneConfig",
        [("negatives", str, negatives), ("lr", float, float(lr)), ("epochs", int, int(epochs))],
        bases=(default,),
        frozen=True,
    )
    try:
        for name in sets:
            col = SETS[name][1][0]
            for seed in seeds:
                row, _ = bench_guidance.fit(name, f"labels:{col}:{NOISE}", seed=seed, texts=True)
                print(json.dumps({"variant": variant} | row), flush=True)
    finally:
        ft.TuneConfig, stage.Z_ONE_SIDED = default, z


def part_heldout(name: str, variants: list[str], seed: int) -> None:
    from hercules.embeddings import get_embedder
    from hercules.guidance.adapter import hits
    from hercules.guidance.finetune import TuneConfig, finetune, tuned_embedder

    df, X = vectors(name)
    col, k = SETS[name][1][0], SETS[name][2][0]
    texts, truth_codes = df.text.tolist(), LabelJudge(df[col].to_numpy()).codes
    judge, rng = LabelJudge(df[col].to_numpy(), noise=NOISE, seed=seed), np.random.default_rng(seed)
    tr = border_triplets(soft_assign(X, k, rng), 1024, rng)
    T = oriented(tr.questions, judge.triplets(tr.questions))
    right = truth_codes[T[:, 0]] == truth_codes[T[:, 1]]  # is the judge's answer the true one
    test = rng.permutation(len(T)) % 3 == 0
    items = np.unique(T)
    local = np.searchsorted(items, T)  # rows of T into items

    def report(variant: str, Y: np.ndarray, t0: float) -> None:
        W = fit_adapter(Y, local[~test], l2=0.01).W
        row = {"set": name, "seed": seed, "variant": variant, "answered": len(T), "judge_right": round(float(right.mean()), 3)}
        for tag, h in (("", hits(Y, local[test])), ("+adapter_", hits(Y, local[test], W))):
            row |= {f"{tag}judge": round(float(h.mean()), 3), f"{tag}truth": round(float(np.where(right[test], h, ~h).mean()), 3)}
        print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)

    base = get_embedder("minilm", progress=False)
    report("base", X[items], time.perf_counter())
    for v in variants:
        t0 = time.perf_counter()
        negatives, lr, epochs = v.split(":")
        tuned = finetune(
            base, texts, T[~test], seed, TuneConfig(negatives=negatives, lr=float(lr), epochs=int(epochs)), progress=False
        )
        report(v, tuned_embedder(tuned, base, progress=False).embed([texts[i] for i in items]), t0)


def part_guard(sets: list[str], seeds: list[int], noises: list[float], repeats: list[int]) -> None:
    for name in sets:
        df, X = vectors(name)
        col, k = SETS[name][1][0], SETS[name][2][0]
        truth = LabelJudge(df[col].to_numpy()).codes
        for noise in noises:
            for seed in seeds:
                g = Guide(LabelJudge(df[col].to_numpy(), noise=noise, seed=seed), GuideConfig(random_state=seed))
                g.perspective(X, k)
                if g.answers is None:  # refused by the control questions
                    print(json.dumps({"set": name, "noise": noise, "seed": seed, "control": g.report.get("control")}))
                    continue
                T = g.answers
                for r in repeats:
                    t0 = time.perf_counter()
                    l2, held, base = choose_l2(X, T, np.random.default_rng(seed + 100), repeats=r)
                    z = heldout_z(held, base)
                    row = {"set": name, "noise": noise, "seed": seed, "repeats": r, "answered": len(T), "l2": l2}
                    row |= {"judge_right": round(float((truth[T[:, 0]] == truth[T[:, 1]]).mean()), 3)}
                    row |= {"held": round(float(held.mean()), 3), "raw": round(float(base.mean()), 3), "z": round(float(z), 2)}
                    print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def controls_passed() -> None:
    """Every judge passes the control questions from here on: a judge right on easy questions, NOISE its error on
    the hard ones (the links and consistency probes)."""
    Guide.check_judge = lambda self, X: True


def part_links(sets: list[str], seeds: list[int], noise: float, variants: list[str]) -> None:
    controls_passed()
    for name in sets:
        df, X = vectors(name)
        _, cols, levels = SETS[name]
        for seed in seeds:
            W, info, T = stage1(X, LabelJudge(df[cols[0]].to_numpy(), noise=noise, seed=seed), levels[0], seed)
            for v in variants:
                t0, space = time.perf_counter(), make_space("auto", len(X))
                if v in ("links", "both"):
                    space.set_links(T[:, [0, 1]], T[:, [0, 2]])
                Y = space.fit_transform(apply_adapter(X, W) if v in ("adapter", "both") else X, seed)
                row = {"set": name, "seed": seed, "noise": noise, "variant": v, **info}
                for col, k in zip(cols, levels):
                    row[col] = round(nmi(df[col], kmeans(Y, k, random_state=seed).labels), 4)
                print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def part_select(sets: list[str], seeds: list[int], variants: list[str]) -> None:
    """Stage 1 by how each round picks anchors (VARIANT: per-round scores joined by "+", e.g. entropy+margin), the
    answers as the default uses them (adapter + links), flat k-means at each level's true k in the space."""
    for name in sets:
        df, X = vectors(name)
        _, cols, levels = SETS[name]
        for seed in seeds:
            for v in variants:
                t0, judge = time.perf_counter(), LabelJudge(df[cols[0]].to_numpy(), noise=NOISE, seed=seed)
                W, info, T = stage1(X, judge, levels[0], seed, select=tuple(v.split("+")))
                space = make_space("auto", len(X))
                space.set_links(T[:, [0, 1]], T[:, [0, 2]])
                Y = space.fit_transform(apply_adapter(X, W), seed)
                row = {"set": name, "seed": seed, "select": v, **info}
                for col, k in zip(cols, levels):
                    row[col] = round(nmi(df[col], kmeans(Y, k, random_state=seed).labels), 4)
                print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def part_consistency(sets: list[str], seeds: list[int], noises: list[float]) -> None:
    controls_passed()
    keys = ("answered", "heldout", "unadapted", "heldout_z", "consistency", "consistency_pairs", "consistency_z", "applied")
    for name in sets:
        df, X = vectors(name)
        col, k = SETS[name][1][0], SETS[name][2][0]
        for noise in noises:
            for seed in seeds:
                t0 = time.perf_counter()
                g = Guide(LabelJudge(df[col].to_numpy(), noise=noise, seed=seed), GuideConfig(random_state=seed))
                g.perspective(X, k)
                t = g.report["triplets"]
                row = {"set": name, "noise": noise, "seed": seed, **{key: t.get(key) for key in keys}}
                row |= {"heldout_5pct": t["heldout_z"] > Z_ONE_SIDED, "heldout_1pct": t["heldout_z"] > 2.326}
                row |= {"consistency_passed": t["consistency_z"] > Z_ONE_SIDED}
                print(json.dumps(row | {"s": round(time.perf_counter() - t0, 1)}), flush=True)


def part_bias() -> None:
    from hercules.guidance import LLMJudge
    from hercules.guidance.select import control_triplets
    from hercules.labeling.llm import LLMLabelerOptions
    from hercules.llm import get_llm

    df, X = vectors("banking77")
    ctl = control_triplets(X, 64, np.random.default_rng(0))
    o = LLMLabelerOptions.parse({"timeout": 120})
    kw = dict(policy=o.retry_policy(), cache=o.response_cache(), concurrency=o.concurrency, progress=False)
    judge = LLMJudge(get_llm("local"), df.text.tolist(), both_orders=False, **kw)
    q, e = ctl.questions, ctl.expect
    first, swapped = judge.triplets(q), judge.triplets(q[:, [0, 2, 1]])
    agree = (first >= 0) & (swapped >= 0) & (first == 1 - swapped)
    row = {"acc_order1": float((first == e).mean()), "acc_order2": float((swapped == 1 - e).mean())}
    row |= {"first_rate": float(np.mean(np.r_[first, swapped] == 0)), "agree": float(agree.mean())}
    row |= {"acc_where_agree": float((first[agree] == e[agree]).mean()) if agree.any() else None, "stats": judge.stats}
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    part, args = sys.argv[1], sys.argv[2:]
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    if part == "stage1":
        part_stage1(args[0].split(","), args[1].split(","), ints(args[2]))
    elif part == "pck":
        part_pck(args[0].split(","), ints(args[1]))
    elif part == "iter":
        part_iter(args[0].split(","), ints(args[1]))
    elif part == "heldout":
        part_heldout(args[0], args[1].split(","), int(args[2]))
    elif part == "bias":
        part_bias()
    elif part == "guard":
        part_guard(args[0].split(","), ints(args[1]), [float(x) for x in args[2].split(",")], ints(args[3]))
    elif part == "tune":
        part_tune(args[0].split(","), args[1], ints(args[2]))
    elif part == "k":
        part_k(args[0].split(","))
    elif part == "consistency":
        part_consistency(args[0].split(","), ints(args[1]), [float(x) for x in args[2].split(",")])
    elif part == "select":
        part_select(args[0].split(","), ints(args[1]), args[2].split(","))
    elif part == "links":
        part_links(args[0].split(","), ints(args[1]), float(args[2]), args[3].split(","))
    else:
        raise SystemExit(__doc__)
