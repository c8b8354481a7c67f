"""Every RPC of a real head, fed messages generated from the wire contract itself.

Each field gets hostile values of its type: path-like and huge strings, empty and huge
bytes, extreme and non-finite numbers, repeated fields empty or not. Only defined status
codes may come back (never UNKNOWN, INTERNAL or a hang), the head's log holds no
traceback, and its health stays SERVING. The count of messages sent is printed (-s).
"""

from __future__ import annotations

import queue
import time

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxgrid._proto import rxgrid_pb2 as pb
from rxgrid._version import PROTOCOL_VERSION
from tests.test_hostile import TOKEN as CLIENT_TOKEN
from tests.test_hostile import WORKER_TOKEN, BareHead, client, serving, worker_stub

ALLOWED = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND,
           grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.FAILED_PRECONDITION,
           grpc.StatusCode.RESOURCE_EXHAUSTED}
PATHLIKE = ["", ".", "..", "/", "../etc/passwd", "/etc/passwd", "..//etc/passwd", "a/../../x",
            "../*", "**", "\x00", "a\\b", "~root", "0" * 64, "F" * 64, "g" * 64, "0" * 63,
            "/proc/self/environ", "dice", "pcg64", "rx-1"]
HUGE = 100_000
CALL_SECONDS = 20
SENT = {"messages": 0}

text = st.one_of(st.sampled_from(PATHLIKE), st.text(max_size=40),
                 st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
                 st.just("x" * HUGE))
blobs = st.one_of(st.binary(max_size=64), st.just(b"\0" * HUGE))
doubles = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -1.0, 1e300, -1e300, 5e-324]))


def _ints(low: int, high: int):
    return st.one_of(st.integers(low, high), st.sampled_from([low, high, 0, 1]))


SCALARS = {
    9: text,                                   # string
    12: blobs,                                 # bytes
    13: _ints(0, 2**32 - 1),                   # uint32
    4: _ints(0, 2**64 - 1),                    # uint64
    3: _ints(-2**63, 2**63 - 1),               # int64 (Timestamp, Duration seconds)
    5: _ints(-2**31, 2**31 - 1),               # int32
    14: _ints(-2**31, 2**31 - 1),              # enum: known values and unknown ones
    1: doubles,                                # double
    8: st.booleans(),                          # bool
}


def message(descriptor, depth: int = 0):
    """A strategy for messages of ``descriptor``: each field absent or hostile."""
    optional = {}
    for field in descriptor.fields:
        strategy = _field(field, depth)
        if strategy is not None:
            optional[field.name] = strategy
    return st.fixed_dictionaries({}, optional=optional).map(
        lambda values: _build(descriptor, values))


def _field(field, depth: int):
    if field.type == 11:  # a message
        entry = field.message_type
        if entry.GetOptions().map_entry:
            return st.dictionaries(SCALARS[entry.fields_by_name["key"].type],
                                   SCALARS[entry.fields_by_name["value"].type], max_size=3)
        if depth >= 2:
            return None
        inner = message(entry, depth + 1)
    else:
        inner = SCALARS.get(field.type)
    if field.is_repeated:
        return st.lists(inner, max_size=3)
    return inner


def _build(descriptor, values: dict):
    from google.protobuf import message_factory
    msg = message_factory.GetMessageClass(descriptor)()
    for name, value in values.items():
        target = getattr(msg, name)
        if isinstance(value, dict):
            target.update(value)
        elif isinstance(value, list):
            target.extend(value)
        elif hasattr(value, "ByteSize"):
            target.CopyFrom(value)
        else:
            setattr(msg, name, value)
    return msg


METHODS = [(service, m) for service in ("Cluster", "WorkerLink", "Blobs")
           for m in pb.DESCRIPTOR.services_by_name[service].methods if m.name != "RunSession"]


def invoke(channel, service: str, method, request, metadata) -> grpc.StatusCode:
    """Call ``method`` generically; return its status code."""
    path = f"/rxgrid.v1.{service}/{method.name}"
    out = pb.DESCRIPTOR.message_types_by_name[method.output_type.name]
    from google.protobuf import message_factory
    reply_type = message_factory.GetMessageClass(out)
    kinds = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
             (True, False): channel.stream_unary, (True, True): channel.stream_stream}
    call = kinds[(method.client_streaming, method.server_streaming)](
        path, request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=reply_type.FromString)
    requests = request if method.client_streaming else request[0]
    SENT["messages"] += len(request)
    try:
        reply = call(iter(requests) if method.client_streaming else requests,
                     metadata=metadata, timeout=CALL_SECONDS)
        if method.server_streaming:
            return grpc.StatusCode.OK, list(reply)
        return grpc.StatusCode.OK, [reply]
    except grpc.RpcError as exc:
        return exc.code(), exc.details()


def test_every_rpc_answers_generated_messages_with_defined_codes(tmp_path_factory):
    head = BareHead(tmp_path_factory.mktemp("fuzz"))
    started = time.monotonic()
    try:
        channel = head.channel
        auth = {"Cluster": (("authorization", f"Bearer {CLIENT_TOKEN}"),),
                "WorkerLink": (("authorization", f"Bearer {WORKER_TOKEN}"),),
                "Blobs": (("authorization", f"Bearer {CLIENT_TOKEN}"),)}
        requests = st.sampled_from(METHODS).flatmap(lambda sm: st.tuples(
            st.just(sm), st.lists(message(sm[1].input_type), min_size=1, max_size=3)))

        @settings(max_examples=450, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(requests)
        def one_call(drawn):
            (service, method), messages = drawn
            if method.name in ("RunJob", "ExecJobs"):
                for request in messages:  # with no worker a valid job would wait forever
                    request.job.per_node = True
            code, detail = invoke(channel, service, method, messages, auth[service])
            assert code in ALLOWED, (method.name, code, detail, messages)
            if method.name == "SubmitJob" and code == grpc.StatusCode.OK:
                invoke(channel, "Cluster", pb.DESCRIPTOR.services_by_name["Cluster"]
                       .methods_by_name["CancelJob"], [pb.CancelJobRequest(job_id=detail[0].job.job_id)],
                       auth["Cluster"])

        one_call()
        _fuzz_worker_reports(head)
        assert serving(head.address)
    finally:
        head.close()
    log = head.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    seconds = time.monotonic() - started
    print(f"\nfuzz: {SENT['messages']} messages to {len(METHODS) + 1} RPCs in {seconds:.1f} s")
    assert SENT["messages"] > 450


def _fuzz_worker_reports(head) -> None:
    """A fake worker that holds a real lease and reports generated results on it."""
    cluster = client(head.address)
    channel, stub, auth = worker_stub(head.address)

    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(message(pb.ChunkResult.DESCRIPTOR), st.lists(message(pb.RunSessionRequest.DESCRIPTOR),
                                                        max_size=2))
    def one_session(result, others):
        recipe = pb.TaskRecipe(kernel=pb.KernelCall(name="dice"))
        info = cluster[1].SubmitJob(pb.SubmitJobRequest(job=pb.JobSpec(
            num_tasks=2, chunk_size=1, recipe=recipe)), metadata=cluster[2], timeout=CALL_SECONDS).job
        reply = stub.RegisterWorker(pb.RegisterWorkerRequest(
            protocol_version=PROTOCOL_VERSION, name="fuzz", cores=1), metadata=auth,
            timeout=CALL_SECONDS)
        outbox: queue.Queue = queue.Queue()
        call = stub.RunSession(iter(outbox.get, None), timeout=CALL_SECONDS, metadata=auth + (
            ("rxgrid-worker", "fuzz"), ("rxgrid-session", reply.session)))
        try:
            assignment = next(m.assign for m in call if m.WhichOneof("msg") == "assign")
            result.job_id, result.chunk = assignment.job_id, assignment.chunk
            for msg in [*others, pb.RunSessionRequest(done=pb.ChunkDone(lease=assignment.lease,
                                                                          result=result))]:
                outbox.put(msg)
                SENT["messages"] += 1
            cluster[1].CancelJob(pb.CancelJobRequest(job_id=info.job_id), metadata=cluster[2],
                                 timeout=CALL_SECONDS)
        finally:
            outbox.put(None)
            for _ in call:  # the head ends the stream once ours ends
                pass
        SENT["messages"] += 3

    try:
        one_session()
    finally:
        channel.close()
        cluster[0].close()
