"""PyTorch MLP candidate: standardized inputs, weighted loss, early stopping on validation loss.

* Inputs are standardized with the train part's mean/std; a missing value (NaN) becomes 0,
  i.e. the train mean, in training and serving alike.
* Class imbalance: ``BCEWithLogitsLoss(pos_weight=...)``, ``"sqrt"`` = sqrt(neg/pos) by
  default (the full ratio inflates probabilities and hurts calibration, a reported metric).
* A NaN/inf or exploding loss (above :data:`DIVERGENCE_FACTOR` x the first batch's) raises
  :class:`TrainingDiverged` at once (fault C2).
* The fitted network is exported as plain arrays (``weights.npz``: mean, std, weights,
  biases), which the serving pyfunc evaluates in numpy. No pickle, no torch at serving time;
  :func:`include.modeling.tracking.log_candidate` checks both forwards agree before logging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from include.training.errors import TrainingDiverged
from include.training.search import draw_configs
from include.training.split import SplitArrays
from include.training.threads import MLP_THREADS, import_torch

FAMILY = "pytorch_mlp"
MODEL_FILE = "weights.npz"
DEFAULT: dict[str, Any] = {
    "hidden": [64, 32],
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "dropout": 0.0,
    "batch_size": 512,
    "pos_weight": "sqrt",
    "max_epochs": 30,
    "patience": 4,
}
GRID: dict[str, list[Any]] = {
    "hidden": [[32], [64, 32], [128, 64]],
    "lr": [1e-3, 3e-3],
    "weight_decay": [0.0, 1e-4],
    "dropout": [0.0, 0.1],
    "batch_size": [256, 512, 1024],
    "pos_weight": ["sqrt", 1.0],
}
# A loss above this multiple of the first batch's (at least 1.0) has exploded: with a far too
# high learning rate the loss jumped from ~1 to ~1e10 yet stayed finite in float32.
DIVERGENCE_FACTOR = 1e3
# Permutation importance scores at most this many validation rows (keeps it cheap).
IMPORTANCE_ROWS = 20_000


def search_space(budget: int, seed: int) -> list[dict[str, Any]]:
    """``budget`` distinct configs: the default, then seeded random draws from :data:`GRID`."""
    return draw_configs(DEFAULT, GRID, budget, seed)


def _network(torch: Any, n_in: int, hidden: list[int], dropout: float) -> Any:
    layers: list[Any] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


@dataclass
class FittedMLP:
    net: Any  # torch.nn.Sequential, eval mode
    mean: np.ndarray
    std: np.ndarray
    config: dict[str, Any]
    features: tuple[str, ...]
    best_epoch: int
    epochs_trained: int
    best_val_loss: float

    family = FAMILY

    def _standardize(self, x: np.ndarray) -> np.ndarray:
        return np.nan_to_num((x - self.mean) / self.std, nan=0.0).astype(np.float32)

    def predict(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            logits = self.net(torch.from_numpy(self._standardize(x))).squeeze(-1)
            return torch.sigmoid(logits).double().numpy()

    def arrays(self) -> dict[str, np.ndarray]:
        """The network as plain arrays, the format of ``weights.npz``."""
        out = {"mean": self.mean.astype(np.float32), "std": self.std.astype(np.float32)}
        linear = [m for m in self.net if hasattr(m, "weight")]
        for i, layer in enumerate(linear):
            out[f"w{i}"] = layer.weight.detach().numpy().astype(np.float32)
            out[f"b{i}"] = layer.bias.detach().numpy().astype(np.float32)
        return out

    def save(self, directory: Path) -> Path:
        path = directory / MODEL_FILE
        np.savez(path, **self.arrays())
        return path

    def importance(self, arrays: SplitArrays) -> dict[str, float]:
        """Permutation importance on the validation part: drop of average precision when
        one feature is shuffled (one repeat, at most :data:`IMPORTANCE_ROWS` rows)."""
        from sklearn.metrics import average_precision_score

        rng = np.random.default_rng(0)
        x, y = arrays.x_val, arrays.y_val
        if len(x) > IMPORTANCE_ROWS:
            keep = rng.choice(len(x), IMPORTANCE_ROWS, replace=False)
            x, y = x[keep], y[keep]
        base = average_precision_score(y, self.predict(x))
        out = {}
        for j, name in enumerate(self.features):
            shuffled = x.copy()
            shuffled[:, j] = rng.permutation(shuffled[:, j])
            out[name] = float(base - average_precision_score(y, self.predict(shuffled)))
        return out

    def summary(self) -> dict[str, float]:
        return {
            "best_epoch": self.best_epoch,
            "epochs_trained": self.epochs_trained,
            "best_val_loss": self.best_val_loss,
        }


def fit(
    config: dict[str, Any],
    arrays: SplitArrays,
    *,
    threads: int,
    seed: int,
    primary_metric: str = "pr_auc",
) -> FittedMLP:
    """Train one config with AdamW; keep the weights of the best validation-loss epoch.

    ``threads`` is a cap; the MLP uses :data:`MLP_THREADS` (its layers are too small)."""
    torch = import_torch(min(threads, MLP_THREADS))
    torch.manual_seed(seed)
    mean = np.nanmean(arrays.x_train, axis=0)
    std = np.nanstd(arrays.x_train, axis=0)
    mean = np.nan_to_num(mean)  # an all-NaN column: treat as constant 0
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)

    def prepare(x: np.ndarray) -> Any:
        return torch.from_numpy(np.nan_to_num((x - mean) / std, nan=0.0).astype(np.float32))

    xt, yt = prepare(arrays.x_train), torch.from_numpy(arrays.y_train)
    xv, yv = prepare(arrays.x_val), torch.from_numpy(arrays.y_val)
    pw = config["pos_weight"]
    pos_weight = math.sqrt(arrays.negatives_per_positive) if pw == "sqrt" else float(pw)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    net = _network(torch, xt.shape[1], list(config["hidden"]), float(config["dropout"]))
    opt = torch.optim.AdamW(
        net.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
    )
    gen = torch.Generator().manual_seed(seed)
    batch = int(config["batch_size"])
    best_loss, best_epoch, best_state, stale, epoch = math.inf, -1, None, 0, -1
    ceiling = math.inf
    for epoch in range(int(config["max_epochs"])):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for step, start in enumerate(range(0, len(xt), batch)):
            idx = order[start : start + batch]
            loss = loss_fn(net(xt[idx]).squeeze(-1), yt[idx])
            value = float(loss.detach())
            if not (math.isfinite(value) and value <= ceiling):
                raise TrainingDiverged(
                    FAMILY, config, f"train loss {value:.3g} at epoch {epoch} step {step}"
                )
            if ceiling == math.inf:
                ceiling = DIVERGENCE_FACTOR * max(value, 1.0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(net(xv).squeeze(-1), yv))
        if not math.isfinite(val_loss):
            raise TrainingDiverged(FAMILY, config, f"validation loss at epoch {epoch}")
        if val_loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= int(config["patience"]):
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return FittedMLP(
        net=net,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        config=dict(config),
        features=arrays.features,
        best_epoch=best_epoch,
        epochs_trained=epoch + 1,
        best_val_loss=best_loss,
    )
