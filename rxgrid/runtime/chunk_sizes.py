"""Chunk sizes of a job whose user gave none, shared by the client and the head.

Apart from :mod:`rxgrid.runtime.chunk` (which runs tasks and unpickles them) so that the head
lays out a job without importing the task-running code.
"""

from __future__ import annotations


def guided_sizes(num_tasks: int, slots: int) -> list[int]:
    """Chunk sizes when the user gave none: large first, smaller towards the end.

    Each chunk takes a share of what is left (guided self-scheduling), so the last
    chunks are small and a slow stretch of tasks cannot leave one slot working alone
    at the end; a floor of 1/(32 x slots) of the job keeps trivial tasks to a few dozen
    chunks.
    """
    slots = max(1, slots)
    floor = max(1, num_tasks // (32 * slots))
    sizes, left = [], num_tasks
    while left > 0:
        size = min(left, max(floor, -(-left // (2 * slots))))
        sizes.append(size)
        left -= size
    return sizes
