"""A Python grpcio watcher of EventService.WatchEvents, for test/e2e/event-topics.e2e.test.ts.

Run by Debian's /usr/bin/python3 with python3-grpcio and stubs the test
generates from proto/ (on PYTHONPATH). Usage:

    grpc-python-watcher.py TARGET '{"topics": [...], "fromIndex": "42" | null, "token": "..."}'

Prints each response's event as one JSON line ({"index": "42", "topic": ...,
"type": ..., "key": ...}), as it arrives, and when the stream ends
{"end": "CODE_NAME", "details": "..."}. The test disconnects it by killing it.
"""

import json
import sys

import grpc

from capstan.v1 import event_service_pb2, event_service_pb2_grpc


def main():
    target, options = sys.argv[1], json.loads(sys.argv[2])
    request = event_service_pb2.WatchEventsRequest(topics=options.get("topics", []))
    if options.get("fromIndex") is not None:
        request.from_index = int(options["fromIndex"])
    with grpc.insecure_channel(target) as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        try:
            metadata = [("authorization", "Bearer " + options["token"])] if options.get("token") else None
            for response in stub.WatchEvents(request, metadata=metadata):
                e = response.event
                print(json.dumps({"index": str(e.index), "topic": e.topic, "type": e.type, "key": e.key}), flush=True)
            print(json.dumps({"end": "OK", "details": ""}), flush=True)
        except grpc.RpcError as err:
            print(json.dumps({"end": err.code().name, "details": err.details()}), flush=True)


if __name__ == "__main__":
    main()
