# Outrigger: multi-stage build. Build in the official Swift image, run on slim Debian with libcurl only.
#   docker build -t outrigger .
#   docker run -p 15001:15001 -p 9901:9901 -v $PWD/config:/etc/outrigger:ro outrigger
# The example config listens on 127.0.0.1; in a container set `listen: 0.0.0.0:15001` and, to expose
# the admin port beyond the pod, `admin.listen: 0.0.0.0:9901` with a token: `admin.token_file` (a mounted
# secret) or the OUTRIGGER_ADMIN_TOKEN environment variable.

# The toolchain Outrigger is developed and tested with (Swift 6.3).
FROM swift:6.3-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4-openssl-dev libssl-dev libyaml-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Resolve dependencies first so that source edits reuse this layer.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
# The Swift runtime is linked in statically: the final image needs only libcurl and libyaml.
RUN swift build -c release --product outrigger --static-swift-stdlib \
    && install -D "$(swift build -c release --show-bin-path)/outrigger" /out/outrigger

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libcurl4 libyaml-0-2 libstdc++6 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin outrigger
COPY --from=build /out/outrigger /usr/local/bin/outrigger
COPY config/ /etc/outrigger/
ENV OUTRIGGER_CONFIG=/etc/outrigger/outrigger.yaml
USER 10001:10001
EXPOSE 15001 9901
# /healthz answers without a token (SPEC §16), so the health check needs no secret.
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:9901/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/outrigger"]
CMD ["run"]
