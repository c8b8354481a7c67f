"""Rich displays in Jupyter: ``_repr_html_`` of a job, a cluster and a worker list.

Plain HTML with inline styles (no scripts, no widgets): it renders in Jupyter, JupyterLab,
VS Code and in a notebook saved to HTML. Every value shown is escaped.
"""

from __future__ import annotations

from html import escape

_TABLE = '<table style="border-collapse:collapse;text-align:left">'
_CELL = 'style="padding:1px 8px"'


def _rows(pairs) -> str:
    return _TABLE + "".join(f"<tr><th {_CELL}>{escape(str(k))}</th><td {_CELL}>{v}</td></tr>"
                            for k, v in pairs) + "</table>"


def progress_html(done: int, failed: int, total: int) -> str:
    """A bar of ``done + failed`` out of ``total`` with the counts beside it."""
    finished = done + failed
    return (f'<progress value="{finished}" max="{max(total, 1)}" style="width:12em"></progress> '
            f"{finished:,} / {total:,}")


def job_html(info) -> str:
    """A job's id, state, progress bar and errors count, from its JobInfo."""
    errors = (f'<span style="color:#b00">{info.tasks_failed:,}</span>' if info.tasks_failed
              else "0")
    pairs = [("job", f"<code>{escape(info.id)}</code>" + (f" ({escape(info.name)})" if info.name else "")),
             ("state", escape(str(info.state.value))),
             ("tasks", progress_html(info.tasks_done, info.tasks_failed, info.tasks_total)),
             ("errors", errors + (" (<code>job.errors()</code>)" if info.tasks_failed else ""))]
    if info.error:
        pairs.append(("error", escape(info.error)))
    return _rows(pairs)


def workers_html(workers) -> str:
    """A table of workers: name, host, state, busy / cores, chunks done."""
    head = "".join(f"<th {_CELL}>{h}</th>" for h in ("worker", "host", "state", "busy / cores",
                                                      "chunks done"))
    body = "".join(
        f"<tr><td {_CELL}>{escape(w.name)}</td><td {_CELL}>{escape(w.host)}</td>"
        f"<td {_CELL}>{escape(w.state)}</td><td {_CELL}>{w.busy} / {w.cores}</td>"
        f"<td {_CELL}>{w.chunks_done:,}</td></tr>" for w in workers)
    return f"{_TABLE}<tr>{head}</tr>{body}</table>"


def cluster_html(address: str, workers, jobs_by_state: dict) -> str:
    """A cluster: its address, workers, executor slots (busy / all) and its queue."""
    connected = [w for w in workers if w.state == "connected"]
    slots = sum(w.cores for w in connected)
    busy = sum(w.busy for w in connected)
    queue = ", ".join(f"{jobs_by_state.get(s, 0)} {s}" for s in ("queued", "running"))
    return _rows([("head", f"<code>{escape(address)}</code>"),
                  ("workers", f"{len(connected)} connected" +
                   (f", {len(workers) - len(connected)} lost" if len(workers) > len(connected) else "")),
                  ("slots", progress_html(busy, 0, slots).replace(" / ", " busy / ")),
                  ("queue", f"{queue} jobs")])
