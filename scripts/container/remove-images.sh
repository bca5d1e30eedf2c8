#!/usr/bin/env bash
# Removes every image `make test-image` made: the local base images base-images.sh builds and
# everything built on them (the app image, its build stages and cached layers), all found by
# the label base-images.sh puts on the base images. Nothing else in podman's store is touched.
# The next `make test-image` then starts from nothing (its "cold" run, docs/benchmarks.md).
# Refuses while a container still uses one of them (a test run in progress).
set -euo pipefail
LABEL=org.chatapp.local-base
mapfile -t images < <(podman images --all --quiet --no-trunc --filter "label=$LABEL" | sort -u)
if [ ${#images[@]} = 0 ]; then
    echo "no images of make test-image to remove"
    exit 0
fi
for id in "${images[@]}"; do
    if [ -n "$(podman ps --all --quiet --filter "ancestor=$id")" ]; then
        echo "a container still uses image $id (a test run in progress?): nothing removed" >&2
        exit 1
    fi
done
podman rmi --force "${images[@]}" >/dev/null
echo "removed ${#images[@]} images of make test-image"
