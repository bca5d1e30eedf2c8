#!/usr/bin/env bash
# Builds, from Debian bookworm's packages, local stand-ins for the official base images that
# Containerfile and compose.yaml name, so that they build and run where no registry can be
# reached (this project's build machines). Each is tagged with the official name; one that is
# already there is left alone (a second run costs nothing). FORCE=1 rebuilds them.
#
# They carry the host's trusted CA bundle (and point pip and npm at it): the only way out of
# these machines is through a TLS-inspecting proxy whose CA is in that bundle.
# Needs root, mmdebstrap and podman.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/chatapp-base-images.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
NODE_IMAGE=docker.io/library/node:18-bookworm-slim
POSTGRES_IMAGE=docker.io/library/postgres:15-bookworm
REDIS_IMAGE=docker.io/library/redis:7-bookworm

have() { [ -z "${FORCE:-}" ] && podman image exists "$1"; }

# mmdebstrap $1=tarball, $2=packages, then extra mmdebstrap options; EXTRA_SOURCE: one more
# apt source line.
rootfs() {
    local out=$1 packages=$2
    shift 2
    mmdebstrap --variant=minbase --quiet --include="ca-certificates,$packages" \
        --customize-hook="copy-in $CA_BUNDLE /etc/ssl/certs/" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc/* "$1"/usr/share/man/*' \
        "$@" bookworm "$out" \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
        "deb $SECURITY bookworm-security main" ${EXTRA_SOURCE:+"$EXTRA_SOURCE"}
}

# podman import $1=tarball $2=tag, then --change arguments.
import() {
    local tar=$1 tag=$2
    shift 2
    podman import --quiet "$@" "$tar" "$tag" >/dev/null
    echo "built $tag"
}

PATH_DEFAULT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Official python images have `python` and `pip` on PATH; Debian's python3.11 is made to look so.
if ! have "$PYTHON_IMAGE"; then
    rootfs "$WORK/python.tar" python3.11,python3.11-venv,python3-pip \
        --customize-hook='ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python; ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python3'
    import "$WORK/python.tar" "$PYTHON_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" --change ENV=LANG=C.UTF-8 \
        --change ENV=PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        --change 'CMD=["python3"]'
fi

# The Containerfile's default is node:20 (NodeSource's, as on the project's hosts), which no
# Debian package provides and NodeSource cannot be reached from here: the test builds with
# NODE_IMAGE=node:18-bookworm-slim, made from Debian's nodejs and npm (the static build only
# copies files out of node_modules; npm ci reads the lockfile either way).
if ! have "$NODE_IMAGE"; then
    rootfs "$WORK/node.tar" nodejs,npm
    import "$WORK/node.tar" "$NODE_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" \
        --change ENV=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
        --change 'CMD=["node"]'
fi

if ! have "$POSTGRES_IMAGE"; then
    rootfs "$WORK/postgres.tar" postgresql-15 \
        --customize-hook="copy-in $HERE/postgres-entrypoint.sh /usr/local/bin/" \
        --customize-hook='chmod 755 "$1"/usr/local/bin/postgres-entrypoint.sh; mkdir -p "$1"/var/lib/postgresql/data "$1"/var/run/postgresql; chroot "$1" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql'
    import "$WORK/postgres.tar" "$POSTGRES_IMAGE" \
        --change "ENV=PATH=/usr/lib/postgresql/15/bin:$PATH_DEFAULT" \
        --change ENV=PGDATA=/var/lib/postgresql/data --change ENV=LANG=C.UTF-8 \
        --change 'ENTRYPOINT=["/usr/local/bin/postgres-entrypoint.sh"]' \
        --change 'CMD=["postgres"]' --change 'EXPOSE=5432' \
        --change 'VOLUME=/var/lib/postgresql/data'
fi

if ! have "$REDIS_IMAGE"; then
    rootfs "$WORK/redis.tar" redis-server,redis-tools \
        --customize-hook='mkdir -p "$1"/data; chroot "$1" chown redis:redis /data'
    # The official image turns protected mode off: it is reached over the container network.
    import "$WORK/redis.tar" "$REDIS_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" --change WORKDIR=/data --change USER=redis \
        --change 'CMD=["redis-server","--protected-mode","no","--dir","/data"]' \
        --change 'EXPOSE=6379' --change 'VOLUME=/data'
fi
