"""Slow, obvious reference implementations of the kernels in rxgrid.kernels.

Each function is written for clarity, in pure Python or plain numpy, and
reuses the same counter-based random numbers (re-implemented here with
Python integers) so that the kernels can be compared exactly.
"""

import math

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
NORMAL_SALT = 0xD1B54A32D192ED03


def mix64(z):
    z &= MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def substream(key, index):
    return mix64(key ^ mix64(index * GOLDEN + GOLDEN))


def stream_key(seed, task):
    return substream(mix64((seed & MASK) + GOLDEN), task)


def bits(key, counter):
    return mix64(key + counter * GOLDEN)


def uniform(key, counter):
    return (bits(key, counter) >> 11) / 2.0**53


def integer(key, counter, n):
    return ((bits(key, counter) >> 32) * n) >> 32


def normal(key, counter):
    u1 = 1.0 - uniform(key, counter)
    u2 = uniform(key ^ NORMAL_SALT, counter)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


# --- dice -----------------------------------------------------------------


def naive_play_craps(key):
    rolls = iter(range(0, 10**9, 2))
    first = True
    point = None
    while True:
        c = next(rolls)
        roll = integer(key, c, 6) + 1 + integer(key, c + 1, 6) + 1
        if first:
            if roll in (7, 11):
                return True
            if roll in (2, 3, 12):
                return False
            point = roll
            first = False
        elif roll == 7:
            return False
        elif roll == point:
            return True


def naive_play_dice(n_games, seed, task=0, first_game=0):
    key = stream_key(seed, task)
    return np.array(
        [naive_play_craps(substream(key, first_game + g)) for g in range(n_games)],
        dtype=bool,
    )


# --- birthday ---------------------------------------------------------------


def naive_pbirthday(group_sizes, n_tests, seed, task=0):
    key = stream_key(seed, task)
    probabilities = []
    for n in group_sizes:
        size_key = substream(key, n)
        hits = 0
        for t in range(n_tests):
            trial_key = substream(size_key, t)
            days = [integer(trial_key, i, 365) for i in range(n)]
            hits += len(set(days)) < len(days)
        probabilities.append(hits / n_tests)
    return np.array(probabilities)


def exact_pbirthday(n):
    return 1.0 - math.prod((365 - k) / 365 for k in range(n))


# --- mandelbrot -------------------------------------------------------------


def naive_mandelbrot_point(x0, y0, lim):
    x, y = x0, y0
    count = 0
    while x * x + y * y < 4.0 and count < lim:
        x, y = x * x - y * y + x0, 2.0 * x * y + y0
        count += 1
    return count


def naive_mandelbrot(xvec, yvec, lim):
    return np.array(
        [[naive_mandelbrot_point(float(x), float(y), lim) for x in xvec] for y in yvec],
        dtype=np.int64,
    ).reshape(len(yvec), len(xvec))


# --- k-means ----------------------------------------------------------------


def naive_labels(X, centers):
    d = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    return d.argmin(axis=1), d.min(axis=1)


def naive_lloyd(X, centers, iter_max, tol_abs):
    """Lloyd iterations with scikit-learn's stopping rules; returns (centers, inertia)."""
    centers = np.array(centers, dtype=float)
    labels = None
    for _ in range(iter_max):
        new_labels, _ = naive_labels(X, centers)
        if labels is not None and (new_labels == labels).all():
            break
        labels = new_labels
        old = centers.copy()
        for c in range(len(centers)):
            if (labels == c).any():
                centers[c] = X[labels == c].mean(axis=0)
        if ((centers - old) ** 2).sum() <= tol_abs:
            break
    return centers, naive_labels(X, centers)[1].sum()


def naive_init_random(X, k, key):
    chosen, counter = [], 0
    while len(chosen) < k:
        row = integer(key, counter, len(X))
        counter += 1
        if row not in chosen:
            chosen.append(row)
    return X[chosen].copy()


def naive_init_plus_plus(X, k, key):
    centers = [X[integer(key, 0, len(X))]]
    for c in range(1, k):
        d2 = naive_labels(X, np.array(centers))[1]
        target = uniform(key, c) * d2.sum()
        row = int(np.argmax(np.cumsum(d2) > target))
        centers.append(X[row])
    return np.array(centers)


def naive_kmeans(X, k, iter_max, nstart, init, seed, task=0, tol_abs=0.0):
    """Best of nstart starts; returns (centers, inertia, best start)."""
    key = stream_key(seed, task)
    best = None
    for s in range(nstart):
        start_key = substream(key, s)
        seeding = naive_init_plus_plus if init == "k-means++" else naive_init_random
        centers, inertia = naive_lloyd(X, seeding(X, k, start_key), iter_max, tol_abs)
        if best is None or inertia < best[1]:
            best = (centers, inertia, s)
    return best


def naive_kmeans_block_stats(X, centers):
    keep = ~np.isnan(X).any(axis=1)
    labels, d = naive_labels(X[keep], centers)
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, X[keep])
    counts = np.bincount(labels, minlength=len(centers))
    return sums, counts, d.sum(), int((~keep).sum())


# --- GLM --------------------------------------------------------------------


def naive_design(codes, numeric, n_levels, intercept, drop_first):
    """Dense design matrix with one-hot columns, in the kernels' column order."""
    n = numeric.shape[1] if numeric is not None else codes.shape[1]
    columns = [np.ones(n)] if intercept else []
    for v, levels in enumerate(n_levels):
        for level in range(int(drop_first[v]), levels):
            columns.append((codes[v] == level).astype(float))
    columns.extend(np.asarray(numeric, dtype=float) if numeric is not None else [])
    return np.column_stack(columns)


def naive_glm_stats(y, codes, numeric, beta, family, n_levels, intercept, drop_first):
    """X'WX, X'Wz, deviance, used, skipped from an explicit design matrix."""
    X = naive_design(codes, numeric, n_levels, intercept, drop_first)
    bad = np.isnan(y) | np.isnan(X).any(axis=1)
    if codes is not None and len(codes):
        bad |= (codes < 0).any(axis=0)
    X, y = X[~bad], y[~bad]
    eta = X @ beta
    if family == "gaussian":
        w, z, dev = np.ones_like(y), y, ((y - eta) ** 2).sum()
    elif family == "binomial":
        mu = np.clip(1 / (1 + np.exp(-eta)), np.finfo(float).eps, 1 - np.finfo(float).eps)
        w = mu * (1 - mu)
        z = eta + (y - mu) / w
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(y > 0, y * np.log(y / mu), 0.0) + np.where(
                y < 1, (1 - y) * np.log((1 - y) / (1 - mu)), 0.0
            )
        dev = 2 * terms.sum()
    else:
        mu = np.exp(eta)
        w, z = mu, eta + (y - mu) / mu
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2 * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)).sum()
    return X.T @ (w[:, None] * X), X.T @ (w * z), dev, len(y), int(bad.sum())


def r_factor(X, weights=None, center=False):
    """R factor of the (weighted, centred) rows by numpy's Householder QR, rows as ``(q, n)``."""
    X = np.asarray(X, dtype=float)
    w = np.ones(X.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    mean = (X @ w) / w.sum() if center else np.zeros(X.shape[0])
    rows = ((X - mean[:, None]) * np.sqrt(w)).T
    return np.linalg.qr(rows, mode="r"), mean, w.sum()
