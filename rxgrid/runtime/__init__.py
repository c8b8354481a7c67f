"""What runs tasks anywhere: in the caller (``local_sequential()``), in an executor's
process, or in a worker's executor.

    chunk        run a chunk of tasks (seeding, per-task folders, failures)
    seeding      one random stream per task (``rxgrid.task_rng``)
    serialize    pickling of functions, arguments and results
    args         ``each`` and how arguments are cut into per-task values
    builtin      the built-in kernels by name (``rxgrid worker --builtin``)
    remote_exceptions  a task's exception pickled where it ran, rebuilt where it is read
    chunk_sizes  guided chunk sizes (pure: the head imports it without the unpickling)

Nothing here imports grpc or the client, head or worker (``tests/test_layers.py``). This
package's ``__init__`` imports nothing, so the head can read ``chunk_sizes`` alone.
"""
