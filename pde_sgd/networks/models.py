"""Small torch models and their view as a function of one flat parameter vector.

:class:`FlatModel` turns any ``torch.nn.Module`` into the loss f(theta) = (1/N) sum_k l_k(theta) +
(weight_decay/2) |theta|^2 of a flat parameter vector theta in R^P (l_k per sample, see below), evaluated
with ``torch.func.functional_call`` so that ``torch.func.grad``/``vmap``/``jvp`` apply directly. The weight
decay term is the same for every sample, so it shifts the gradient but not the noise covariance D; it makes a
true minimum exist (cross-entropy alone decreases forever on separable data).

Per-sample losses l_k of the outputs z_k and the target y_k (``loss=``):

- ``"cross_entropy"`` (default): l_k = -log softmax(z_k)[y_k], y_k an integer class label;
- ``"mse"``: l_k = (1/C) sum_c (z_kc - [c = y_k])^2, the squared error to the one-hot target averaged over the
  classes, so that the mean over a batch equals ``torch.nn.functional.mse_loss(z, one_hot(y))``;
- a torch criterion built with ``reduction="none"`` (``torch.nn.HuberLoss(reduction="none")``, ...): its
  per-element losses are averaged over every axis but the sample axis, so that the mean of l_k over the
  samples equals the criterion's ``reduction="mean"`` value (the torch convention; e.g. ``MSELoss`` on targets
  (N, k) gives l_k = (1/k) sum_j (z_kj - y_kj)^2). Criteria that weight their mean (``CrossEntropyLoss(weight=
  ...)``, ``ignore_index``) are averaged with equal weights per sample here;
- a callable ``(outputs, targets) -> (N,)`` per-sample losses (it must not average over the batch).

Targets may have any shape (N, ...) and dtype that the loss accepts. :meth:`FlatModel.check_batch` turns the
usual torch.func pitfalls into errors that say what to do (BatchNorm or dropout in training mode, a random or
buffer-changing forward, data of another dtype or device than the parameters, a criterion that broadcasts).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.func import functional_call

from ..validation import choice, positive, positive_int
from .data import Dataset, resolve_device, resolve_dtype

MODELS = ("mlp", "cnn", "cnn1d")
LOSSES = ("cross_entropy", "mse")


class MLP(nn.Module):
    """Flatten -> [Linear -> tanh] * len(hidden) -> Linear (logits). tanh keeps the loss smooth (C^inf)."""

    def __init__(self, in_features: int, n_classes: int, hidden: tuple[int, ...] = (32,)) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, positive_int("hidden", h)), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN(nn.Module):
    """Two 3x3 conv (padding 1) + tanh + 2x2 average-pool blocks, then a linear layer; input (N, 1, s, s), s % 4 == 0."""

    def __init__(self, side: int, n_classes: int, channels: tuple[int, int] = (4, 8)) -> None:
        super().__init__()
        if side % 4 or side < 4:
            raise ValueError(f"SmallCNN needs square images with side a multiple of 4, got side={side}")
        c1, c2 = (positive_int("channels", c) for c in channels)
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
            nn.Flatten(), nn.Linear(c2 * (side // 4) ** 2, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SmallCNN1d(nn.Module):
    """A 1-D CNN for signals (N, 1, L), L >= 4 (MNIST-1D: L = 40): two blocks of Conv1d (kernel 5, padding 2,
    so the length is kept) -> tanh -> AvgPool1d(2), then a linear layer on the c2 * (L // 4) features.

    With channels (c1, c2) it has 6 c1 + c2 (5 c1 + 1) + (c2 (L // 4) + 1) n_classes parameters: 2314 for
    (8, 16), L = 40 and 10 classes (the MLP tanh 64 on MNIST-1D has 3274). tanh keeps the loss smooth."""

    def __init__(self, length: int, n_classes: int, channels: tuple[int, int] = (8, 16)) -> None:
        super().__init__()
        if length < 4:
            raise ValueError(f"SmallCNN1d needs signals of length >= 4 (two 2x poolings), got length={length}")
        c1, c2 = (positive_int("channels", c) for c in channels)
        self.net = nn.Sequential(
            nn.Conv1d(1, c1, 5, padding=2), nn.Tanh(), nn.AvgPool1d(2),
            nn.Conv1d(c1, c2, 5, padding=2), nn.Tanh(), nn.AvgPool1d(2),
            nn.Flatten(), nn.Linear(c2 * (length // 4), n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _builtin_loss(kind: str) -> LossFn:
    """Per-sample cross-entropy or one-hot MSE of logits z (N, C) and labels y (N,)."""
    if kind == "mse":
        def mse(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            one_hot = (y.unsqueeze(-1) == torch.arange(z.shape[-1], device=z.device)).to(z.dtype)  # vmap-safe
            return ((z - one_hot) ** 2).mean(-1)
        return mse
    return lambda z, y: nn.functional.cross_entropy(z, y, reduction="none")


def _resolve_loss(loss: str | nn.Module | LossFn) -> tuple[str, LossFn, bool]:
    """(name, per-sample loss function, whether it is a criterion whose extra axes are averaged)."""
    if isinstance(loss, str):
        kind = choice("loss", loss, LOSSES)
        return kind, _builtin_loss(kind), False
    reduction = getattr(loss, "reduction", None)
    if isinstance(loss, nn.Module) and reduction is not None:
        name = type(loss).__name__
        if reduction != "none":
            raise ValueError(f"loss {name}(reduction={reduction!r}) reduces over the batch, but per-sample "
                             f"gradients need one loss per sample: build it as torch.nn.{name}(reduction='none') "
                             f"(pde_sgd takes the mean over samples itself)")
        return name, loss, True
    if callable(loss):
        return getattr(loss, "__name__", type(loss).__name__), loss, False
    raise TypeError(f"loss must be one of {LOSSES}, a torch criterion built with reduction='none', or a callable "
                    f"(outputs, targets) -> per-sample losses (N,); got {type(loss).__name__}")


class FlatModel:
    """A module seen as the loss of a flat parameter vector theta (P,), for torch.func transforms.

    Methods take ``theta`` and a batch ``(X, y)``: :meth:`sample_losses` (N,) per-sample loss (``loss``: one of
    :data:`LOSSES`, a torch criterion with ``reduction="none"`` or a callable; see the module docstring) plus
    the weight-decay term; :meth:`loss` their mean; :meth:`sample_loss` one sample (for ``vmap(grad(.))``).
    """

    def __init__(self, module: nn.Module, weight_decay: float = 0.0, config: dict | None = None, *,
                 loss: str | nn.Module | LossFn = "cross_entropy") -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.weight_decay = positive("weight_decay", weight_decay, allow_zero=True)
        self.loss_spec = loss  # as given, so that a copy of the model can be built with the same loss
        self.loss_kind, self.loss_fn, self._criterion = _resolve_loss(loss)
        named = list(module.named_parameters())
        if not named:
            raise ValueError("module has no parameters")
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.numels = [p.numel() for _, p in named]
        self.n_params = sum(self.numels)
        self.config = dict(config or {})
        self.config["weight_decay"] = self.weight_decay
        self.config["loss"] = self.loss_kind

    @property
    def classifies(self) -> bool:
        """Whether the loss is a built-in classification loss (targets are integer labels)."""
        return self.loss_kind in LOSSES

    def theta(self) -> torch.Tensor:
        """The module's current parameters as one detached flat vector."""
        return torch.cat([p.detach().reshape(-1) for p in self.module.parameters()]).clone()

    def check_theta(self, theta: torch.Tensor, name: str = "theta") -> torch.Tensor:
        """Return ``theta`` if it is a finite tensor of shape (P,), else TypeError/ValueError naming ``name``."""
        if not isinstance(theta, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape ({self.n_params},), got {type(theta).__name__}")
        if theta.shape != (self.n_params,):
            raise ValueError(f"{name} must have shape ({self.n_params},), got {tuple(theta.shape)}")
        if not bool(torch.isfinite(theta).all()):
            raise ValueError(f"{name} contains NaN or inf; parameters must be finite")
        return theta

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        if theta.shape != (self.n_params,):
            raise ValueError(f"theta must have shape ({self.n_params},), got {tuple(theta.shape)}")
        return {n: t.view(s) for n, t, s in zip(self.names, torch.split(theta, self.numels), self.shapes)}

    def logits(self, theta: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
        """The module's outputs at parameters ``theta`` (logits for the built-in losses)."""
        return functional_call(self.module, self.unflatten(theta), (X,))

    def sample_losses(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        l = self.output_losses(self.logits(theta, X), y)
        return l + 0.5 * self.weight_decay * torch.dot(theta, theta) if self.weight_decay else l

    def output_losses(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample losses (N,) of outputs ``z`` against targets ``y`` (no weight decay): the loss reduced per
        sample as documented above, for code that runs the module itself (the trainer)."""
        l = self.loss_fn(z, y)
        n = z.shape[0]
        if not isinstance(l, torch.Tensor) or l.ndim == 0:
            raise ValueError(f"loss {self.loss_kind} returned a single value for a batch of {n}: it reduces over "
                             f"the batch; return per-sample losses of shape (N,) (reduction='none')")
        if self._criterion and l.shape not in (z.shape, y.shape, (n,)):
            raise ValueError(f"loss {self.loss_kind} broadcast outputs {tuple(z.shape)} against targets "
                             f"{tuple(y.shape)} into {tuple(l.shape)}: give targets the outputs' shape (e.g. "
                             f"y.reshape({tuple(z.shape)}))")
        if self._criterion and l.ndim > 1:
            l = l.reshape(n, -1).mean(1)  # per-element -> per-sample, mean over samples = reduction "mean"
        if l.shape != (n,):
            raise ValueError(f"loss {self.loss_kind} must return per-sample losses of shape ({n},), got "
                             f"{tuple(l.shape)}")
        return l

    def loss(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.sample_losses(theta, X, y).mean()

    def sample_loss(self, theta: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Loss of one sample ``x`` (no batch axis) with target ``y`` (no batch axis)."""
        return self.sample_losses(theta, x.unsqueeze(0), y.unsqueeze(0))[0]

    def accuracy(self, theta: torch.Tensor, data: Dataset) -> float:
        """Fraction of samples whose largest output is their integer label (classification only)."""
        if data.y.ndim != 1 or data.y.is_floating_point():
            raise ValueError(f"accuracy needs integer class labels of shape (N,), got {data.y.dtype} "
                             f"{tuple(data.y.shape)}")
        with torch.no_grad():
            return float((self.logits(theta, data.X).argmax(1) == data.y).double().mean())

    def check_batch(self, theta: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Check (theta, X, y) before a torch.func transform; returns theta detached. See :mod:`pde_sgd.networks.checks`."""
        from .checks import check_batch
        return check_batch(self, theta, X, y)


def build_model(name: str, data: Dataset, *, seed: int = 0, hidden: tuple[int, ...] = (32,),
                channels: tuple[int, int] | None = None, weight_decay: float = 1e-3, loss: str = "cross_entropy",
                dtype: str | torch.dtype = "float64", device: str | torch.device = "auto") -> FlatModel:
    """An ``"mlp"``, ``"cnn"`` or ``"cnn1d"`` sized for ``data``, initialised from ``seed`` (the global RNG is left
    as it was); ``loss`` is ``"cross_entropy"`` or ``"mse"`` (one-hot targets; see :class:`FlatModel`).

    ``"mlp"`` (:class:`MLP`, widths ``hidden``) takes any input; ``"cnn"`` (:class:`SmallCNN`) square images
    (N, 1, s, s); ``"cnn1d"`` (:class:`SmallCNN1d`) one-channel signals (N, 1, L) such as MNIST-1D. ``channels``
    are the two convolutions' widths, by default (4, 8) for ``"cnn"`` and (8, 16) for ``"cnn1d"``; a wrong input
    shape raises ValueError naming the shape the model needs."""
    choice("model", name, MODELS)
    choice("loss", loss, LOSSES)
    dt, dev = resolve_dtype(dtype), resolve_device(device)
    shape = data.input_shape
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == "mlp":
            module = MLP(int(torch.tensor(shape).prod()), data.n_classes, tuple(hidden))
            cfg = {"model": "mlp", "hidden": list(hidden)}
        elif name == "cnn":
            if len(shape) != 3 or shape[0] != 1 or shape[1] != shape[2]:
                raise ValueError(f"model 'cnn' needs image data of shape (N, 1, s, s), got (N, {shape})")
            channels = tuple(channels or (4, 8))
            module = SmallCNN(shape[1], data.n_classes, channels)
            cfg = {"model": "cnn", "channels": list(channels)}
        else:
            if len(shape) != 2 or shape[0] != 1:
                raise ValueError(f"model 'cnn1d' needs one-channel signals of shape (N, 1, L), got (N, {shape}); "
                                 f"reshape them with X.reshape(N, 1, -1)")
            channels = tuple(channels or (8, 16))
            module = SmallCNN1d(shape[1], data.n_classes, channels)
            cfg = {"model": "cnn1d", "channels": list(channels)}
    module = module.to(device=dev, dtype=dt)
    cfg.update(seed=seed, dtype=str(dt).removeprefix("torch."), n_params=sum(p.numel() for p in module.parameters()))
    return FlatModel(module, weight_decay, cfg, loss=loss)
