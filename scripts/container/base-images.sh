#!/usr/bin/env bash
# Builds, from Debian bookworm's packages, local stand-ins for the official base images that
# Containerfile and compose.yaml name, so that they build and run where no registry can be
# reached (this project's build machines). Each is tagged with the official name; one that is
# already there is left alone (a second run costs nothing). FORCE=1 rebuilds them.
#
#   base-images.sh [python] [node] [postgres] [redis]   those named (default: all four), made
#                                                       side by side, each as soon as it can
#   base-images.sh --node-image                         the node image's name (see below)
#
# They carry the host's trusted CA bundle (and point pip and npm at it): the only way out of
# these machines is through a TLS-inspecting proxy whose CA is in that bundle.
# Needs root, mmdebstrap and podman.
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
HOOKS=/usr/share/mmdebstrap/hooks
HERE=$(cd "$(dirname "$0")" && pwd)
LABEL=org.chatapp.local-base

PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm
POSTGRES_IMAGE=docker.io/library/postgres:15-bookworm
REDIS_IMAGE=docker.io/library/redis:7-bookworm

# The node stage only copies files out of the npm packages package-lock.json pins, so any node
# that runs `npm ci` will do. The Containerfile's default, node:20, is NodeSource's build, which
# no Debian package provides and which cannot be downloaded here; but it is what the project's
# hosts run (`make` needs it for static/vendor), so the host's node and npm are copied onto a
# bare Debian and tagged node:<its major version>. Without a node on the host: Debian's nodejs
# and npm (node 18, with hundreds of node-* packages: three times the size and time); also
# with NODE_FROM=debian.
HOST_NODE=$(command -v node || true)
HOST_NPM=
if [ "${NODE_FROM:-host}" = debian ]; then
    HOST_NODE=
elif [ -n "$HOST_NODE" ]; then
    HOST_NODE=$(readlink -f "$HOST_NODE")
    HOST_NPM=$(readlink -f "$(command -v npm || true)" 2>/dev/null | sed -n 's|/bin/npm-cli.js$||p')
fi
if [ -n "$HOST_NODE" ] && [ -d "$HOST_NPM" ]; then
    NODE_MAJOR=$("$HOST_NODE" -p 'process.versions.node.split(".")[0]')
else
    HOST_NODE= NODE_MAJOR=18
fi
NODE_IMAGE=docker.io/library/node:$NODE_MAJOR-bookworm-slim
if [ "${1:-}" = --node-image ]; then
    echo "$NODE_IMAGE"
    exit 0
fi

have() { [ -z "${FORCE:-}" ] && podman image exists "$1"; }

# Work in memory where there is a tmpfs: most of mmdebstrap's time on these machines went to
# writing, then deleting, root file systems on a disk mounted with `discard`. TMPDIR is
# mmdebstrap's for its own. 1.6 GB at the peak, measured (each root file system and tarball,
# the four side by side), freed as each image is imported.
WORK=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo /tmp )/chatapp-base-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export TMPDIR=$WORK
PATH_DEFAULT=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# mmdebstrap $1=tarball, $2=packages, then extra mmdebstrap options. As the official images:
# no Recommends, no documentation, merged /usr without the usrmerge package (which would pull
# in perl); eatmydata while dpkg runs (no fsync of files thrown away with the build anyway).
rootfs() {
    local out=$1 packages=$2
    shift 2
    mmdebstrap --variant=minbase --quiet --include="ca-certificates${packages:+,$packages}" \
        --aptopt='APT::Install-Recommends "false"' \
        --hook-dir="$HOOKS/merged-usr" --hook-dir="$HOOKS/eatmydata" \
        --customize-hook="copy-in $CA_BUNDLE /etc/ssl/certs/" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/usr/share/locale/*' \
        "$@" bookworm "$out" \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" \
        "deb $SECURITY bookworm-security main"
}

# podman import $1=tarball $2=tag, then --change arguments. The label marks it (and, inherited,
# every image built on it) as made here: remove-images.sh removes them all by it.
import() {
    local tar=$1 tag=$2
    shift 2
    podman import --quiet --change "LABEL=$LABEL=$tag" "$@" "$tar" "$tag" >/dev/null
    rm -f "$tar"
}

# Official python images have `python` on PATH; Debian's python3.11 is made to look so (its
# venv module brings pip into the venv the Containerfile makes).
python_image() {
    rootfs "$WORK/python.tar" python3.11,python3.11-venv \
        --customize-hook='ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python; ln -sf /usr/bin/python3.11 "$1"/usr/local/bin/python3'
    import "$WORK/python.tar" "$PYTHON_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" --change ENV=LANG=C.UTF-8 \
        --change ENV=PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
        --change 'CMD=["python3"]'
}

node_image() {
    if [ -n "$HOST_NODE" ]; then
        rootfs "$WORK/node.tar" "" \
            --customize-hook="copy-in $HOST_NODE /usr/local/bin/" \
            --customize-hook="mkdir -p \"\$1\"/usr/local/lib/node_modules" \
            --customize-hook="copy-in $HOST_NPM /usr/local/lib/node_modules/" \
            --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1"/usr/local/bin/npm; ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1"/usr/local/bin/npx'
    else
        rootfs "$WORK/node.tar" nodejs,npm
    fi
    import "$WORK/node.tar" "$NODE_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" \
        --change ENV=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
        --change 'CMD=["node"]'
}

postgres_image() {
    rootfs "$WORK/postgres.tar" postgresql-15 \
        --customize-hook="copy-in $HERE/postgres-entrypoint.sh /usr/local/bin/" \
        --customize-hook='chmod 755 "$1"/usr/local/bin/postgres-entrypoint.sh; mkdir -p "$1"/var/lib/postgresql/data "$1"/var/run/postgresql; chroot "$1" chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql'
    import "$WORK/postgres.tar" "$POSTGRES_IMAGE" \
        --change "ENV=PATH=/usr/lib/postgresql/15/bin:$PATH_DEFAULT" \
        --change ENV=PGDATA=/var/lib/postgresql/data --change ENV=LANG=C.UTF-8 \
        --change 'ENTRYPOINT=["/usr/local/bin/postgres-entrypoint.sh"]' \
        --change 'CMD=["postgres"]' --change 'EXPOSE=5432' \
        --change 'VOLUME=/var/lib/postgresql/data'
}

redis_image() {
    rootfs "$WORK/redis.tar" redis-server,redis-tools \
        --customize-hook='mkdir -p "$1"/data; chroot "$1" chown redis:redis /data'
    # The official image turns protected mode off: it is reached over the container network.
    import "$WORK/redis.tar" "$REDIS_IMAGE" \
        --change "ENV=PATH=$PATH_DEFAULT" --change WORKDIR=/data --change USER=redis \
        --change 'CMD=["redis-server","--protected-mode","no","--dir","/data"]' \
        --change 'EXPOSE=6379' --change 'VOLUME=/data'
}

# Side by side: most of each one's time is dpkg and the tarball, little of it downloading, and
# on a shared machine four processes get more of it than one.
declare -A PIDS=()
for name in "${@:-python node postgres redis}"; do
    for name in $name; do
        image_var=${name^^}_IMAGE
        have "${!image_var}" && continue
        ( "${name}_image" > "$WORK/$name.log" 2>&1; echo "$SECONDS" > "$WORK/$name.seconds" ) &
        PIDS[$name]=$!
    done
done
failed=0
for name in "${!PIDS[@]}"; do
    image_var=${name^^}_IMAGE
    if wait "${PIDS[$name]}"; then
        echo "built ${!image_var} in $(cat "$WORK/$name.seconds") s"
    else
        failed=1
        echo "FAILED to build ${!image_var}:" >&2
        tail -n 30 "$WORK/$name.log" >&2
    fi
done
exit $failed
