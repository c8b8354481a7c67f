"""The ``rxgrid`` command: run a head, a worker or a local cluster; look at jobs.

    rxgrid head --listen 127.0.0.1:50051 --state-dir DIR
    rxgrid worker --head 127.0.0.1:50051 --cores 2
    rxgrid local --workers 2            a head and workers in the foreground
    rxgrid demo                         the seed 001 examples on an embedded cluster
    rxgrid jobs | status JOB | result JOB | cancel JOB | cleanup [--force] [JOB...] | workers
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import time

from . import defaults
from .states import JobState

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT,
                        stream=sys.stderr)


def _log_to_file(path: str) -> None:
    """Also log to a rotating file (10 MB x 5), for processes that run for days."""
    from logging.handlers import RotatingFileHandler
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=10 << 20, backupCount=5)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)


def _head_address(args) -> str:
    address = args.head or os.environ.get("RXGRID_HEAD")
    if not address:
        raise SystemExit("rxgrid: say which head to use: --head HOST:PORT or RXGRID_HEAD=HOST:PORT")
    return address


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def cmd_head(args) -> int:
    # Everything the head writes (database, blobs, logs) is for this user only.
    os.umask(0o077)
    if args.log_file != "":
        _log_to_file(args.log_file or os.path.join(args.state_dir, "logs", "rxgrid-head.log"))
    from .head.auth import read_secret
    from .head.server import Security, serve
    security = Security(
        client_token=read_secret(args.token_file, os.environ.get("RXGRID_TOKEN"), "client token"),
        users=_read_users(args.users_file),
        worker_token=read_secret(args.worker_token_file, os.environ.get("RXGRID_WORKER_TOKEN"),
                                 "worker token"),
        tls_cert=args.tls_cert, tls_key=args.tls_key, tls_client_ca=args.tls_client_ca,
        insecure=args.insecure)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("rxgrid: --tls-cert and --tls-key go together")
    from .head.store import StateFormatError
    try:
        serve(args.listen, args.state_dir, ready_file=args.ready_file, parent_pid=args.parent_pid,
              heartbeat_interval=args.heartbeat, lease_timeout=args.lease_timeout,
              security=security, dashboard=args.dashboard)
    except StateFormatError as exc:
        raise SystemExit(f"rxgrid: {exc}") from None
    return 0


def _read_users(path: str | None):
    """The users of ``--users-file`` (None without one); a bad file stops the head."""
    if not path:
        return None
    from .head.users import Users, UsersFileError
    try:
        return Users.from_file(path)
    except UsersFileError as exc:
        raise SystemExit(f"rxgrid: {exc}") from None


def _channel_settings(args, token_var: str):
    from .head.auth import read_secret
    from .transport.channel import ChannelSettings
    token = read_secret(getattr(args, "token_file", None), None, "token")
    return ChannelSettings.from_env(token_var, token=token, tls_ca=getattr(args, "tls_ca", None),
                                    tls_cert=getattr(args, "tls_cert", None),
                                    tls_key=getattr(args, "tls_key", None),
                                    server_name=getattr(args, "tls_server_name", None))


def cmd_worker(args) -> int:
    if args.log_file:
        _log_to_file(args.log_file)
    if args.warm_kernels:
        os.environ["RXGRID_WARM_KERNELS"] = "1"
    from .worker.daemon import run_worker
    run_worker(_head_address(args), args.cores or os.cpu_count() or 1, args.name,
               parent_pid=args.parent_pid, max_attempts=args.max_attempts,
               settings=_channel_settings(args, "RXGRID_WORKER_TOKEN"),
               simulate=args.simulate, task_delay=args.task_delay,
               count=args.simulate if args.simulate else 1)
    return 0


def cmd_local(args) -> int:
    import signal
    import threading

    from .client.local import LocalCluster
    with LocalCluster(args.workers, cores_per_worker=args.cores, state_dir=args.state_dir) as cluster:
        print(f"rxgrid local cluster at {cluster.address} (state dir {cluster.state_dir}); "
              f"export RXGRID_HEAD={cluster.address}. Ctrl-C stops it.", flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    return run_demo(args.workers, test=args.test, out=args.out)


def _connect(args):
    from .client.cluster import Cluster
    return Cluster(_head_address(args), retry_deadline=5, timeout=5,
                   settings=_channel_settings(args, "RXGRID_TOKEN"))


def cmd_certs(args) -> int:
    from .certs import make_certificates
    paths = make_certificates(args.dir, args.host, args.days)
    print("\n".join(f"wrote {p}" for p in paths.values()))
    return 0


def _print_jobs(jobs, as_json: bool) -> None:
    if as_json:
        print(json.dumps([j.__dict__ for j in jobs], indent=1, default=str))
        return
    print(f"{'JOB':36} {'OWNER':12} {'STATE':10} {'PRI':>4} {'DONE':>8} {'FAILED':>7} "
          f"{'TOTAL':>8}  SUBMITTED")
    for j in jobs:
        print(f"{j.id:36} {j.owner or '-':12} {j.state:10} {j.priority:>4} {j.tasks_done:>8} "
              f"{j.tasks_failed:>7} {j.tasks_total:>8}  {_when(j.submitted_at)}")


def cmd_jobs(args) -> int:
    with _connect(args) as cluster:
        since = datetime.datetime.fromisoformat(args.since).timestamp() if args.since else None
        until = datetime.datetime.fromisoformat(args.until).timestamp() if args.until else None
        _print_jobs(cluster.jobs(args.state, since, until, args.limit), args.json)
    return 0


def _cluster_status(cluster) -> int:
    usage = cluster.disk_usage()
    workers = cluster.workers()
    jobs = ", ".join(f"{n} {s}" for s, n in sorted(usage.jobs_by_state.items())) or "no jobs"
    print(f"head {cluster.address}: {len(workers)} workers, "
          f"{sum(w.cores for w in workers)} cores ({sum(w.busy for w in workers)} busy); {jobs}")
    print(f"state dir {usage.state_dir}: {usage.total_bytes / 1e6:.1f} MB "
          f"(database {usage.database_bytes / 1e6:.1f} MB, {usage.blobs} blobs "
          f"{usage.blob_bytes / 1e6:.1f} MB)")
    return 0


def cmd_status(args) -> int:
    with _connect(args) as cluster:
        if not args.job:
            return _cluster_status(cluster)
        job = cluster.job(args.job)
        if args.follow:
            for info in job.watch(progress=False):  # its lines are the progress
                print(f"{time.strftime('%H:%M:%S')} {info.id} {info.state}: {info.tasks_done} done, "
                      f"{info.tasks_failed} failed of {info.tasks_total}", flush=True)
            return 0 if info.state == JobState.FINISHED else 1
        info = job.info()
        if args.json:
            print(json.dumps(info.__dict__, indent=1))
            return 0
        print(f"job {info.id} ({info.name}){' of ' + info.owner if info.owner else ''}: "
              f"{info.state}, {info.tasks_done} done, "
              f"{info.tasks_failed} failed of {info.tasks_total} tasks; priority {info.priority}; "
              f"submitted {_when(info.submitted_at)}, finished {_when(info.finished_at)}"
              + (f"; {info.error}" if info.error else ""))
    return 0


def cmd_result(args) -> int:
    from .errors import TaskFailure
    with _connect(args) as cluster:
        values = cluster.job(args.job).result_now()
        if isinstance(values, dict):
            values = list(values.items())
        for i, value in enumerate(values):
            print(f"[{i}] {value!r}" if not isinstance(value, TaskFailure) else
                  f"[{i}] FAILED {value.type}: {value.message}")
    return 0


def cmd_logs(args) -> int:
    with _connect(args) as cluster:
        outputs = cluster.job(args.job).logs(args.task)
        if not outputs:
            print(f"no output kept for job {args.job} (run it with console_output=True)")
        for task, o in sorted(outputs.items()):
            print(f"--- task {task} ---")
            if o.stdout:
                print(o.stdout, end="" if o.stdout.endswith("\n") else "\n")
            if o.stderr:
                print("[stderr]\n" + o.stderr, end="" if o.stderr.endswith("\n") else "\n")
    return 0


def cmd_files(args) -> int:
    with _connect(args) as cluster:
        job = cluster.job(args.job)
        if args.download:
            for path in job.download(args.download, args.task):
                print(f"wrote {path}")
            return 0
        for task, paths in sorted(job.files().items()):
            if args.task in (None, task):
                for path in paths:
                    print(f"{task}\t{path}")
    return 0


def cmd_services(args) -> int:
    with _connect(args) as cluster:
        if args.name:
            svc = cluster.service(args.name, args.version or "")
            print(svc.swagger())
            return 0
        services = cluster.services()
        if args.json:
            from .client.services import describe_services
            print(describe_services(services))
            return 0
        print(f"{'SERVICE':24} {'VERSION':10} {'INPUTS':30} DESCRIPTION")
        for s in services:
            inputs = ", ".join(f"{k}: {v}" for k, v in s.inputs.items())
            print(f"{s.name:24} {s.version:10} {inputs:30} {s.description}")
    return 0


def cmd_batch(args) -> int:
    with _connect(args) as cluster:
        if args.action == "start":
            svc = cluster.service(args.target, args.version)
            batch = svc.batch(args.records, parallel_count=args.parallel).start()
            print(batch.id)
            return 0
        job = cluster.job(args.target)
        if args.action == "status":
            info = job.info()
            from .client.services import _STATES
            print(f"batch {info.id} of {info.name}: {_STATES[info.state]}, "
                  f"{info.tasks_done + info.tasks_failed} of {info.tasks_total} records done, "
                  f"{info.tasks_failed} failed")
        elif args.action == "files":
            for task, paths in sorted(job.files().items()):
                if args.record in (None, task):
                    print("\n".join(f"{task}\t{p}" for p in paths))
        elif args.action == "download":
            from .client.job import download_files
            for path in download_files(job._file_records(), job._conn.fetch_blob, args.dest,
                                       task=args.record, name=args.name):
                print(f"wrote {path}")
    return 0


def cmd_cancel(args) -> int:
    with _connect(args) as cluster:
        cancelled = cluster.job(args.job).cancel()
        print(f"job {args.job} {'cancelled' if cancelled else 'had already ended'}")
    return 0


def cmd_cleanup(args) -> int:
    with _connect(args) as cluster:
        removed = cluster.cleanup(args.jobs or None, force=args.force)
        print(f"removed {len(removed)} job(s)" + (": " + " ".join(removed) if removed else ""))
    return 0


def cmd_workers(args) -> int:
    with _connect(args) as cluster:
        print(f"{'WORKER':24} {'HOST':20} {'CORES':>5} {'BUSY':>4} {'CHUNKS':>7}  STATE")
        for w in cluster.workers():
            print(f"{w.name:24} {w.host:20} {w.cores:>5} {w.busy:>4} {w.chunks_done:>7}  {w.state}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxgrid", description="rxExec for Python: a compute cluster.")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name, func, help_text, head=False):
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(func=func)
        p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
        if head:
            p.add_argument("--head", help="head address HOST:PORT (default $RXGRID_HEAD)")
            p.add_argument("--token-file", help="file holding the token (default $RXGRID_TOKEN, "
                                                "or $RXGRID_WORKER_TOKEN for a worker)")
            p.add_argument("--tls-ca", help="CA certificate to check the head's (turns TLS on)")
            p.add_argument("--tls-cert", help="client certificate, for heads that require one")
            p.add_argument("--tls-key", help="key of the client certificate")
            p.add_argument("--tls-server-name", help="name to check the head's certificate for")
        return p

    p = command("head", cmd_head, "run a head node")
    p.add_argument("--listen", default="127.0.0.1:50051", help="HOST:PORT (loopback by default)")
    p.add_argument("--state-dir", default="rxgrid-state", help="where jobs and results are kept")
    p.add_argument("--heartbeat", type=float, default=defaults.HEARTBEAT_INTERVAL,
                   help="worker heartbeat interval, s")
    p.add_argument("--lease-timeout", type=float, default=defaults.LEASE_TIMEOUT,
                   help="a worker silent this long is lost and its chunks rerun, s")
    p.add_argument("--token-file", help="client token file (default $RXGRID_TOKEN): one admin")
    p.add_argument("--users-file", help="named client tokens, one 'name token [admin]' line "
                                        "each (mode 600): each user sees only their own jobs")
    p.add_argument("--worker-token-file", help="worker token file (default $RXGRID_WORKER_TOKEN)")
    p.add_argument("--tls-cert", help="server certificate (PEM): turns TLS on")
    p.add_argument("--tls-key", help="server key (PEM)")
    p.add_argument("--tls-client-ca", help="require client certificates signed by this CA")
    p.add_argument("--dashboard", metavar="HOST:PORT",
                   help="serve the web dashboard and Prometheus /metrics here (e.g. 127.0.0.1:8265)")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback address without tokens (trusted networks only)")
    p.add_argument("--log-file", default=None,
                   help="rotating log file (default STATE_DIR/logs/rxgrid-head.log; '' for none)")
    p.add_argument("--ready-file", help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)

    p = command("worker", cmd_worker, "run a worker daemon", head=True)
    p.add_argument("--cores", type=int, default=0, help="executor processes (default: all cores)")
    p.add_argument("--name", default="", help="worker name (default HOST-PID)")
    p.add_argument("--warm-kernels", action=argparse.BooleanOptionalAction, default=True,
                   help="load the Numba kernels in every executor at start (default: yes)")
    p.add_argument("--log-file", default=None, help="also log to this rotating file")
    p.add_argument("--simulate", type=int, default=0, metavar="N",
                   help="run N simulated workers in this process (no executors; tasks take "
                        "--task-delay seconds and return None): for scale tests of a head")
    p.add_argument("--task-delay", type=float, default=0.0)
    p.add_argument("--max-attempts", type=int, default=3,
                   help="runs of a task whose executor dies before it is failed")
    p.add_argument("--parent-pid", type=int, default=0, help=argparse.SUPPRESS)

    p = command("local", cmd_local, "run a head and workers on this machine in the foreground")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cores", type=int, default=None, help="cores per worker")
    p.add_argument("--state-dir", default=None)

    p = command("demo", cmd_demo, "run the seed 001 and 000 examples on an embedded local cluster")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--test", action="store_true", help="tiny data: proves the pipeline in seconds")
    p.add_argument("--out", default="rxgrid-demo", help="folder for the PNG pictures")

    p = command("jobs", cmd_jobs, "list jobs", head=True)
    p.add_argument("--state", choices=list(JobState))
    p.add_argument("--since", help="submitted at or after (ISO time, e.g. 2026-11-22T08:00)")
    p.add_argument("--until", help="submitted before (ISO time)")
    p.add_argument("--limit", type=int, default=0, help="the newest N only")
    p.add_argument("--json", action="store_true")

    p = command("status", cmd_status, "a job's state and progress, or the cluster's (no JOB)",
                head=True)
    p.add_argument("job", nargs="?")
    p.add_argument("--json", action="store_true")
    p.add_argument("--follow", action="store_true", help="print each change until the job ends")
    for name, func, text in (("result", cmd_result, "print a finished job's results"),
                             ("cancel", cmd_cancel, "cancel a job")):
        p = command(name, func, text, head=True)
        p.add_argument("job")

    p = command("logs", cmd_logs, "what a job's tasks printed (console_output=True)", head=True)
    p.add_argument("job")
    p.add_argument("--task", type=int, default=None, help="one task only")

    p = command("files", cmd_files, "list (or --download) the files a job's tasks kept", head=True)
    p.add_argument("job")
    p.add_argument("--task", type=int, default=None)
    p.add_argument("--download", metavar="DIR", help="write them to DIR/<task>/<path>")

    p = command("services", cmd_services, "list published services, or describe one", head=True)
    p.add_argument("name", nargs="?")
    p.add_argument("version", nargs="?")
    p.add_argument("--json", action="store_true")

    p = command("batch", cmd_batch, "start a batch of a service, or look at one", head=True)
    p.add_argument("action", choices=["start", "status", "files", "download"])
    p.add_argument("target", help="service NAME (start) or batch id")
    p.add_argument("version", nargs="?", help="service version (start)")
    p.add_argument("records", nargs="?", help="CSV/TSV file of records (start)")
    p.add_argument("--parallel", type=int, default=10, help="records at once (start)")
    p.add_argument("--record", type=int, default=None, help="one record's files")
    p.add_argument("--name", default=None, help="one file (download)")
    p.add_argument("--dest", default=".", help="where to download to")

    p = command("cleanup", cmd_cleanup, "remove ended jobs and their results", head=True)
    p.add_argument("jobs", nargs="*", help="job ids (default: every ended job)")
    p.add_argument("--force", action="store_true", help="also remove results nobody has read")

    command("workers", cmd_workers, "list the workers", head=True)

    p = command("certs", cmd_certs, "make a self-signed CA and certificates for TLS")
    p.add_argument("dir", help="folder to write the PEM files to")
    p.add_argument("--host", action="append", default=[],
                   help="a name or IP the head is reached by (repeat; default localhost, 127.0.0.1)")
    p.add_argument("--days", type=int, default=365)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    from .errors import RxgridError
    try:
        return args.func(args)
    except RxgridError as exc:
        print(f"rxgrid: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
