"""Published services (seed 002): a function stored under a name and version.

A version is immutable: publishing it again is refused. The stored runner (a pickled
``record -> outputs`` callable) is what every request and batch record runs, so any
later client can call the service without having its code. Every user may list and call
a service (that is what publishing is for); only its owner or an admin may delete it.
"""

from __future__ import annotations

import json
import re
import time

from .._proto import rxgrid_pb2 as pb
from ..transport.wire import timestamp
from .blobs import Blobs
from .errors import HeadError, not_found
from .store import Store
from .users import NOBODY, User

NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ServiceRegistry:
    """Services in the head's store; called from the event loop, errors as HeadError."""

    def __init__(self, store: Store, blobs: Blobs):
        self.store = store
        self.blobs = blobs

    async def publish(self, spec: pb.ServiceSpec, owner: str = "") -> pb.ServiceInfo:
        for what, value in (("name", spec.name), ("version", spec.version)):
            if not NAME_RE.match(value):
                raise HeadError("invalid", f"service {what} {value!r} is not valid: use 1 to 64 "
                                           f"of A-Z a-z 0-9 . _ -")
        from .validate import service_spec
        service_spec(spec)
        if self._row(spec.name, spec.version):
            raise HeadError("exists", f"service {spec.name} version {spec.version} is already "
                                      f"published, and a published version never changes: "
                                      f"publish a new version")
        inline = {blob.hash for blob in spec.inline_blobs}
        if spec.runner_blob not in inline and not self.blobs.has(spec.runner_blob):
            raise HeadError("invalid", "the service's function blob is not on the head: upload "
                                       "it with PutBlob (or inline it) before publishing")
        for blob in spec.inline_blobs:
            self.blobs.put(blob.data, blob.hash)
        created = time.time()
        info = pb.ServiceInfo(name=spec.name, version=spec.version, description=spec.description,
                              runner_blob=spec.runner_blob, inputs=spec.inputs,
                              outputs=spec.outputs, create_time=timestamp(created), owner=owner)
        info.api = describe(info)
        await self.store.write([
            ("INSERT INTO services(name, version, spec, created_at, owner) VALUES (?,?,?,?,?)",
             (info.name, info.version, info.SerializeToString(), created, owner)),
            # Keeps the function's blob from being cleaned up with the jobs that used it.
            ("INSERT OR IGNORE INTO job_blobs(job_id, hash) VALUES (?,?)",
             (service_key(info.name, info.version), info.runner_blob))])
        return info

    def get(self, name: str, version: str) -> pb.ServiceInfo:
        row = self._row(name, version)
        if row is None:
            raise not_found("service", f"no service {name} version {version} (list them with "
                                         f"`rxgrid services`)")
        return _info(row)

    def list(self) -> list[pb.ServiceInfo]:
        return [_info(r) for r in
                self.store.query("SELECT spec, owner FROM services ORDER BY name, created_at")]

    async def delete(self, name: str, version: str, user: User = NOBODY) -> pb.ServiceInfo:
        info = self.get(name, version)
        if not user.may_see(info.owner):
            # A service is public (everyone may call it), so saying it exists hides nothing.
            raise HeadError("denied", f"service {name} version {version} belongs to another "
                                      f"user: only they or an admin may delete it")
        await self.store.write([
            ("DELETE FROM services WHERE name=? AND version=?", (name, version)),
            ("DELETE FROM job_blobs WHERE job_id=?", (service_key(name, version),))])
        return info

    def _row(self, name: str, version: str):
        rows = self.store.query("SELECT spec, owner FROM services WHERE name=? AND version=?",
                                (name, version))
        return rows[0] if rows else None


def _info(row) -> pb.ServiceInfo:
    info = pb.ServiceInfo.FromString(row["spec"])
    info.owner = row["owner"]
    return info


def service_key(name: str, version: str) -> str:
    return f"service:{name}/{version}"


def describe(info: pb.ServiceInfo) -> str:
    """An OpenAPI-style JSON description of the service (RevoScaleR's swagger())."""
    schema = lambda fields: {"type": "object", "properties": {  # noqa: E731
        f.name: {"type": _json_type(f.type)} for f in fields}}
    return json.dumps({
        "openapi": "3.0.0",
        "info": {"title": info.name, "version": info.version, "description": info.description},
        "x-rxgrid": {"grpc": "rxgrid.v1.Cluster", "service": f"{info.name}/{info.version}"},
        "paths": {
            f"/services/{info.name}/{info.version}": {"post": {
                "operationId": "run", "requestBody": {"content": {"application/json": {
                    "schema": schema(info.inputs)}}},
                "responses": {"200": {"content": {"application/json": {
                    "schema": schema(info.outputs)}}}}}},
            f"/services/{info.name}/{info.version}/batch": {"post": {
                "operationId": "batch", "description": "one record per input row; "
                                                       "parallel_count records at once"}},
        },
    }, indent=1)


def _json_type(kind: str) -> str:
    return {"float": "number", "int": "integer", "str": "string", "bool": "boolean",
            "list": "array", "dict": "object"}.get(kind, "object")
