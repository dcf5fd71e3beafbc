"""The oracle for Modelplane's drift statistics: scipy and numpy on seeded data.

    drift_oracle.py

Prints one JSON document: a list of cases, each with its inputs and what scipy (or numpy, for
PSI, Hellinger and L-infinity, which scipy does not have) computes for them. The Swift tests
compute the same from the same inputs and compare; no expected number is ever pasted into a test.
"""
import json
import math

import numpy as np
from scipy import stats
from scipy.spatial import distance


def psi(reference, current, bins=10):
    """PSI on `bins` reference-quantile bins (right-closed, open outer bins), empty bin -> 1e-4."""
    edges = np.quantile(reference, [i / bins for i in range(1, bins)])
    r = np.bincount(np.searchsorted(edges, reference, side="left"), minlength=bins) / len(reference)
    c = np.bincount(np.searchsorted(edges, current, side="left"), minlength=bins) / len(current)
    r = np.where(r == 0, 1e-4, r)
    c = np.where(c == 0, 1e-4, c)
    return float(np.sum((c - r) * np.log(c / r)))


def normalized(p):
    p = np.asarray(p, dtype=float)
    return p / p.sum()


def hellinger(p, q):
    return float(np.sqrt(np.sum((np.sqrt(normalized(p)) - np.sqrt(normalized(q))) ** 2)) / math.sqrt(2))


def linf(p, q):
    return float(np.max(np.abs(normalized(p) - normalized(q))))


def numeric_cases():
    rng = np.random.default_rng(26)
    cases = []
    shapes = [
        ("normal, same", lambda: (rng.normal(0, 1, 400), rng.normal(0, 1, 300))),
        ("normal, shifted 0.5 sigma", lambda: (rng.normal(0, 1, 1000), rng.normal(0.5, 1, 800))),
        ("lognormal, scaled", lambda: (rng.lognormal(0, 1, 2000), rng.lognormal(0, 1.3, 1500))),
        ("integers with ties", lambda: (rng.integers(0, 5, 300).astype(float), rng.integers(1, 6, 200).astype(float))),
        ("tiny samples", lambda: (np.array([1.0, 2.0]), np.array([1.5]))),
        ("one value each", lambda: (np.array([3.0]), np.array([3.0]))),
        ("constant reference", lambda: (np.full(50, 7.0), rng.normal(7, 1, 40))),
        ("current far outside", lambda: (rng.uniform(0, 1, 500), rng.uniform(5, 6, 500))),
        ("equal sizes, close", lambda: (rng.normal(0, 1, 250), rng.normal(0.1, 1, 250))),
        ("sizes sharing a divisor", lambda: (rng.normal(0, 1, 600), rng.normal(0.2, 1.1, 900))),
        ("coprime sizes", lambda: (rng.normal(0, 1, 997), rng.normal(0, 1, 1009))),
    ]
    for name, make in shapes:
        ref, cur = make()
        ref = [float(x) for x in ref]
        cur = [float(x) for x in cur]
        ks = stats.ks_2samp(ref, cur)
        cases.append({
            "name": name, "reference": ref, "current": cur,
            "ks": float(ks.statistic), "ksP": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(ref, cur)),
            "normedWasserstein": float(stats.wasserstein_distance(ref, cur) / max(np.std(ref), 0.001)),
            "psi": psi(np.array(ref), np.array(cur)),
        })
    return cases


def categorical_cases():
    rng = np.random.default_rng(27)
    cases = []
    tables = [
        ("three categories", [120, 80, 50], [100, 95, 55]),
        ("two categories (Yates)", [30, 70], [45, 55]),
        ("an unseen category", [50, 50, 0], [40, 40, 20]),
        ("a vanished category", [10, 20, 30, 40], [0, 25, 35, 40]),
        ("identical", [5, 5, 5], [5, 5, 5]),
        ("large, shifted", list(rng.integers(500, 1500, 8)), list(rng.integers(500, 1500, 8))),
    ]
    for name, ref, cur in tables:
        ref = [float(x) for x in ref]
        cur = [float(x) for x in cur]
        # Columns empty in both are no category at all (scipy refuses a zero expected count).
        kept = [i for i in range(len(ref)) if ref[i] + cur[i] > 0]
        table = np.array([[ref[i] for i in kept], [cur[i] for i in kept]])
        chi2 = stats.chi2_contingency(table)
        expected = normalized(ref) * sum(cur)
        gof = stats.chisquare(cur, expected) if min(ref) > 0 else None
        cases.append({
            "name": name, "reference": ref, "current": cur,
            "chi2": float(chi2.statistic), "chi2P": float(chi2.pvalue), "chi2Dof": int(chi2.dof),
            "chisquare": None if gof is None else float(gof.statistic),
            "chisquareP": None if gof is None else float(gof.pvalue),
            "jensenShannon": float(distance.jensenshannon(ref, cur)),
            "jensenShannon2": float(distance.jensenshannon(ref, cur, base=2)),
            "entropy": float(stats.entropy(ref)),
            "entropy2": float(stats.entropy(ref, base=2)),
            "klDivergence": float(stats.entropy(cur, ref)) if min(ref) > 0 else None,
            "hellinger": hellinger(ref, cur),
            "linf": linf(ref, cur),
        })
    return cases


def chi2_sf_cases():
    return [{"x": x, "dof": k, "sf": float(stats.chi2.sf(x, k))}
            for k in (1, 2, 3, 7, 20, 150) for x in (0.0, 1e-6, 0.5, 1.0, 3.84, 10.0, 45.0, 200.0, 800.0)]


def correction_cases():
    rng = np.random.default_rng(28)
    cases = []
    for name, ps in [
        ("uniform", list(rng.uniform(0, 1, 12))),
        ("a few small", [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]),
        ("ties", [0.01, 0.01, 0.03, 0.03, 0.5]),
        ("one", [0.02]),
    ]:
        ps = [float(p) for p in ps]
        cases.append({"name": name, "p": ps, "bh": [float(x) for x in stats.false_discovery_control(ps, method="bh")],
                      "bonferroni": [float(min(1.0, p * len(ps))) for p in ps]})
    return cases


print(json.dumps({"numeric": numeric_cases(), "categorical": categorical_cases(), "chi2sf": chi2_sf_cases(),
                  "corrections": correction_cases()}))
