// swift-format-ignore-file
// (the document below is YAML, laid out for reading as such)

/// The admin API's contract (SPEC §15), written once: `GET /openapi.json` serves this document as JSON, the JSON
/// index at `GET /` lists its paths, `AdminContractTests` holds the router to it (every documented operation is
/// routed, every other method answered 405), and `scripts/openapi.sh` validates it and runs schemathesis against
/// a live daemon with it.
enum AdminOpenAPI {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Outrigger admin API
  version: "1"
  summary: Health, readiness, stats, metrics, traffic history, breakers, faults, configuration and reload of one Outrigger sidecar.
  description: |
    Served on `admin.listen`. Responses are JSON unless noted. When `admin.token` (or `admin.token_file`, or
    `OUTRIGGER_ADMIN_TOKEN`) is set, every request but `GET /healthz`, `GET /ready` and the live page needs
    `Authorization: Bearer TOKEN`; without it the answer is 401. Unknown paths answer 404 and wrong methods 405,
    both as the `Error` shape. Request bodies are limited to 64 KiB (413).
  license:
    name: Apache-2.0
    identifier: Apache-2.0
security:
  - bearer: []
tags:
  - name: probes
  - name: observe
  - name: control
paths:
  /:
    get:
      tags: [observe]
      operationId: index
      summary: The live page for a browser (Accept text/html, no token needed), else a JSON index of this API.
      security:
        - {}
        - bearer: []
      responses:
        "200":
          description: The page (one self-contained document) or the index.
          content:
            text/html:
              schema: { type: string }
            application/json:
              schema: { $ref: "#/components/schemas/Index" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /healthz:
    get:
      tags: [probes]
      operationId: healthz
      summary: Liveness; 200 while the process runs. Needs no token.
      security: []
      responses:
        "200":
          description: Alive.
          content:
            text/plain:
              schema: { type: string, const: "ok\n" }
  /ready:
    get:
      tags: [probes]
      operationId: ready
      summary: Readiness; 503 before the listener is up and while draining. Needs no token.
      security: []
      responses:
        "200":
          description: Serving.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Ready" }
        "503":
          description: Not serving (starting or draining).
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Ready" }
  /stats:
    get:
      tags: [observe]
      operationId: stats
      summary: Counters and gauges, per service.
      responses:
        "200":
          description: The counters now.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Stats" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /metrics:
    get:
      tags: [observe]
      operationId: metrics
      summary: The same as Prometheus text format 0.0.4, names prefixed outrigger_.
      responses:
        "200":
          description: Prometheus text.
          content:
            text/plain:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /history:
    get:
      tags: [observe]
      operationId: history
      summary: Each service's last minutes, one value per second, and its rates over the last ten seconds.
      description: |
        Columns hold one value per tick, oldest first; every service's columns end at the latest tick of
        `times_ms` (a service added later has shorter ones). `recent` is absent until the service has two ticks.
        With `since`, only the ticks after that time: a client that holds the earlier ones fetches the rest.
      parameters:
        - name: since
          in: query
          required: false
          description: Only ticks after this wall-clock time, in milliseconds since the epoch.
          schema: { type: integer, minimum: 0, maximum: 9223372036854775807 }
      responses:
        "200":
          description: The history kept (after `since`).
          content:
            application/json:
              schema: { $ref: "#/components/schemas/History" }
        "400":
          description: "`since` is not a time in milliseconds."
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Error" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /services:
    get:
      tags: [observe]
      operationId: services
      summary: The registry as loaded, with each endpoint's health and in-flight requests.
      responses:
        "200":
          description: The services.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Services" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /breakers:
    get:
      tags: [observe]
      operationId: breakers
      summary: Every service's circuit breaker.
      responses:
        "200":
          description: The breakers, in registry order.
          content:
            application/json:
              schema:
                type: object
                required: [breakers]
                properties:
                  breakers:
                    type: array
                    items: { $ref: "#/components/schemas/Breaker" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /breakers/{name}:
    parameters:
      - $ref: "#/components/parameters/Name"
    get:
      tags: [observe]
      operationId: breaker
      summary: One service's breaker.
      responses:
        "200": { $ref: "#/components/responses/Breaker" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "404": { $ref: "#/components/responses/UnknownService" }
  /breakers/{name}/open:
    parameters:
      - $ref: "#/components/parameters/Name"
    post:
      tags: [control]
      operationId: openBreaker
      summary: Forces the breaker open (shown as forced) until closed or reset.
      responses: &breakerAction
        "200": { $ref: "#/components/responses/Breaker" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/CrossOrigin" }
        "404": { $ref: "#/components/responses/UnknownService" }
  /breakers/{name}/close:
    parameters:
      - $ref: "#/components/parameters/Name"
    post:
      tags: [control]
      operationId: closeBreaker
      summary: Forces the breaker closed (shown as forced) until opened or reset.
      responses: *breakerAction
  /breakers/{name}/reset:
    parameters:
      - $ref: "#/components/parameters/Name"
    post:
      tags: [control]
      operationId: resetBreaker
      summary: Returns the breaker to automatic, closed, with fresh counts.
      responses: *breakerAction
  /faults:
    get:
      tags: [observe]
      operationId: faults
      summary: Every service's active faults and where they come from.
      responses:
        "200":
          description: Faults by service name.
          content:
            application/json:
              schema:
                type: object
                required: [faults]
                properties:
                  faults:
                    type: object
                    additionalProperties: { $ref: "#/components/schemas/Faults" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /faults/{name}:
    parameters:
      - $ref: "#/components/parameters/Name"
    get:
      tags: [observe]
      operationId: serviceFaults
      summary: One service's active faults.
      responses:
        "200": { $ref: "#/components/responses/Faults" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "404": { $ref: "#/components/responses/UnknownService" }
    put:
      tags: [control]
      operationId: setFaults
      summary: Replaces the service's run-time faults (they take the place of the registry's until deleted or their ttl ends).
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/FaultsRequest" }
            examples:
              abort:
                value: { abort: { percent: 50, status: 503 }, ttl: 5m }
              delay:
                value: { delay: { percent: 10, duration: 200ms } }
      responses:
        "200": { $ref: "#/components/responses/Faults" }
        "400":
          description: A body that is not a faults object; every problem with its line and column. Nothing changed.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/InvalidFaults" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/CrossOrigin" }
        "404": { $ref: "#/components/responses/UnknownService" }
        "413": { $ref: "#/components/responses/TooLarge" }
    delete:
      tags: [control]
      operationId: deleteFaults
      summary: Ends the service's run-time faults; the registry's apply again.
      responses:
        "200": { $ref: "#/components/responses/Faults" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/CrossOrigin" }
        "404": { $ref: "#/components/responses/UnknownService" }
  /config:
    get:
      tags: [observe]
      operationId: config
      summary: The effective configuration, tokens redacted; numbers and lists as in the files.
      responses:
        "200":
          description: The configuration.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Config" }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /reload:
    post:
      tags: [control]
      operationId: reload
      summary: Reloads both files; on any error the running configuration is kept.
      responses:
        "200":
          description: Applied.
          content:
            application/json:
              schema:
                type: object
                required: [reloaded, summary]
                properties:
                  reloaded: { const: true }
                  summary: { type: string }
        "400":
          description: Refused, with every error; the running configuration is kept.
          content:
            application/json:
              schema:
                type: object
                required: [reloaded, error, errors, message]
                properties:
                  reloaded: { const: false }
                  error: { const: invalid_config }
                  errors: { type: array, items: { type: string } }
                  message: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/CrossOrigin" }
  /openapi.json:
    get:
      tags: [observe]
      operationId: openapi
      summary: This document.
      responses:
        "200":
          description: The OpenAPI document of the admin API.
          content:
            application/json:
              schema:
                type: object
                required: [openapi, info, paths]
                properties:
                  openapi: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      description: "admin.token, admin.token_file or OUTRIGGER_ADMIN_TOKEN."
  parameters:
    Name:
      name: name
      in: path
      required: true
      description: A service name from the registry or etcd.
      schema: { type: string, minLength: 1 }
      example: orders
  responses:
    Unauthorized:
      description: A token is configured and the request did not carry it.
      headers:
        WWW-Authenticate:
          schema: { type: string, const: Bearer }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    CrossOrigin:
      description: A change sent by another site's page in a browser (Sec-Fetch-Site cross-site or same-site, or an Origin that is not this host) is refused.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    UnknownService:
      description: No service has this name.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    TooLarge:
      description: The request body is over 64 KiB.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Error" }
    Breaker:
      description: The breaker, after the action.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Breaker" }
    Faults:
      description: The service's faults now.
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Faults" }
  schemas:
    Error:
      type: object
      required: [error, message]
      properties:
        error:
          type: string
          description: "A stable code: unauthorized, cross_origin, not_found, method_not_allowed, unknown_service, bad_request, request_body_too_large."
        message: { type: string }
    Index:
      type: object
      required: [name, version, openapi, endpoints]
      properties:
        name: { const: outrigger }
        version: { type: string }
        page: { type: string }
        openapi: { const: /openapi.json }
        endpoints: { type: array, items: { type: string } }
    Ready:
      type: object
      required: [ready]
      properties:
        ready: { type: boolean }
    Time:
      type: string
      description: UTC, RFC 3339 with milliseconds.
      pattern: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"
    Duration:
      type: string
      description: A whole number with ms, s, m or h (0 for none).
      pattern: "^(0|[0-9]{1,12}(ms|s|m|h))$"
    BreakerState:
      enum: [closed, open, half_open]
    Counts:
      type: object
      additionalProperties: { type: integer, minimum: 0 }
    Latency:
      type: object
      required: [count, p50, p90, p99, max]
      properties:
        count: { type: integer, minimum: 0 }
        p50: { type: number, minimum: 0 }
        p90: { type: number, minimum: 0 }
        p99: { type: number, minimum: 0 }
        max: { type: number, minimum: 0 }
    ServiceStats:
      type: object
      required: [requests, responses, errors, failed_tries, retries, retry_budget_exhausted, breaker_rejections,
                 overloaded, in_flight, ejections, breaker_state, breaker_transitions, latency_ms, faults_injected]
      properties:
        requests: { type: integer, minimum: 0 }
        responses:
          type: object
          required: [1xx, 2xx, 3xx, 4xx, 5xx]
          additionalProperties: { type: integer, minimum: 0 }
        errors: { $ref: "#/components/schemas/Counts" }
        failed_tries: { $ref: "#/components/schemas/Counts" }
        retries: { type: integer, minimum: 0 }
        retry_budget_exhausted: { type: integer, minimum: 0 }
        breaker_rejections: { type: integer, minimum: 0 }
        overloaded: { type: integer, minimum: 0 }
        in_flight: { type: integer, minimum: 0 }
        ejections: { type: integer, minimum: 0 }
        breaker_state: { $ref: "#/components/schemas/BreakerState" }
        breaker_transitions: { type: integer, minimum: 0 }
        latency_ms: { $ref: "#/components/schemas/Latency" }
        grpc_status: { $ref: "#/components/schemas/Counts" }
        faults_injected: { $ref: "#/components/schemas/Counts" }
    Discovery:
      type: object
      description: The etcd source (present when discovery.etcd is configured).
      required: [source, state, since, last_error, endpoint, revision, from_cache, prefix, bad_keys, conflicts, services]
      properties:
        source: { const: etcd }
        state: { enum: [synced, stale, never_synced] }
        since: { type: string }
        last_error: { type: [string, "null"] }
        endpoint: { type: [string, "null"] }
        revision: { type: integer }
        from_cache: { type: boolean }
        prefix: { type: string }
        bad_keys:
          type: array
          items:
            type: object
            required: [key, error]
            properties:
              key: { type: string }
              error: { type: string }
        conflicts: { type: array, items: { type: string } }
        services: { type: integer, minimum: 0 }
    Stats:
      type: object
      required: [uptime_seconds, ready, connections, requests, reloads, failed_reloads, services]
      properties:
        uptime_seconds: { type: number, minimum: 0 }
        ready: { type: boolean }
        connections:
          type: object
          required: [open, total, refused, upgraded]
          properties:
            open: { type: integer, minimum: 0 }
            total: { type: integer, minimum: 0 }
            refused: { type: integer, minimum: 0 }
            upgraded:
              type: object
              required: [open, total]
              properties:
                open: { type: integer, minimum: 0 }
                total: { type: integer, minimum: 0 }
        requests: { type: integer, minimum: 0 }
        reloads: { type: integer, minimum: 0 }
        failed_reloads: { type: integer, minimum: 0 }
        access_log:
          type: object
          required: [written, dropped, failed]
          properties:
            written: { type: integer, minimum: 0 }
            dropped: { type: integer, minimum: 0 }
            failed: { type: integer, minimum: 0 }
        services:
          type: object
          additionalProperties: { $ref: "#/components/schemas/ServiceStats" }
        tls:
          type: object
          description: Present with a TLS listener.
          required: [handshakes, handshake_failures]
          properties:
            handshakes: { type: integer, minimum: 0 }
            handshake_failures: { $ref: "#/components/schemas/Counts" }
        discovery: { $ref: "#/components/schemas/Discovery" }
        span_export:
          type: object
          description: Present when span export is on.
          required: [endpoint, protocol, exported, dropped, failed, queued, requests]
          properties:
            endpoint: { type: string }
            protocol: { enum: [http/protobuf, http/json] }
            exported: { type: integer, minimum: 0 }
            dropped: { type: integer, minimum: 0 }
            failed: { type: integer, minimum: 0 }
            queued: { type: integer, minimum: 0 }
            requests: { type: integer, minimum: 0 }
    History:
      type: object
      required: [interval_seconds, capacity, times_ms, services]
      properties:
        interval_seconds: { type: integer, minimum: 1 }
        capacity: { type: integer, minimum: 1 }
        times_ms:
          type: array
          description: Wall-clock time of each tick kept, milliseconds since the epoch, oldest first.
          items: { type: integer }
        services:
          type: array
          items:
            type: object
            required: [name, breaker, requests, errors, p99_ms]
            properties:
              name: { type: string }
              breaker: { $ref: "#/components/schemas/BreakerState" }
              recent:
                type: object
                required: [seconds, requests_per_second]
                properties:
                  seconds: { type: number, exclusiveMinimum: 0 }
                  requests_per_second: { type: number, minimum: 0 }
                  error_share: { type: number, minimum: 0, maximum: 1 }
                  p99_ms: { type: number, minimum: 0 }
              requests: { type: array, items: { type: integer, minimum: 0 } }
              errors: { type: array, items: { type: integer, minimum: 0 } }
              p99_ms: { type: array, items: { type: [number, "null"], minimum: 0 } }
    Services:
      type: object
      required: [services]
      properties:
        discovery: { $ref: "#/components/schemas/Discovery" }
        services:
          type: array
          items:
            type: object
            required: [name, source, balance, in_flight, max_concurrent_requests, breaker, endpoints]
            properties:
              name: { type: string }
              source: { enum: [file, etcd] }
              balance: { type: string }
              in_flight: { type: integer, minimum: 0 }
              max_concurrent_requests: { type: integer, minimum: 0 }
              breaker: { $ref: "#/components/schemas/BreakerState" }
              endpoints:
                type: array
                items:
                  type: object
                  required: [address, healthy, ejections, consecutive_connect_failures, in_flight]
                  properties:
                    address: { type: string }
                    healthy: { type: boolean }
                    ejected_until: { $ref: "#/components/schemas/Time" }
                    ejections: { type: integer, minimum: 0 }
                    consecutive_connect_failures: { type: integer, minimum: 0 }
                    in_flight: { type: integer, minimum: 0 }
    BreakerConfig:
      type: object
      required: [consecutive_failures, failure_rate, minimum_requests, window, open_for, half_open_requests]
      properties:
        consecutive_failures: { type: integer, minimum: 0 }
        failure_rate: { type: number, minimum: 0, maximum: 1 }
        minimum_requests: { type: integer, minimum: 0 }
        window: { $ref: "#/components/schemas/Duration" }
        open_for: { $ref: "#/components/schemas/Duration" }
        half_open_requests: { type: integer, minimum: 0 }
    Breaker:
      type: object
      required: [service, state, forced, since, consecutive_failures, window, trips, generation, probes_in_flight,
                 config, last_failures]
      properties:
        service: { type: string }
        state: { $ref: "#/components/schemas/BreakerState" }
        forced: { type: boolean }
        since: { $ref: "#/components/schemas/Time" }
        retry_at: { $ref: "#/components/schemas/Time" }
        consecutive_failures: { type: integer, minimum: 0 }
        window:
          type: object
          required: [requests, failures, failure_rate, window_seconds]
          properties:
            requests: { type: integer, minimum: 0 }
            failures: { type: integer, minimum: 0 }
            failure_rate: { type: number, minimum: 0, maximum: 1 }
            window_seconds: { type: number, minimum: 0 }
        trips: { type: integer, minimum: 0 }
        generation: { type: integer, minimum: 0 }
        probes_in_flight: { type: integer, minimum: 0 }
        config: { $ref: "#/components/schemas/BreakerConfig" }
        last_failures:
          type: array
          items:
            type: object
            required: [time, code]
            properties:
              time: { $ref: "#/components/schemas/Time" }
              endpoint: { type: string }
              code: { type: string }
    Percent:
      type: number
      minimum: 0
      maximum: 100
    FaultsRequest:
      type: object
      additionalProperties: false
      description: An empty object turns the registry's faults off until deleted or its ttl ends.
      properties:
        delay:
          type: object
          additionalProperties: false
          required: [percent, duration]
          properties:
            percent: { $ref: "#/components/schemas/Percent" }
            duration: { $ref: "#/components/schemas/Duration" }
        abort:
          type: object
          additionalProperties: false
          required: [percent, status]
          properties:
            percent: { $ref: "#/components/schemas/Percent" }
            status: { type: integer, minimum: 200, maximum: 599 }
        reset:
          type: object
          additionalProperties: false
          required: [percent]
          properties:
            percent: { $ref: "#/components/schemas/Percent" }
        allow_request_headers: { type: boolean }
        ttl:
          type: string
          description: When the faults end by themselves; leave out for no end.
          pattern: "^(?=[0-9]{1,12}(ms|s|m|h)$)0*[1-9][0-9]*(ms|s|m|h)$"
    Faults:
      type: object
      required: [source, delay, abort, reset, allow_request_headers, expires_in_ms]
      properties:
        source: { enum: [runtime, registry, none] }
        delay:
          oneOf:
            - type: "null"
            - type: object
              required: [percent, duration]
              properties:
                percent: { $ref: "#/components/schemas/Percent" }
                duration: { type: string }
        abort:
          oneOf:
            - type: "null"
            - type: object
              required: [percent, status]
              properties:
                percent: { $ref: "#/components/schemas/Percent" }
                status: { type: integer }
        reset:
          oneOf:
            - type: "null"
            - type: object
              required: [percent]
              properties:
                percent: { $ref: "#/components/schemas/Percent" }
        allow_request_headers: { type: boolean }
        expires_in_ms: { type: [integer, "null"], minimum: 0 }
    InvalidFaults:
      type: object
      required: [error, message, errors]
      properties:
        error: { const: bad_request }
        message: { type: string }
        errors:
          type: array
          minItems: 1
          items: { type: string, description: "body:LINE:COL: message" }
    Policy:
      type: object
      required: [connect_timeout, request_timeout, idle_timeout, max_concurrent_requests, balance, breaker, retries, tls]
      properties:
        connect_timeout: { $ref: "#/components/schemas/Duration" }
        request_timeout: { $ref: "#/components/schemas/Duration" }
        idle_timeout: { $ref: "#/components/schemas/Duration" }
        max_concurrent_requests: { type: integer, minimum: 0 }
        balance: { type: string }
        breaker: { $ref: "#/components/schemas/BreakerConfig" }
        retries:
          type: object
          required: [attempts, per_try_timeout, retry_on, budget_percent]
          properties:
            attempts: { type: integer, minimum: 0 }
            per_try_timeout: { $ref: "#/components/schemas/Duration" }
            retry_on: { type: array, items: { type: [string, integer] } }
            budget_percent: { type: integer, minimum: 0 }
        tls: { type: object }
    Config:
      type: object
      required: [listen, admin, registry, workers, limits, drain_timeout, access_log, tracing, routes, defaults, services]
      properties:
        config_file: { type: string }
        listen: { type: string }
        tls: { type: object }
        admin:
          type: object
          required: [listen, token]
          properties:
            listen: { type: string }
            token: { type: [string, "null"], description: "<redacted> when set" }
            token_source: { type: string }
        registry: { type: string }
        workers: { type: [string, integer] }
        limits: { type: object }
        drain_timeout: { $ref: "#/components/schemas/Duration" }
        access_log: { type: string }
        tracing: { type: object }
        routes: { type: array, items: { type: object } }
        defaults: { $ref: "#/components/schemas/Policy" }
        services:
          type: object
          additionalProperties:
            type: object
            required: [endpoints, policy]
            properties:
              endpoints: { type: array, items: { type: string } }
              policy: { $ref: "#/components/schemas/Policy" }
"""#
}
