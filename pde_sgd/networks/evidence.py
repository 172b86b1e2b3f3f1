"""L2-regularised binary logistic regression and its Laplace log evidence ratio (Smith & Le, section 3).

Model: p(y = 1 | x) = sigma(z), z = w . phi(x), features phi (N, P) (a constant column plays the bias, and is
regularised like every weight). Cost (THEORY.md section 7)

    C(w) = H(w) + lambda |w|^2 / 2,   H(w) = sum_k [ log(1 + e^{z_k}) - y_k z_k ]   (summed cross-entropy, nats),

i.e. the negative log posterior under the prior N(0, I / lambda). Its Hessian is exact in closed form,

    nabla^2 C(w) = Phi^T diag(p_k (1 - p_k)) Phi + lambda I,

and the log evidence ratio against the null model that gives 1/2 to each class, by Laplace at the minimum w0,

    E(w0) = C(w0) + 1/2 sum_i ln(lambda_i / lambda) - N ln 2,

lambda_i the P eigenvalues of nabla^2 C(w0) (all >= lambda, so every term of the sum is >= 0; the P - N
directions the data do not see give exactly 0). E < 0: the model is more plausible than chance. Rescaling the
features by s (phi -> s phi, hence w -> w / s) with lambda -> lambda s^2 leaves C(w0) and every ratio
lambda_i / lambda unchanged: E is invariant under this reparameterisation.

numpy/scipy only, float64; the minimum is found by Newton's method with backtracking (C is strictly convex),
to a gradient norm of ``gtol`` relative to the gradient at w = 0.
"""
from __future__ import annotations

import numpy as np
from scipy.special import expit, log_expit

from ..validation import finite_array, positive, positive_int


def _check(Phi, y, lam):
    Phi = finite_array("features", Phi, ndim=2)
    y = np.asarray(y)
    if y.shape != (Phi.shape[0],) or not np.all((y == 0) | (y == 1)):
        raise ValueError(f"labels must have shape ({Phi.shape[0]},) with values in {{0, 1}}, got shape {y.shape}")
    return Phi, y.astype(np.float64), positive("lam", lam)


def cross_entropies(w: np.ndarray, Phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample cross-entropy -log p(y_k | x_k) = log(1 + e^{z_k}) - y_k z_k, computed stably."""
    z = Phi @ w
    return -(y * log_expit(z) + (1.0 - y) * log_expit(-z))


def cost(w: np.ndarray, Phi: np.ndarray, y: np.ndarray, lam: float) -> float:
    """C(w) = sum_k CE_k + lambda |w|^2 / 2."""
    return float(cross_entropies(w, Phi, y).sum() + 0.5 * lam * w @ w)


def cost_gradient(w: np.ndarray, Phi: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """grad C = Phi^T (sigma(z) - y) + lambda w."""
    return Phi.T @ (expit(Phi @ w) - y) + lam * w


def cost_hessian(w: np.ndarray, Phi: np.ndarray, lam: float) -> np.ndarray:
    """The exact Hessian Phi^T diag(p (1 - p)) Phi + lambda I (P x P)."""
    p = expit(Phi @ w)
    return (Phi.T * (p * (1.0 - p))) @ Phi + lam * np.eye(Phi.shape[1])


def fit(Phi: np.ndarray, y: np.ndarray, lam: float, *, gtol: float = 1e-12, max_iter: int = 200) -> np.ndarray:
    """The unique minimiser w0 of C by Newton's method with backtracking (Armijo) line search.

    Stops when |grad C(w)| <= gtol * |grad C(0)|, or when the Newton decrement g . H^-1 g falls to the
    round-off level of C (1e-14 max(1, C)); raises RuntimeError if ``max_iter`` steps get to neither.
    """
    Phi, y, lam = _check(Phi, y, lam)
    positive_int("max_iter", max_iter)
    w = np.zeros(Phi.shape[1])
    g = cost_gradient(w, Phi, y, lam)
    target = positive("gtol", gtol) * np.linalg.norm(g)
    c = cost(w, Phi, y, lam)
    for _ in range(max_iter):
        if np.linalg.norm(g) <= target:
            return w
        step = np.linalg.solve(cost_hessian(w, Phi, lam), g)
        slope = float(g @ step)
        if slope <= 1e-14 * max(1.0, c):
            return w - step
        t = 1.0
        while True:
            w_new = w - t * step
            c_new = cost(w_new, Phi, y, lam)
            if c_new <= c - 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        w, c = w_new, c_new
        g = cost_gradient(w, Phi, y, lam)
    raise RuntimeError(f"Newton did not reach |grad C| <= {target:.3g} in {max_iter} steps (lam={lam})")


def log_evidence_ratio(w0: np.ndarray, Phi: np.ndarray, y: np.ndarray, lam: float,
                       n_classes: int = 2) -> tuple[float, np.ndarray]:
    """E(w0) = C(w0) + 1/2 sum_i ln(lambda_i / lambda) - N ln n_classes, and the Hessian eigenvalues lambda_i.

    ``w0`` should be the minimiser of C (:func:`fit`); the eigenvalues are those of the exact P x P Hessian.
    """
    Phi, y, lam = _check(Phi, y, lam)
    lam_i = np.linalg.eigvalsh(cost_hessian(w0, Phi, lam))
    occam = 0.5 * float(np.sum(np.log(np.maximum(lam_i, lam) / lam)))
    return cost(w0, Phi, y, lam) + occam - Phi.shape[0] * np.log(positive_int("n_classes", n_classes, minimum=2)), lam_i


def metrics(w: np.ndarray, Phi: np.ndarray, y: np.ndarray, *, bias_column: int | None = -1) -> dict[str, float]:
    """Accuracy, mean cross-entropy (nats) with its standard error over the samples, and the two mean margins
    of the classifier w on (Phi, y).

    ``geometric_margin``: the mean signed distance (2y - 1) z / |w'| of the samples to the decision boundary
    z = w . phi = 0, w' the weights without the bias (``bias_column``, the constant feature; None if there is
    none). It is Smith & Le's margin: it falls as lambda falls and the weights grow. ``functional_margin``:
    the mean (2y - 1) z, which grows with |w| instead (large when weakly regularised).
    """
    z = Phi @ w
    y = np.asarray(y, dtype=np.float64)
    w_feat = w if bias_column is None else np.delete(w, bias_column)
    signed = (2.0 * y - 1.0) * z
    ce = cross_entropies(w, Phi, y)
    return {"accuracy": float(np.mean((z > 0) == (y == 1))),
            "cross_entropy": float(np.mean(ce)),
            "cross_entropy_se": float(np.std(ce, ddof=1) / np.sqrt(ce.size)) if ce.size > 1 else 0.0,
            "geometric_margin": float(np.mean(signed) / np.linalg.norm(w_feat)),
            "functional_margin": float(np.mean(signed))}


def numerical_rank(Phi: np.ndarray) -> int:
    """The numerical rank of a feature matrix: the number of singular values above
    s_max * max(N, P) * machine epsilon (numpy.linalg.matrix_rank's default tolerance)."""
    Phi = finite_array("features", Phi, ndim=2)
    s = np.linalg.svd(Phi, compute_uv=False)
    return int(np.sum(s > s[0] * max(Phi.shape) * np.finfo(np.float64).eps)) if s.size else 0


def two_class_digits(n_train: int, n_features: int, *, seed: int = 0, random_labels: bool = False,
                     label_seed: int | None = None, input_scale: float = 0.5) -> dict[str, np.ndarray]:
    """A balanced two-class task from scikit-learn's digits with random ReLU features (P = n_features + 1).

    Classes: digits 0-4 (y = 0) against 5-9 (y = 1). The training set has n_train / 2 images of each class
    (seeded); the test set is every other image (about balanced). Features: pixels in [0, 1] centred by the
    training mean, then phi_j(x) = max(0, s a_j . x + b_j), a_j ~ N(0, I_64), b_j ~ N(0, 1) (seeded), s =
    ``input_scale``, and a constant 1 as the bias feature. ``random_labels``: the training labels are a random
    permutation of the balanced labels (seeded by ``label_seed``, default ``seed``); test labels stay true.

    The scale s sets the rank: a centred digit has |x| ~ 2-3, so with s = 1/8 most pre-activations keep the
    sign of b_j for every image, those features are affine in the 64 pixels, and 1000 features on 800 images
    have numerical rank ~600 (:func:`numerical_rank`); with s = 1/2 the kinks fall among the images and the
    same 1000 features have the full rank 800 (s_min / s_max ~ 4e-4), so any labelling is separable.
    Returns ``Phi_train, y_train, Phi_test, y_test``.
    """
    from sklearn.datasets import load_digits
    n_train, P = positive_int("n_train", n_train, minimum=2), positive_int("n_features", n_features)
    scale = positive("input_scale", input_scale)
    if n_train % 2:
        raise ValueError(f"n_train must be even (a balanced task), got {n_train}")
    raw = load_digits()
    X = raw.data / 16.0
    y = (raw.target >= 5).astype(np.float64)
    rng = np.random.default_rng(positive_int("seed", seed, minimum=0))
    per = [np.flatnonzero(y == c) for c in (0.0, 1.0)]
    if n_train // 2 > min(len(p) for p in per) - 1:
        raise ValueError(f"n_train must be <= {2 * (min(len(p) for p in per) - 1)} (digits has two classes of "
                         f"{[len(p) for p in per]} images), got {n_train}")
    train = np.concatenate([rng.choice(p, n_train // 2, replace=False) for p in per])
    test = np.setdiff1d(np.arange(len(y)), train)
    mean = X[train].mean(0)
    A, b = rng.standard_normal((X.shape[1], P)), rng.standard_normal(P)

    def phi(rows):
        return np.hstack([np.maximum(0.0, scale * (X[rows] - mean) @ A + b), np.ones((len(rows), 1))])
    y_train = y[train]
    if random_labels:
        y_train = np.random.default_rng(seed if label_seed is None else label_seed).permutation(y_train)
    return {"Phi_train": phi(train), "y_train": y_train, "Phi_test": phi(test), "y_test": y[test]}
