"""An OTLP/HTTP traces receiver for scripts/otlp.sh: decodes every export with the official definitions
(Python's opentelemetry-proto) and writes one JSON line per span, plus one per request, to OUT.

usage: otlp-collector.py PORT OUT [FAIL_FIRST [STATUS]]
  FAIL_FIRST  answer the first N exports with STATUS (default 503) and Retry-After: 1
"""
import base64, gzip, http.server, json, sys, threading
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

PORT, OUT = int(sys.argv[1]), sys.argv[2]
FAIL_FIRST = int(sys.argv[3]) if len(sys.argv) > 3 else 0
FAIL_STATUS = int(sys.argv[4]) if len(sys.argv) > 4 else 503
lock = threading.Lock()
seen = [0]

def hex_ids_to_base64(node):
    """OTLP/JSON writes ids as hex; the protobuf JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                node[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            hex_ids_to_base64(item)

def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            seen[0] += 1
            attempt = seen[0]
        if attempt <= FAIL_FIRST:
            self.send_response(FAIL_STATUS)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = trace_service_pb2.ExportTraceServiceRequest()
        if self.headers.get("Content-Type") == "application/json":
            document = json.loads(body)
            hex_ids_to_base64(document)
            json_format.ParseDict(document, request)
        else:
            request.ParseFromString(body)
        lines = []
        count = 0
        for rs in request.resource_spans:
            resource = {a.key: value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    count += 1
                    lines.append({
                        "type": "span", "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(), "name": s.name, "kind": s.kind,
                        "start": s.start_time_unix_nano, "end": s.end_time_unix_nano,
                        "attributes": {a.key: value(a.value) for a in s.attributes},
                        "status": {"code": s.status.code, "message": s.status.message},
                        "events": [{"name": e.name, "attributes": {a.key: value(a.value) for a in e.attributes}} for e in s.events],
                        "resource": resource, "scope": ss.scope.name,
                    })
        lines.append({
            "type": "request", "spans": count, "content_type": self.headers.get("Content-Type"),
            "content_encoding": self.headers.get("Content-Encoding"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
        })
        with lock, open(OUT, "a") as out:
            for line in lines:
                out.write(json.dumps(line) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
