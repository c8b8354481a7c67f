"""What bounds rxgrid's round trip: wall time and CPU per process of one blocking trivial call.

``python -m benchmarks.roundtrip_cost [--calls 300] [--rounds 3] [--systems rxgrid chain ray]
[--out benchmarks/ROUNDTRIP.md]``

The call is the overhead group's ``roundtrip`` (``benchmarks.overhead``): after
``WARMUP_CALLS`` untimed calls, ``system.call(tasks.trivial, 1)`` blocks ``--calls`` times on
``rxgrid.local(workers=2, cores_per_worker=1)`` and on ``ray.init(num_cpus=2)``; p50 and p95
of the wall time per call. Around the timed calls, psutil reads the CPU time (user +
system) of this process and of every process it started, summed by role (client, head,
worker daemons, executors; for Ray its driver, GCS, raylet and workers), divided by the
calls: CPU ms per round trip. The CPU is a mean over the calls, so "wall mean - CPU sum"
is the part of a mean round trip in which no process on the path was on a CPU: wake-ups,
sockets, scheduling (a background thread's CPU counts in the sum too, so this is a lower
bound of that waiting); "wall p50 - CPU sum" is given too, and is smaller when a tail of
slow calls lifts the mean.

``chain`` is the floor of rxgrid's shape with the same grpcio: four Python processes that
only forward a few bytes, over the transports rxgrid uses on each hop. The client keeps
one standing bidi stream to a grpc.aio server in the head's place (as ``rxgrid.client.rpc``
does with ExecJobs); that server writes the request onto a bidi stream that a grpc.aio
client in the daemon's place opened to it (RunSession); that process sends it through a
``multiprocessing`` spawn pipe, watched by ``loop.add_reader``, to a process in the
executor's place (``rxgrid.worker.slot``), which sends it straight back; the reply returns
the same way. No pickling of functions, no SQLite, no job layout: what is left is what
four processes and three hops cost. If the chain alone is slower than Ray/2, no trimming
inside the processes meets the goal; fewer processes on the path are needed.

Run as a script, it imports ``benchmarks.__main__``, which sets ``NUMBA_NUM_THREADS=1`` and
puts this checkout on ``PYTHONPATH`` for every process started from here (not on import:
the tests import this module) (Ray's workers import
``benchmarks.tasks`` by reference). Rounds are interleaved (rxgrid, chain, ray, rxgrid,
...; ``common.interleave``), each system started for its turn and shut down after it,
every turn in a process of its own (``Config.isolate``).
CPU figures come in 10 ms ticks per process: at 300 calls a tick is 0.03 ms per round
trip. Writes ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import pickle
import queue
import socket
import statistics
import subprocess
import sys
import time

if __name__ == "__main__":  # not on import (tests): NUMBA_NUM_THREADS=1, PYTHONPATH
    from . import __main__  # noqa: F401

from . import machine, systems
from .common import (
    Config,
    Recorder,
    cpu_by_role,
    interleave,
    left_behind,
    rxgrid_role,
    timed,
)
from .overhead import WARMUP_CALLS
from .tasks import trivial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

GROUP = "roundtrip-cost"
SYSTEMS = ("rxgrid", "chain", "ray")
ROLES = {"rxgrid": ("head", "daemon", "executor"), "chain": ("head", "daemon", "executor"),
         "ray": ("gcs", "raylet", "worker", "other")}
ROLE_NAMES = {"client": "client (this process)", "head": "head (chain: its place)",
              "daemon": "worker daemons", "executor": "executors", "gcs": "Ray GCS",
              "raylet": "Ray raylet", "worker": "Ray workers", "other": "other Ray processes"}
EXEC, SESSION = "/roundtrip.Chain/Exec", "/roundtrip.Chain/Session"
log = logging.getLogger("benchmarks.roundtrip_cost")


# ---------------------------------------------------------------- the bare chain
async def _serve_head(address: str) -> None:
    """The head's place: forwards each request of the client's stream onto the daemon's."""
    import grpc
    loop = asyncio.get_running_loop()
    session: asyncio.Queue = asyncio.Queue()  # requests for the daemon's stream
    waiting: dict[bytes, asyncio.Future] = {}
    connected = asyncio.Event()

    async def run_session(requests, context):  # the daemon's stream: we write, it answers
        connected.set()

        async def read() -> None:
            async for reply in requests:
                waiting.pop(reply[:8]).set_result(reply[8:])
        reader = asyncio.create_task(read())
        try:
            while True:
                await context.write(await session.get())
        finally:
            reader.cancel()

    async def exec_jobs(requests, context):  # the client's standing stream
        await connected.wait()
        number = 0
        async for request in requests:
            number += 1
            key = number.to_bytes(8, "little")
            waiting[key] = loop.create_future()
            session.put_nowait(key + request)
            yield await waiting[key]

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("roundtrip.Chain", {
        "Exec": grpc.stream_stream_rpc_method_handler(exec_jobs),
        "Session": grpc.stream_stream_rpc_method_handler(run_session)}),))
    server.add_insecure_port(address)
    await server.start()
    await server.wait_for_termination()


def _executor(conn) -> None:
    """The executor's place: sends every message straight back."""
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        conn.send(("done", message[1]))


async def _run_daemon(address: str) -> None:
    """The daemon's place: opens a stream to the head, runs what comes on it in its executor."""
    import grpc
    spawn = multiprocessing.get_context("spawn")
    conn, child = spawn.Pipe()
    process = spawn.Process(target=_executor, args=(child,), daemon=True)
    process.start()
    child.close()
    conn.recv()
    loop, inbox = asyncio.get_running_loop(), asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: inbox.put_nowait(conn.recv()))
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            call = channel.stream_stream(SESSION)()
            async for message in call:
                conn.send(("run", message[8:]))
                _, reply = await inbox.get()
                await call.write(message[:8] + reply)
    finally:
        process.kill()


def _wait_for_port(address: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=0.1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the chain's head did not listen on {address}") from None
            time.sleep(0.01)


class Chain(systems.System):
    """Four processes forwarding a few bytes over rxgrid's transports (see the module doc)."""

    name = "chain"

    def start(self) -> None:
        import grpc

        from rxgrid.client.local import free_port
        self.procs: list[subprocess.Popen] = []
        self.address = f"127.0.0.1:{free_port()}"
        for role in ("head", "daemon"):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "benchmarks.roundtrip_cost", "--chain-process", role,
                 "--address", self.address], cwd=ROOT, stdin=subprocess.DEVNULL))
            if role == "head":
                _wait_for_port(self.address, self.procs[0])
        self.channel = grpc.insecure_channel(self.address)
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._responses = self.channel.stream_stream(EXEC)(iter(self._requests.get, None))

    def stop(self) -> None:
        if hasattr(self, "_requests"):
            self._requests.put(None)
            self._responses.cancel()
            self.channel.close()
        import psutil
        executors = [c for proc in getattr(self, "procs", []) if proc.poll() is None
                     for c in psutil.Process(proc.pid).children()]
        for proc in reversed(getattr(self, "procs", [])):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # The executor's place ends when its pipe closes; wait for it, kill it if it lingers.
        for lingering in psutil.wait_procs(executors, timeout=5)[1]:
            lingering.kill()

    def call(self, fn, x):
        """``x`` travels to the executor's place and back; ``fn`` (trivial) is not sent."""
        self._requests.put(pickle.dumps(x))
        return pickle.loads(next(self._responses))


def chain_role(process) -> str | None:
    cmd = " ".join(process.cmdline())
    for role in ("head", "daemon"):
        if f"--chain-process {role}" in cmd:
            return role
    parent = process.parent()
    if parent is not None and "--chain-process daemon" in " ".join(parent.cmdline()) \
            and "resource_tracker" not in cmd:
        return "executor"
    return None


def ray_role(process) -> str | None:
    cmd = " ".join(process.cmdline())
    if "gcs_server" in cmd:
        return "gcs"
    if "raylet" in cmd.split(" ")[0] or "/raylet " in cmd:
        return "raylet"
    if cmd.startswith("ray::") or "default_worker.py" in cmd:
        return "worker"
    return "other"


ROLE_OF = {"rxgrid": rxgrid_role, "chain": chain_role, "ray": ray_role}


# ---------------------------------------------------------------- measuring
def make(name: str):
    return Chain() if name == "chain" else systems.make(name)


def measure(system, calls: int, rec: Recorder, rnd: int) -> None:
    """One round on ``system``: wall per call (p50, p95) and CPU ms per call by role."""
    import numpy as np
    for _ in range(WARMUP_CALLS):
        system.call(trivial, 1)
    role_of, roles = ROLE_OF[system.name], ROLES[system.name]
    before, times, answers = cpu_by_role(role_of, roles), [], set()
    for _ in range(calls):
        seconds, answer = timed(system.call, trivial, 1)
        times.append(seconds * 1e3)
        answers.add(answer)
    after = cpu_by_role(role_of, roles)
    if answers != {1}:
        raise RuntimeError(f"{system.name}: {calls} calls answered {sorted(answers)}, not [1]")
    p50, p95 = (float(v) for v in np.percentile(times, [50, 95]))
    mean = statistics.fmean(times)
    cpu = {role: (after[role] - before.get(role, 0.0)) * 1e3 / calls for role in after}
    total = sum(cpu.values())
    for metric, value in (("p50", p50), ("p95", p95), ("mean", mean), *cpu.items(),
                          ("sum", total), ("wait", p50 - total), ("wait-mean", mean - total)):
        rec.add(GROUP, "roundtrip", metric, "ms", "lower", system.name, value, calls=calls)
    log.info("%s round %d: p50 %.3f ms, p95 %.3f ms, CPU per call %s", system.name, rnd + 1,
             p50, p95, ", ".join(f"{k} {v:.3f}" for k, v in cpu.items()))


def run(calls: int, rounds: int, names: tuple[str, ...]) -> Recorder:
    rec = Recorder()
    interleave(GROUP, Config(reps=rounds, systems=names, isolate=True), rec, ["roundtrip"],
               lambda system, _, rnd: measure(system, calls, rec, rnd), make=make)
    return rec


# ---------------------------------------------------------------- the report
def _values(rec: Recorder) -> dict[tuple[str, str], list[float]]:
    return {(m.system, m.metric): m.values for m in rec.items if m.values}


def _cell(values: list[float] | None) -> str:
    if not values:
        return "–"
    return f"{statistics.median(values):.3f} ({min(values):.3f}–{max(values):.3f})"


def _median(found: dict, system: str, metric: str) -> float | None:
    values = found.get((system, metric))
    return statistics.median(values) if values else None


def conclusion(found: dict) -> str:
    """One paragraph from the medians: what the goal needs, and which process bounds it."""
    rx, chain, ray = (_median(found, s, "p50") for s in SYSTEMS)
    if rx is None:
        return "rxgrid was not measured: nothing to conclude."
    said = []
    goal = ray / 2 if ray is not None else None
    if goal is not None:
        said.append(f"The goal is a p50 of at most {goal:.3f} ms (Ray/2); rxgrid's is "
                    f"{rx:.3f} ms, {rx / goal:.2f}x the goal.")
    cpu = {r: _median(found, "rxgrid", r) for r in ("client", *ROLES["rxgrid"])}
    top = max(cpu, key=lambda r: cpu[r] or 0.0)
    total, wait = _median(found, "rxgrid", "sum"), _median(found, "rxgrid", "wait-mean")
    mean = _median(found, "rxgrid", "mean")
    said.append(f"Per round trip the processes on rxgrid's path spend {total:.3f} ms of CPU "
                f"({', '.join(f'{r} {v:.3f}' for r, v in cpu.items())}) against a mean wall of "
                f"{mean:.3f} ms: " + (
                    f"{wait:.3f} ms of it is waiting with none of them on a CPU." if wait > 0 else
                    "more CPU than wall time (processes and threads overlap on the cores), so "
                    "the round trip is bound by CPU, not by waiting."))
    said.append(f"The {top} alone spends {cpu[top]:.3f} ms"
                + (f", {'more' if cpu[top] > goal else 'less'} than Ray/2." if goal else "."))
    if chain is not None:
        said.append(f"The bare chain of the same four processes over the same transports "
                    f"takes {chain:.3f} ms at p50 (its processes spend "
                    f"{_median(found, 'chain', 'sum'):.3f} ms of CPU per call), so rxgrid's own "
                    f"work in them adds {rx - chain:.3f} ms.")
        if goal is not None:
            said.append(
                f"The chain alone is {'above' if chain > goal else 'below'} Ray/2: " +
                ("no trimming inside these processes can meet the goal; it needs fewer "
                 "processes or hops on the path." if chain > goal else
                 f"the goal is within this shape's reach if rxgrid's own work is cut by "
                 f"{rx - goal:.3f} of its {rx - chain:.3f} ms."))
    return " ".join(said)


def markdown(rec: Recorder, calls: int, rounds: int, names: tuple[str, ...], command: str) -> str:
    found = _values(rec)
    lines = [f"# Round trip: what bounds it ({GROUP})", "",
             f"`{command}`: {calls} blocking trivial calls per round after {WARMUP_CALLS} "
             f"warm-up calls, {rounds} interleaved rounds; median (min–max) over rounds. "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: "
             f"{machine.facts()}. CPU times come in 10 ms ticks per process: "
             f"{10 / calls:.3f} ms per round trip.", "",
             "## Wall time per call (ms)", "", "| system | p50 | p95 | mean |", "|---|---|---|---|"]
    for name in names:
        lines.append("| " + " | ".join([name, *(_cell(found.get((name, m)))
                                                for m in ("p50", "p95", "mean"))]) + " |")
    if found.get(("ray", "p50")):
        lines.append(f"| Ray/2 (the goal) | {_cell([v / 2 for v in found[('ray', 'p50')]])} "
                     "| | |")
    failed = [f"{m.system}: {m.status}" for m in rec.items if m.status != "ok"]
    lines += [*(f"\n{f}" for f in failed), "", "## CPU per round trip by process (ms)", "",
              "| process | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    roles = dict.fromkeys(["client", *(r for n in names for r in ROLES[n])])
    for role in (*roles, "sum", "wait", "wait-mean"):
        title = {**ROLE_NAMES, "sum": "**sum**", "wait": "wall p50 − sum",
                 "wait-mean": "wall mean − sum (no process on a CPU)"}[role]
        lines.append(f"| {title} | " + " | ".join(_cell(found.get((n, role))) for n in names)
                     + " |")
    lines += ["", "## Conclusion", "", conclusion(found), ""]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.roundtrip_cost",
                                description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=300, help="timed calls per round")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3 or more to "
                   "read the ranges)")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "ROUNDTRIP.md"))
    p.add_argument("--chain-process", choices=("head", "daemon"), help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.chain_process:
        asyncio.run((_serve_head if args.chain_process == "head" else _run_daemon)(args.address))
        return 0
    logging.basicConfig(level=logging.INFO, datefmt="%H:%M:%S",
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("ray").setLevel(logging.WARNING)
    names = tuple(n for n in SYSTEMS if n in args.systems)
    rec = run(args.calls, args.rounds, names)
    text = markdown(rec, args.calls, args.rounds, names,
                    "python -m benchmarks.roundtrip_cost " + " ".join(argv))
    left = left_behind()
    text += f"\nProcesses left behind: {left or 'none'}.\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0 if not left else 1


if __name__ == "__main__":
    sys.exit(main())
