"""Scoring (RevoScaleR's ``rxPredict``): a fitted model applied to new data.

``predict(model, data)`` takes a pandas DataFrame (returns a Series, or a
DataFrame of statsmodels' ``summary_frame`` columns with ``se_fit=True`` or an
``interval``), a mapping of numpy arrays (returns arrays), or a block data set
directory. A data set is scored where it lies: one task per range of blocks
(``map_blocks``; a model fitted on a cluster scores on that cluster) writes its
blocks of the new data set ``out`` (the prediction ``<response>_Pred``, with
``_StdErr``, ``_Lower`` and ``_Upper`` when asked, and the ``keep`` columns
copied, by default the response), and the driver writes the manifest: nothing
is gathered into the client. A `KMeansModel` predicts the nearest center
(column ``.rxCluster``, RevoScaleR's name).
"""

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .clustering import KMeansModel, block_ranges, map_sequential
from .dataset import FORMAT, MANIFEST, VERSION, _column_file, get_info, read_block
from .design import Design, design_matrix, frame
from .errors import ModelError
from .formula import expression_names

TYPES = ("response", "link")
INTERVALS = (None, "confidence", "prediction")


def _scoring_design(design: Design) -> Design:
    """The design without response, weights and row selection (new data may lack them)."""
    derived = {name for name, _ in design.transforms}
    read = [f.column for f in design.factors if f.column]
    read += [n for f in design.factors if f.expression for n in expression_names(f.expression, f.text)]
    read += [n for _, e in design.transforms for n in expression_names(e, "a transform")]
    columns = tuple(dict.fromkeys(n for n in read if n not in derived))
    return dataclasses.replace(design, response=None, weights=None, row_selection=None, columns=columns)


def _link_inverse(family: str, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and ``dmu/deta`` of the canonical link."""
    if family == "binomial":
        mu = 1.0 / (1.0 + np.exp(-eta))
        return mu, mu * (1.0 - mu)
    if family == "poisson":
        mu = np.exp(eta)
        return mu, mu
    return eta, np.ones_like(eta)


def _glm_scores(model, data: Mapping[str, np.ndarray], type: str, se_fit: bool, interval, alpha: float):
    design = _scoring_design(model.design)
    X, ok, _ = design_matrix(design, frame(design, data))
    eta = np.where(ok, model.estimates @ np.where(ok, X, 0.0), np.nan)
    link = type == "link"
    fit, slope = (eta, np.ones_like(eta)) if link else _link_inverse(model.family, eta)
    if not se_fit and interval is None:
        return {"mean": fit}
    from scipy import stats

    se_eta = np.sqrt(np.einsum("in,ij,jn->n", np.where(ok, X, 0.0), model.cov, np.where(ok, X, 0.0)))
    se_eta[~ok] = np.nan
    out = {"mean": fit, "mean_se": se_eta * np.abs(slope)}
    if interval is not None:
        q = stats.t.ppf(1 - alpha / 2, model.df_resid) if model.uses_t else stats.norm.ppf(1 - alpha / 2)
        low, high = eta - q * se_eta, eta + q * se_eta
        if not link:
            low, high = _link_inverse(model.family, low)[0], _link_inverse(model.family, high)[0]
        out["mean_ci_lower"], out["mean_ci_upper"] = low, high
        if interval == "prediction":
            if not model.uses_t:
                raise ModelError("prediction intervals are for linear models; use interval='confidence'")
            spread = q * np.sqrt(se_eta**2 + model.scale)
            out["obs_ci_lower"], out["obs_ci_upper"] = fit - spread, fit + spread
    return out


def _cluster_scores(model: KMeansModel, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    X = np.column_stack([np.asarray(data[c], dtype=np.float64) for c in model.columns])
    distances = ((X[:, None, :] - model.centers[None, :, :]) ** 2).sum(axis=2)
    labels = distances.argmin(axis=1).astype(np.float64)
    labels[np.isnan(X).any(axis=1)] = np.nan
    return {"cluster": labels}


def _scores(model, data, options) -> dict[str, np.ndarray]:
    if isinstance(model, KMeansModel):
        return _cluster_scores(model, data)
    return _glm_scores(model, data, **options)


# --- in memory -------------------------------------------------------------------------------


def _columns_of(model, data) -> dict[str, np.ndarray]:
    """Numpy columns of a DataFrame or mapping; categorical labels become the model's level codes."""
    columns = {name: np.asarray(data[name]) for name in data.keys()}
    design = getattr(model, "design", None)
    for factor in design.factors if design is not None else ():
        if factor.levels is None or factor.values is not None or factor.column not in columns:
            continue
        values = columns[factor.column]
        if values.dtype.kind not in "iu":  # labels: map them to the levels the model was fitted with
            lookup = {level: code for code, level in enumerate(factor.levels)}
            columns[factor.column] = np.array(
                [lookup.get(str(v), -1) for v in values.tolist()], dtype=np.int64
            )
    return columns


def _in_memory(model, data, options):
    scores = _scores(model, _columns_of(model, data), options)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        if len(scores) == 1:
            name = "cluster" if isinstance(model, KMeansModel) else _prediction_name(model)
            return pd.Series(next(iter(scores.values())), index=data.index, name=name)
        return pd.DataFrame(scores, index=data.index)
    return next(iter(scores.values())) if len(scores) == 1 else scores


# --- on a data set, as tasks -------------------------------------------------------------------


def _prediction_name(model) -> str:
    response = model.design.response.text if model.design.response is not None else "y"
    return f"{response}_Pred"


def _output_names(model, scores: Sequence[str]) -> dict[str, str]:
    if isinstance(model, KMeansModel):
        return {"cluster": ".rxCluster"}
    stem = _prediction_name(model)[: -len("_Pred")]
    suffix = {"mean": "_Pred", "mean_se": "_StdErr", "mean_ci_lower": "_Lower", "mean_ci_upper": "_Upper",
              "obs_ci_lower": "_PredLower", "obs_ci_upper": "_PredUpper"}  # fmt: skip
    return {s: stem + suffix[s] for s in scores}


def predict_partial(
    path: str, blocks: list[int], model, options: dict, out: str, keep: tuple[str, ...]
) -> list:
    """Score ``blocks`` of ``path`` and write them as the same blocks of ``out``; returns their row counts."""
    info = get_info(path)
    design = getattr(model, "design", None)
    needed = _scoring_design(design).columns if design is not None else model.columns
    written = []
    for block in blocks:
        columns = read_block(path, block, tuple(dict.fromkeys((*needed, *keep))), info=info)
        scores = _scores(model, columns, options)
        names = _output_names(model, scores)
        (Path(out) / f"block_{block:06d}").mkdir(parents=True, exist_ok=True)
        values = [scores[s] for s in names] + [np.asarray(columns[k]) for k in keep]
        for index, array in enumerate(values):
            np.save(_column_file(Path(out), block, index), np.ascontiguousarray(array))
        written.append(len(values[0]))
    return written


def _write_manifest(out: Path, info, names: list[str], keep: Sequence[str], rows: list[int]) -> None:
    variables = [{"name": n, "type": "float64", "levels": None} for n in names]
    for name in keep:
        v = info.variable(name)
        variables.append({"name": name, "type": v.type, "levels": list(v.levels) if v.levels else None})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "rows": sum(rows),
        "block_rows": rows,
        "variables": variables,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _on_dataset(model, path: str, options, out, keep, map_blocks, blocks_per_read: int, overwrite: bool):
    info = get_info(path)
    out = Path(out if out is not None else path.rstrip("/") + "_pred")
    if out.exists():
        if not overwrite:
            raise ModelError(f"{out} already exists (pass overwrite=True to replace it)")
        shutil.rmtree(out)
    if keep is None:
        response = getattr(getattr(model, "design", None), "response", None)
        keep = (response.expression,) if response is not None and response.expression in info.names else ()
    keep = tuple(keep)
    for name in keep:
        info.variable(name)
    out.mkdir(parents=True)
    tasks = block_ranges(info.blocks, blocks_per_read)
    parts = map_blocks(
        predict_partial, [(path, blocks, model, options, os.fspath(out), keep) for blocks in tasks]
    )
    sample = _scores(model, {n: np.zeros(1) for n in _needed(model)}, options)
    _write_manifest(
        out, info, list(_output_names(model, sample).values()), keep, [n for p in parts for n in p]
    )
    return get_info(out)


def _needed(model) -> tuple[str, ...]:
    design = getattr(model, "design", None)
    return _scoring_design(design).columns if design is not None else model.columns


def predict(model, data, *, type: str = "response", se_fit: bool = False, interval: str | None = None,
            alpha: float = 0.05, out: str | os.PathLike | None = None, keep: Sequence[str] | None = None,
            map_blocks=None, blocks_per_read: int = 1, overwrite: bool = False):  # fmt: skip
    """Predictions of ``model`` for ``data`` (see the module docstring).

    ``type="response"`` gives the mean, ``"link"`` the linear predictor;
    ``se_fit=True`` adds standard errors of the mean and ``interval=
    "confidence"`` (any model) or ``"prediction"`` (linear models) limits at
    level ``1 - alpha``, named as in statsmodels' ``summary_frame``.
    """
    if type not in TYPES or interval not in INTERVALS:
        raise ModelError(f"type must be one of {TYPES} and interval one of {INTERVALS}")
    if not isinstance(model, KMeansModel) and getattr(model, "design", None) is None:
        raise ModelError("this model carries no design to score with (fitted by an older rxgrid)")
    options = {} if isinstance(model, KMeansModel) else dict(type=type, se_fit=se_fit, interval=interval,
                                                             alpha=alpha)  # fmt: skip
    if isinstance(data, str | os.PathLike):
        map_blocks = map_blocks or getattr(model, "map_blocks", None) or map_sequential
        return _on_dataset(model, os.fspath(data), options, out, keep, map_blocks, blocks_per_read, overwrite)
    if not hasattr(data, "keys"):
        raise ModelError(
            f"data must be a data set path, a DataFrame or a mapping of columns, not {data!r:.80}"
        )
    return _in_memory(model, data, options)
