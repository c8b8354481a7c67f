"""Analytics over big data: RevoScaleR's rxLinMod, rxLogit, rxGlm, rxKmeans, rxImport,
rxSummary, rxCrossTabs, rxCube, rxQuantile and rxGetInfo.

Every fit and summary takes ``(formula, data, ...)``: ``data`` is a block data set
directory, a Parquet file or directory, a CSV path or a pandas DataFrame (``sources``).
Data sets are directories of per-block ``.npy`` columns (``dataset``); model fits
(``models``) and summaries (``summaries``, ``quantiles``) are map/combine loops whose map
step is a module-level function a cluster can run as tasks, injected as ``map_blocks``.
"""

from .airline import make_airline
from .api import glm, kmeans, lin_mod, logit
from .dataset import (
    Categorical,
    DatasetInfo,
    DatasetWriter,
    get_info,
    read_block,
    read_dataset,
    write_dataset,
)
from .errors import AnalyticsError, DatasetError, ModelError
from .formula import Formula, parse_formula
from .importing import csv_to_dataset, import_data
from .models import KMeansModel, ModelResult, map_sequential
from .predict import predict
from .quantiles import quantile
from .sources import data_source
from .summaries import crosstabs, cube, summary

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
    "crosstabs",
    "csv_to_dataset",
    "cube",
    "data_source",
    "get_info",
    "glm",
    "import_data",
    "kmeans",
    "lin_mod",
    "logit",
    "make_airline",
    "map_sequential",
    "parse_formula",
    "predict",
    "quantile",
    "read_block",
    "read_dataset",
    "summary",
    "write_dataset",
]
