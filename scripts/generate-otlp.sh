#!/usr/bin/env bash
# Regenerates Sources/OTLPProto from the official OpenTelemetry protocol definitions (SPEC §13). The generated
# files are committed, as swift-protobuf advises, so builds need neither protoc nor the plugin.
#
# usage: scripts/generate-otlp.sh PROTO_ROOT
#   PROTO_ROOT  a checkout of github.com/open-telemetry/opentelemetry-proto (the files were made from v1.11.0)
# needs: protoc (Debian: protobuf-compiler) and protoc-gen-swift of swift-protobuf 1.39.0 on PATH
#   (built with `swift build -c release --product protoc-gen-swift` in a package that depends on swift-protobuf).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:?usage: scripts/generate-otlp.sh PROTO_ROOT}
out=Sources/OTLPProto
rm -f "$out"/*.pb.swift
protoc --proto_path="$root" --swift_out="$out" --swift_opt=Visibility=Public --swift_opt=FileNaming=PathToUnderscores \
    opentelemetry/proto/common/v1/common.proto opentelemetry/proto/resource/v1/resource.proto \
    opentelemetry/proto/trace/v1/trace.proto opentelemetry/proto/collector/trace/v1/trace_service.proto
# Generated code keeps the generator's layout: swift-format leaves it alone.
for file in "$out"/*.pb.swift; do
    { echo "// swift-format-ignore-file"; cat "$file"; } >"$file.tmp" && mv "$file.tmp" "$file"
done
ls "$out"
