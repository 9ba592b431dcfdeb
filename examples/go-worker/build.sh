#!/bin/sh
# Build the static worker binary that the FROM-scratch Dockerfile copies in.
# No base image is needed (or pullable) for this: the Go toolchain runs on the host.
set -eu
cd "$(dirname "$0")"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o go-worker .
echo "built $(pwd)/go-worker"
