"""Every tunable of the head in one place, and the ones the CLI and ``local()`` share.

Change a value here and every part that uses it follows: the head's constructor, the
``rxgrid head`` flags and ``rxgrid.local()`` all read ``LEASE_TIMEOUT`` from this module.
"""

from __future__ import annotations

# ---------------------------------------------------------------- worker sessions
HEARTBEAT_INTERVAL = 1.0  # s between a worker's heartbeats (the head tells it at RegisterWorker)
LEASE_TIMEOUT = 10.0  # s a worker may stay silent (or a per-node worker away) before it is lost

# ---------------------------------------------------------------- jobs
MAX_RETRIES = 100  # re-runs of a task that raises (retries=): the client checks it, the head enforces it

# ---------------------------------------------------------------- messages and blobs
MAX_MESSAGE_BYTES = 64 << 20  # the gRPC message limit of both services
BLOB_PIECE_BYTES = 4 << 20  # a streamed blob (GetBlob) travels in pieces of this size
INLINE_BLOB_LIMIT = 1 << 20  # blobs up to this size ride along with a chunk assignment
INLINE_BLOB_CACHE_ENTRIES = 256  # such blobs the head keeps in memory for assignments
SMALL_BLOB_BYTES = 64 << 10  # blobs below this size are database rows, not files
SMALL_BLOB_CACHE_ENTRIES = 4096  # small blob rows kept in memory after their commit

# ---------------------------------------------------------------- the state database
LAZY_COMMIT_SECONDS = 0.005  # how long a write nobody waits on may wait for company
RESULT_PAGE_ROWS = 256  # stored chunk results are read in whole pages of this many rows

# ---------------------------------------------------------------- the dashboard (HTTP)
DASHBOARD_MAX_HEADER_BYTES = 32 * 1024
DASHBOARD_MAX_BODY_BYTES = 64 * 1024
DASHBOARD_REQUEST_TIMEOUT = 30.0  # s to read one request
DASHBOARD_MAX_LISTED_JOBS = 500
DASHBOARD_MAX_QUEUE_ROWS = 200
DASHBOARD_MAX_ERRORS = 200  # task errors shown for one job
DASHBOARD_MAX_OUTPUTS = 200  # task outputs shown for one job
DASHBOARD_MAX_STREAM_CHARS = 64 * 1024  # of one traceback, stdout or stderr
