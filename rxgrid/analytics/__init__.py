"""Analytics over block data sets: RevoScaleR's rxLinMod, rxLogit, rxGlm, rxKmeans, rxGetInfo.

Data sets are directories of per-block ``.npy`` columns (``dataset``); model
fits (``models``) are map/combine loops whose map step (``partials``) is a
module-level function a cluster can run as tasks, injected as ``map_blocks``.
"""

from .airline import make_airline
from .dataset import (
    Categorical,
    DatasetInfo,
    DatasetWriter,
    csv_to_dataset,
    get_info,
    read_block,
    read_dataset,
    write_dataset,
)
from .errors import AnalyticsError, DatasetError, ModelError
from .formula import Formula, parse_formula
from .models import KMeansModel, ModelResult, glm, kmeans, lin_mod, logit, map_sequential
from .predict import predict

__all__ = [
    "AnalyticsError",
    "Categorical",
    "DatasetError",
    "DatasetInfo",
    "DatasetWriter",
    "Formula",
    "KMeansModel",
    "ModelError",
    "ModelResult",
    "csv_to_dataset",
    "get_info",
    "glm",
    "kmeans",
    "lin_mod",
    "logit",
    "make_airline",
    "map_sequential",
    "parse_formula",
    "predict",
    "read_block",
    "read_dataset",
    "write_dataset",
]
