"""How long one large submit holds the head's event loop.

``python -m benchmarks.layout_stall 1000 20000`` submits a dice kernel job of N one-task
chunks to a local head per argument while another thread runs gRPC health checks in a
loop, and prints the slowest health check: the time the head's loop spent laying out
the job (chunks, scheduler queue, the insert) instead of answering. Bounded: one job per
argument, each cancelled at once.
"""

from __future__ import annotations

import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

import rxgrid
from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._proto import rxgrid_pb2_grpc as pb_grpc


def worst_health_check_during_submit(stub, health, chunks: int) -> tuple[float, float]:
    """(seconds the submit took, slowest health check while it ran)."""
    worst, started, stop = [0.0], threading.Event(), threading.Event()

    def ping() -> None:
        while not stop.is_set():
            t = time.perf_counter()
            health.Check(health_pb2.HealthCheckRequest())
            worst[0] = max(worst[0], time.perf_counter() - t)
            started.set()

    pinger = threading.Thread(target=ping)
    pinger.start()
    started.wait(30)
    job_id = f"layout-stall-{chunks}-{time.time_ns()}"
    t = time.perf_counter()
    recipe = pb.TaskRecipe(kernel=pb.KernelCall(name="dice", params={"games": 1}))
    stub.SubmitJob(pb.SubmitJobRequest(job=pb.JobSpec(job_id=job_id, recipe=recipe,
                                                      num_tasks=chunks, chunk_size=1)))
    took = time.perf_counter() - t
    stop.set()
    pinger.join()
    stub.CancelJob(pb.CancelJobRequest(job_id=job_id))
    return took, worst[0]


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1000, 20000]
    with rxgrid.local(workers=1) as cluster, grpc.insecure_channel(cluster.address) as channel:
        stub, health = pb_grpc.ClusterStub(channel), health_pb2_grpc.HealthStub(channel)
        for chunks in sizes:
            took, worst = worst_health_check_during_submit(stub, health, chunks)
            print(f"{chunks:>7,} chunks: submit {took:.2f} s, slowest health check {worst * 1000:.0f} ms",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
