"""The fits as users call them: ``(formula, data, ...)``, any ``data=`` form, one set of names.

``lin_mod``, ``logit``, ``glm`` and ``kmeans`` resolve ``data`` (``sources.data_source``)
and run the fitting loops of ``models`` on the path it gives. The order and option
names are those of the cluster's methods and of ``rxgrid.lin_mod`` & co.:

- ``(formula, data)``; the old ``(path, formula)`` order still works, with a
  ``RxgridDeprecationWarning`` (a ``DeprecationWarning``);
- ``max_iter`` for every iterative fit (``iter_max``, k-means' old name, warns);
- ``centers`` for k-means (an int, or a ``(k, p)`` array; ``k=`` warns).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping

from ..errors import RxgridDeprecationWarning
from . import models
from .errors import ModelError
from .models import MapBlocks, map_sequential
from .sources import _is_frame, data_source, describe


def renamed(options: dict, old: str, new: str, where: str, stacklevel: int = 3) -> None:
    """Move ``options[old]`` to ``options[new]`` with a warning (both given: an error).

    Called from the public function itself (``stacklevel`` 3), so that the warning names the
    user's line; a helper one call deeper passes 4.
    """
    if old not in options:
        return
    if new in options:
        raise ModelError(f"{where}: give {new}= only ({old}= is its deprecated old name)")
    warnings.warn(f"{where}: {old}= is deprecated, use {new}=", RxgridDeprecationWarning,
                  stacklevel=stacklevel)
    options[new] = options.pop(old)


def _is_formula(value) -> bool:
    return isinstance(value, str) and "~" in value


def _is_data(value) -> bool:
    if _is_frame(value) or isinstance(value, Mapping | os.PathLike):
        return True
    return isinstance(value, str) and "~" not in value and os.path.exists(value)


def ordered(formula, data, where: str, stacklevel: int = 3) -> tuple:
    """``(formula, data)``, accepting the deprecated ``(data, formula)`` order with a warning."""
    names = isinstance(data, list | tuple) and all(isinstance(n, str) for n in data)
    if _is_data(formula) and (_is_formula(data) or names):
        warnings.warn(f"{where}(data, formula) is deprecated: the order is {where}(formula, data)",
                      RxgridDeprecationWarning, stacklevel=stacklevel)
        return data, formula
    return formula, data


def _in_process(map_blocks) -> bool:
    return map_blocks is map_sequential


def _labelled(result, data):
    if hasattr(result, "path"):
        result.path = describe(data)
    return result


def glm(formula: str, data, family: str = "gaussian", *, map_blocks: MapBlocks = map_sequential,
        **options) -> models.ModelResult:
    """Generalized linear model (RevoScaleR's ``rxGlm``) of ``formula`` over ``data``.

    ``data``: a block data set directory, a Parquet file or directory, a CSV path or a
    pandas DataFrame. ``family``: ``"gaussian"``, ``"binomial"`` or ``"poisson"``.
    Options (``cube``, ``blocks_per_read``, ``max_iter``, ``tol``, ...) are those of
    ``rxgrid.analytics.models.glm``; ``map_blocks`` runs the block steps (default: here).
    """
    formula, data = ordered(formula, data, "glm")
    renamed(options, "iter_max", "max_iter", "glm")
    with data_source(data, in_process=_in_process(map_blocks)) as path:
        result = models.glm(path, formula, family, map_blocks=map_blocks, **options)
    return _labelled(result, data)


def lin_mod(formula: str, data, *, cube: bool = False, **options) -> models.ModelResult:
    """Linear regression by least squares (RevoScaleR's ``rxLinMod``); see `glm`."""
    formula, data = ordered(formula, data, "lin_mod")
    renamed(options, "iter_max", "max_iter", "lin_mod")
    return glm(formula, data, "gaussian", cube=cube, **options)


def logit(formula: str, data, **options) -> models.ModelResult:
    """Logistic regression of a 0/1 response (RevoScaleR's ``rxLogit``); see `glm`."""
    formula, data = ordered(formula, data, "logit")
    renamed(options, "iter_max", "max_iter", "logit")
    return glm(formula, data, "binomial", **options)


def kmeans(formula, data, centers=None, *, map_blocks: MapBlocks = map_sequential,
           **options) -> models.KMeansModel:
    """k-means (RevoScaleR's ``rxKmeans``) over the columns of ``formula`` (``"~ a + b"`` or names).

    ``centers``: the number of clusters or a ``(k, p)`` array of starting centers.
    Options: ``max_iter`` (10), ``tol``, ``seed``, ``blocks_per_read``.
    """
    formula, data = ordered(formula, data, "kmeans")
    renamed(options, "k", "centers", "kmeans")
    renamed(options, "iter_max", "max_iter", "kmeans")
    if "centers" in options:
        if centers is not None:
            raise ModelError("kmeans: give centers once")
        centers = options.pop("centers")
    if centers is None:
        raise ModelError("kmeans needs centers: a number of clusters or an array of starting centers")
    if "max_iter" in options:
        options["iter_max"] = options.pop("max_iter")  # models.kmeans' own name
    with data_source(data, in_process=_in_process(map_blocks)) as path:
        return models.kmeans(path, formula, centers, map_blocks=map_blocks, **options)
