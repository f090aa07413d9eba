"""A Python grpcio client for the gRPC conformance test (test/e2e/grpc-conformance.e2e.test.ts).

Run by Debian's /usr/bin/python3 with python3-grpcio and python3-protobuf, and
stubs that the test generates from proto/ with protoc and grpc_python_plugin
into a directory it puts on PYTHONPATH. It reads cases as JSON, one a line, on
stdin, makes each call as a Python agent or cache node would, and prints what
the client saw as one JSON line per case: the status code (number and name),
its details, the trailing metadata and the kinds of the messages received.
Bidirectional cases may print {"event": "ready"} once the first answer came, so
that the test can act (stop the server) while the call is open.

A case: {"target": "127.0.0.1:PORT", "method": "GetChunkLocations" | "AgentStream",
"shape": "unary" | "client-stream" | "bidi", "metadata": {...},
"messages": [{"json": {...}} | {"hex": "0aff"}], "halfClose": bool,
"after": "status" | "cancel" | "ready", "repeat": N, "timeoutMs": N | null}
"""

import base64
import json
import sys
import threading

import grpc
from google.protobuf import json_format

from capstan.v1 import agent_service_pb2, chunk_index_service_pb2

METHODS = {
    "GetChunkLocations": (
        "/capstan.v1.ChunkIndexService/GetChunkLocations",
        chunk_index_service_pb2.GetChunkLocationsRequest,
        chunk_index_service_pb2.GetChunkLocationsResponse,
    ),
    "AgentStream": (
        "/capstan.v1.AgentService/AgentStream",
        agent_service_pb2.AgentStreamRequest,
        agent_service_pb2.AgentStreamResponse,
    ),
}


def encode(message_type, spec):
    """A request message's bytes: from the stub's class, or as given (bytes no client would send)."""
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    return json_format.ParseDict(spec["json"], message_type()).SerializeToString()


def kind_of(response_type, data):
    """What a response was: the oneof case of a stream message, the location count of a lookup."""
    message = response_type.FromString(data)
    if response_type is chunk_index_service_pb2.GetChunkLocationsResponse:
        return "locations:%d" % len(message.locations)
    case = message.WhichOneof("message") or ""
    head, *rest = case.split("_")
    return head + "".join(word.capitalize() for word in rest)


def metadata_of(pairs):
    out = {}
    for key, value in pairs or ():
        out[key] = base64.b64encode(value).decode() if isinstance(value, bytes) else value
    return out


def outcome(code, details, trailing, responses):
    return {
        "code": code.value[0],
        "codeName": code.name,
        "message": details or "",
        "metadata": metadata_of(trailing),
        "responses": responses,
    }


def settle(future, response_type):
    """The outcome of a unary call's future, answered or failed."""
    try:
        data = future.result()
        return outcome(future.code(), future.details(), future.trailing_metadata(), [kind_of(response_type, data)])
    except grpc.RpcError:
        return outcome(future.code(), future.details(), future.trailing_metadata(), [])
    except grpc.FutureCancelledError:
        return outcome(grpc.StatusCode.CANCELLED, "cancelled", (), [])


def call_unary(channel, case, path, request_type, response_type, calls):
    call = channel.unary_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    body = encode(request_type, case["messages"][0])
    timeout = case["timeoutMs"] / 1000 if case.get("timeoutMs") else None
    result = None
    for _ in range(case.get("repeat", 1)):
        future = call.future(body, metadata=list(case["metadata"].items()), timeout=timeout)
        calls.append(future)
        result = settle(future, response_type)
        if result["code"] != 0:
            break
    return result


def call_client_stream(channel, case, path, request_type, response_type, calls):
    call = channel.stream_unary(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    bodies = [encode(request_type, m) for m in case["messages"]]
    future = call.future(iter(bodies), metadata=list(case["metadata"].items()))
    calls.append(future)
    return settle(future, response_type)


class Requests:
    """The request side of a bidirectional call: the case's messages, then open or half-closed."""

    def __init__(self, bodies, half_close):
        self.bodies = list(bodies)
        self.half_close = half_close
        self.closed = threading.Event()

    def __iter__(self):
        return self

    def __next__(self):
        if self.bodies:
            return self.bodies.pop(0)
        if not self.half_close:
            # Kept open, as an agent keeps its stream open: grpcio's request thread waits
            # here until the call ends (the answer must end the call by itself).
            self.closed.wait()
        raise StopIteration


def call_bidi(channel, case, path, request_type, response_type, calls):
    stream = channel.stream_stream(path, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    requests = Requests((encode(request_type, m) for m in case["messages"]), case.get("halfClose", False))
    timeout = case["timeoutMs"] / 1000 if case.get("timeoutMs") else None
    call = stream(requests, metadata=list(case["metadata"].items()), timeout=timeout)
    calls.append(call)
    responses = []
    after = case.get("after", "status")
    try:
        for data in call:
            responses.append(kind_of(response_type, data))
            if len(responses) == 1 and after == "cancel":
                call.cancel()
            if len(responses) == 1 and after == "ready":
                print(json.dumps({"event": "ready"}), flush=True)
    except grpc.RpcError:
        pass
    finally:
        requests.closed.set()
    return outcome(call.code(), call.details(), call.trailing_metadata(), responses)


# Calls carry no deadline (a grpc-timeout would send them to connect-node): a call that
# no answer ends within this long is cancelled here and reported as hung (code -1).
WATCHDOG_SECONDS = 15


def watched(call_fn):
    """Runs a call, cancelling it when no answer ended it in time."""
    hung = threading.Event()
    calls = []
    timer = threading.Timer(WATCHDOG_SECONDS, lambda: (hung.set(), [c.cancel() for c in calls]))
    timer.start()
    try:
        result = call_fn(calls)
    finally:
        timer.cancel()
    if hung.is_set():
        return {"code": -1, "codeName": "HUNG", "message": "no answer within %d s" % WATCHDOG_SECONDS, "metadata": {}, "responses": []}
    return result


def run(case):
    path, request_type, response_type = METHODS[case["method"]]
    with grpc.insecure_channel(case["target"]) as channel:
        make = {"unary": call_unary, "client-stream": call_client_stream, "bidi": call_bidi}[case.get("shape", "unary")]
        return watched(lambda calls: make(channel, case, path, request_type, response_type, calls))


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
