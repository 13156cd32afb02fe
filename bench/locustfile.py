"""Mixed traffic through Outrigger for Locust (headless or with its web UI), for scripts/chaos.sh and for a
team's own deployment.

    locust -f bench/locustfile.py --headless --host http://127.0.0.1:8080

Environment:
  OUTRIGGER_SERVICES   weighted services, "name:weight,..." (default "web:1"); each request's Host header
  OUTRIGGER_STEP       step load "USERS_PER_STEP,STEP_SECONDS,STEPS" (default "10,30,4"); unset with "off" to use
                       Locust's own -u/-r
  CHAOS_VIOLATIONS     a file to append every broken invariant to (JSON lines); unset: only Locust's failures

Tasks, weighted: small GETs, larger GETs (64 KiB), and POSTs echoed back (16 KiB), with 50-200 ms of think time.
Every answer must be one of two things: the upstream's own (when it sends x-sha256, the body must match it byte
for byte), or an Outrigger error (x-outrigger-error with a SPEC §8 code and the JSON body naming it). Anything
else, and any request left hanging past the timeout, is a violation.
"""
import hashlib
import json
import os
import random
import time

from locust import HttpUser, LoadTestShape, between, events, task

SERVICES = []
for item in os.environ.get("OUTRIGGER_SERVICES", "web:1").split(","):
    name, _, weight = item.partition(":")
    SERVICES += [name.strip()] * int(weight or "1")
CODES = {
    "unknown_service", "no_endpoints", "breaker_open", "overloaded", "upstream_connect_failed",
    "upstream_connect_timeout", "upstream_timeout", "upstream_reset", "upstream_protocol_error",
    "upstream_tls_error", "request_header_timeout", "request_body_too_large", "request_header_too_large",
    "bad_request",
}
VIOLATIONS = os.environ.get("CHAOS_VIOLATIONS")
TIMEOUT = float(os.environ.get("OUTRIGGER_TIMEOUT", "30"))


def violation(kind, service, detail):
    if VIOLATIONS:
        with open(VIOLATIONS, "a") as out:
            out.write(json.dumps({"time": time.time(), "kind": kind, "service": service, "detail": detail}) + "\n")


def truncated(service):
    if VIOLATIONS:
        with open(VIOLATIONS + ".truncated", "a") as out:
            out.write(service + "\n")


def check(response, service, sent=None):
    """Fails the Locust request and records a violation unless the answer is the upstream's or Outrigger's."""
    code = response.headers.get("x-outrigger-error")
    if code is not None:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = {}
        if code not in CODES or body.get("error") != code:
            violation("bad_error", service, f"{response.status_code} {code} {response.content[:200]!r}")
            response.failure("malformed Outrigger error")
        else:
            response.failure(code)  # an honest error: counted by Locust, not a violation
        return
    fault = response.headers.get("x-outrigger-fault")
    if fault is not None and response.status_code >= 400:
        response.failure(f"fault {fault} {response.status_code}")  # injected on purpose: honest, not a violation
        return
    digest = response.headers.get("x-sha256")
    if response.status_code == 0:
        error = repr(response.error)
        if any(mark in error for mark in ("IncompleteRead", "ChunkedEncodingError", "Connection broken")):
            # A response cut short after its head (an upstream dying mid-body): SPEC §8 ends the connection rather
            # than complete it dishonestly, and the client can tell. Counted, not a violation.
            truncated(service)
            response.failure("truncated")
        else:
            violation("no_answer", service, error)
            response.failure("no answer")
    elif digest is not None and hashlib.sha256(response.content).hexdigest() != digest:
        violation("corrupt_body", service, f"{len(response.content)} bytes, want sha256 {digest}")
        response.failure("body does not match its checksum")
    elif sent is not None and digest is not None and response.content != sent:
        violation("wrong_echo", service, f"{len(response.content)} bytes back for {len(sent)} sent")
        response.failure("echo differs")
    elif response.status_code >= 500 and digest is None:
        violation("unexplained_5xx", service, f"{response.status_code} {response.content[:200]!r}")
        response.failure("5xx without an Outrigger error code")
    else:
        response.success()


class ServiceUser(HttpUser):
    wait_time = between(0.05, 0.2)

    def request(self, method, path, name, body=None):
        service = random.choice(SERVICES)
        with self.client.request(
            method, path, data=body, headers={"Host": service}, name=f"{service} {name}", catch_response=True,
            timeout=TIMEOUT,
        ) as response:
            check(response, service, sent=body)

    @task(6)
    def small(self):
        self.request("GET", "/data/512", "GET small")

    @task(2)
    def large(self):
        self.request("GET", "/data/65536", "GET 64KiB")

    @task(2)
    def echo(self):
        self.request("POST", "/echo", "POST 16KiB", body=os.urandom(16384))


STEP = os.environ.get("OUTRIGGER_STEP", "10,30,4")
if STEP != "off":

    class StepLoad(LoadTestShape):
        """USERS_PER_STEP more users every STEP_SECONDS, STEPS times, then stop."""

        users, seconds, steps = (int(part) for part in STEP.split(","))

        def tick(self):
            elapsed = self.get_run_time()
            if elapsed >= self.seconds * self.steps:
                return None
            return (self.users * (int(elapsed // self.seconds) + 1), self.users)


@events.quitting.add_listener
def _(environment, **kwargs):
    # Locust's exit code reflects failures; an honest Outrigger error is expected under chaos, so the script
    # judges by the violations file instead.
    if VIOLATIONS:
        environment.process_exit_code = 0
