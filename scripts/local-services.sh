#!/usr/bin/env bash
# scripts/local-services.sh start|stop|status — local stand-ins, loopback only:
#   * Docker daemon (Debian's docker.io) on a private unix socket, with a
#     base image esteira/node-base:bookworm made by debootstrap (nothing can
#     be pulled from a public registry here);
#   * an image registry (Debian's docker-registry) on 127.0.0.1:5000 with
#     htpasswd (bcrypt) auth, holding the base image;
#   * PostgreSQL (Debian's postgresql) as its own cluster on 127.0.0.1:5433;
#   * the pull requests' PostgreSQL image esteira/postgres:15-bookworm, Debian's package on the
#     base image (scripts/images/postgres), in the registry;
#   * an S3-compatible store (versitygw, scripts/toolchain.sh) on 127.0.0.1 and the node's address,
#     port 7070, standing in for Spaces: its accounts each reach only the buckets they own.
# Idempotent: start on a running service is a no-op; stop stops only what
# this script started (by pidfile). Secrets are generated once, kept in
# mode-600 files, and never printed. `source scripts/env.sh` for the names.
# Each part of `start` is one numbered step (scripts/lib.sh); setup-local.sh
# sources this file and runs the same steps among its own.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
answer_help "$@"

# shellcheck source=scripts/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=scripts/lib.sh
source "$ESTEIRA_SCRIPTS_DIR/lib.sh"
LOG_PREFIX=local-services

L="$ESTEIRA_LOCAL_DIR"
DOCKER_DIR="$L/docker"
REG_DIR="$L/registry"
PG_DIR="$L/postgres"
S3_DIR="$L/s3"
# Postgres refuses to run as root, and the postgres user cannot enter a
# cache dir under root's 0700 home; as root its cluster lives under /var/lib,
# in a directory named after the cache, so another ESTEIRA_CACHE (a cold run)
# never reads this one's database. A link in the cache points at it.
if [[ $EUID -eq 0 ]]; then
  PG_DATA="${ESTEIRA_PG_DATA:-/var/lib/esteira/postgres-$(printf '%s' "$ESTEIRA_CACHE" | sha256sum | cut -c1-12)/data}"
  PG_RUN=(runuser -u postgres --)
else
  PG_DATA="${ESTEIRA_PG_DATA:-$PG_DIR/data}"
  PG_RUN=()
fi
PG_SOCK_DIR="$(dirname "$PG_DATA")/run"
BASE_SUITE=bookworm
# Bump BASE_RECIPE when the base image recipe (packages, users, image
# config) changes. The image also trusts this machine's locally added CAs
# (/usr/local/share/ca-certificates: e.g. a TLS-intercepting egress proxy,
# without which `npm ci` in an image build fails), so their hash is part of
# the key. Node.js's release binary trusts only its own bundled roots (Debian's
# nodejs used the system store), so NODE_EXTRA_CA_CERTS points it at the system's. The rootfs tarball is keyed by it, and the local and registry
# images are rebuilt/re-pushed when their recipe label differs.
BASE_RECIPE=4
LOCAL_CA_DIR=/usr/local/share/ca-certificates
BASE_KEY="$BASE_RECIPE-node$ESTEIRA_NODE_VERSION-npm$ESTEIRA_NPM_VERSION-$(find "$LOCAL_CA_DIR" -name '*.crt' -type f 2>/dev/null | LC_ALL=C sort | xargs -r cat | sha256sum | cut -c1-12)"
ROOTFS_TAR="$ESTEIRA_CACHE/rootfs/node-base-$BASE_SUITE-$BASE_KEY.tar"
# Debian's client speaks BuildKit to Debian's 20.10 daemon; a newer client
# elsewhere on PATH (e.g. /usr/local/bin/docker) may lack the buildx plugin.
DOCKER=/usr/bin/docker

# Debian packages we stand on; installed only when missing.
SERVICE_PACKAGES=(docker.io docker-registry apache2-utils debootstrap postgresql rclone)
ensure_packages() { ensure_debian_packages "${SERVICE_PACKAGES[@]}"; }

# --- docker -----------------------------------------------------------------
docker_up() { "$DOCKER" version >/dev/null 2>&1; }

start_docker() {
  mkdir -p "$DOCKER_DIR" "$ESTEIRA_SHIM_DIR" "$DOCKER_CONFIG"
  ln -sfn "$DOCKER" "$ESTEIRA_SHIM_DIR/docker"
  if pid_alive "$DOCKER_DIR/dockerd.pid" && docker_up; then
    log "docker: already running"
    step_note "already running"
    return 0
  fi
  # A daemon of an earlier run that lost its pidfile would hold the socket.
  [[ ! -S "$ESTEIRA_DOCKER_SOCK" ]] || ! docker_up ||
    die "a Docker daemon we did not start answers on $ESTEIRA_DOCKER_SOCK" "stop it (pgrep -a dockerd), then run this again"
  log "docker: starting (log $DOCKER_DIR/dockerd.log)"
  # No bridge, NAT or iptables rules: containers get no network of their own
  # (nothing here may talk to non-loopback addresses), and the host's
  # firewall and ip_forward stay untouched. Builds that RUN commands need
  # `--network host` (docker-build provider: network: "host").
  without_inherited_fds setsid dockerd \
    --host "$ESTEIRA_DOCKER_HOST" \
    --data-root "$DOCKER_DIR/data" \
    --exec-root "$DOCKER_DIR/exec" \
    --pidfile "$DOCKER_DIR/dockerd.pid" \
    --bridge=none --iptables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false \
    >>"$DOCKER_DIR/dockerd.log" 2>&1 </dev/null &
  if ! wait_for 60 docker_up; then
    tail -20 "$DOCKER_DIR/dockerd.log" >&2
    stop_pid docker "$DOCKER_DIR/dockerd.pid"
    die "dockerd did not answer within 60s (its log above: $DOCKER_DIR/dockerd.log)" \
      "dockerd needs root and a kernel with overlayfs or vfs; fix what its log names, then run this again"
  fi
  log "docker: up ($ESTEIRA_DOCKER_HOST)"
}

stop_docker() {
  # Containers we may have left running would pin mounts; remove them first.
  if docker_up; then
    local ids
    ids="$("$DOCKER" ps -q)"
    # One id per word, on purpose.
    # shellcheck disable=SC2086
    [[ -z "$ids" ]] || "$DOCKER" rm -f $ids >/dev/null
  fi
  stop_pid docker "$DOCKER_DIR/dockerd.pid"
  # dockerd mounts its data root on itself and the host's network namespace into its exec root
  # (netns/default), and leaves them behind when it stops.
  unmount_under "$DOCKER_DIR/data" "$DOCKER_DIR/exec"
}

# --- base image ---------------------------------------------------------------
# Root filesystem tarball: Debian minbase, the Node.js binary scripts/node.sh installed (the same
# release the program runs on, ESTEIRA_NODE_VERSION) and npm ESTEIRA_NPM_VERSION from the npm
# registry (image builds run `npm ci`), user node (1000) and /app owned by it. Debian's own nodejs
# (18 on bookworm) gets no security fixes upstream any more. Built once per recipe (~1 min).
# The Debian mirror this machine's apt already uses (deb822 sources, else sources.list), so the
# base image comes from wherever this machine is allowed to fetch packages.
debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "$uri" ]] || uri="$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  [[ -n "$uri" ]] || die "no Debian mirror found in /etc/apt sources" "add the mirror this machine may use to /etc/apt/sources.list.d"
  printf '%s\n' "$uri"
}

# rootfs_node ROOT — Node.js and npm into ROOT/usr/local, as the official node images lay them out.
rootfs_node() {
  local root=$1 pack
  [[ -x "$ESTEIRA_NODE_DIR/bin/node" ]] || die "Node.js $ESTEIRA_NODE_VERSION is not installed" "run bash scripts/node.sh"
  install -D -m 755 "$(readlink -f "$ESTEIRA_NODE_DIR/bin/node")" "$root/usr/local/bin/node"
  pack="$(mktemp -d)"
  # npm's package bundles its own dependencies: the unpacked tarball is the whole of npm.
  (cd "$pack" && npm pack --silent "npm@$ESTEIRA_NPM_VERSION" >/dev/null) \
    || die "npm could not fetch npm@$ESTEIRA_NPM_VERSION" "check that the npm registry is reachable"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$pack"/npm-*.tgz
  rm -rf "$pack"
  ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
}

build_rootfs() {
  [[ -s "$ROOTFS_TAR" ]] && return 0
  local root="$ESTEIRA_CACHE/rootfs/build-$BASE_SUITE"
  log "base image: debootstrap $BASE_SUITE (minbase) + Node.js $ESTEIRA_NODE_VERSION, npm $ESTEIRA_NPM_VERSION into $root"
  rm -rf "$root" && mkdir -p "$root"
  debootstrap --variant=minbase --include=ca-certificates,libstdc++6 \
    "$BASE_SUITE" "$root" "$(debian_mirror)" >"$ESTEIRA_CACHE/rootfs/debootstrap.log" 2>&1 \
    || { tail -20 "$ESTEIRA_CACHE/rootfs/debootstrap.log" >&2; die "debootstrap $BASE_SUITE failed (log above)" "check that the Debian mirror in /etc/apt serves $BASE_SUITE"; }
  find "$LOCAL_CA_DIR" -name '*.crt' -type f -exec cp {} "$root/usr/local/share/ca-certificates/" \; 2>/dev/null || true
  rootfs_node "$root"
  chroot "$root" sh -ec '
    update-ca-certificates >/dev/null
    node --version >/dev/null && npm --version >/dev/null
    groupadd -g 1000 node
    useradd -u 1000 -g node -m -s /bin/sh node
    mkdir -p /app && chown node:node /app
    apt-get clean
    rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /usr/share/locale/*' >>"$ESTEIRA_CACHE/rootfs/debootstrap.log" 2>&1 \
    || { tail -20 "$ESTEIRA_CACHE/rootfs/debootstrap.log" >&2; die "preparing the base image failed (log above)" "see $ESTEIRA_CACHE/rootfs/debootstrap.log"; }
  tar -C "$root" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$root"
  # Tarballs of older recipes are dead weight.
  find "$(dirname "$ROOTFS_TAR")" -maxdepth 1 -name "node-base-$BASE_SUITE*.tar" ! -name "$(basename "$ROOTFS_TAR")" -delete
}

ensure_base_image() {
  local recipe pushed=""
  recipe="$("$DOCKER" image inspect -f '{{index .Config.Labels "esteira.base-recipe"}}' "$ESTEIRA_BASE_IMAGE_LOCAL" 2>/dev/null || true)"
  if [[ "$recipe" != "$BASE_KEY" ]]; then
    build_rootfs
    log "base image: importing $ESTEIRA_BASE_IMAGE_LOCAL (recipe $BASE_KEY)"
    "$DOCKER" import \
      --change 'WORKDIR /app' \
      --change 'ENV NODE_ENV=production' \
      --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
      --change "LABEL esteira.base-recipe=$BASE_KEY" \
      --change 'CMD ["node"]' \
      "$ROOTFS_TAR" "$ESTEIRA_BASE_IMAGE_LOCAL" >/dev/null
  fi
  # Also in the local registry, so builds and clusters can refer to it there;
  # pushed again whenever the registry's copy is not this very image.
  local id
  id="$("$DOCKER" image inspect -f '{{.Id}}' "$ESTEIRA_BASE_IMAGE_LOCAL")"
  if [[ "$(registry_image_id "$ESTEIRA_BASE_IMAGE")" != "$id" ]]; then
    "$DOCKER" tag "$ESTEIRA_BASE_IMAGE_LOCAL" "$ESTEIRA_BASE_IMAGE"
    log "base image: pushing $ESTEIRA_BASE_IMAGE"
    "$DOCKER" push "$ESTEIRA_BASE_IMAGE" >/dev/null
    pushed=1
  fi
  [[ -n "$pushed" || "$recipe" != "$BASE_KEY" ]] || step_note cached
}

# The pull requests' PostgreSQL image (scripts/images/postgres): Debian's postgresql-15 on the base
# image, rebuilt and pushed when its recipe or the base image changed.
ensure_postgres_image() {
  local dir="$ESTEIRA_SCRIPTS_DIR/images/postgres" recipe
  recipe="$(cat "$dir"/* | sha256sum | cut -c1-12)-$("$DOCKER" image inspect -f '{{.Id}}' "$ESTEIRA_BASE_IMAGE_LOCAL" | cut -c8-19)"
  if [[ "$("$DOCKER" image inspect -f '{{index .Config.Labels "esteira.recipe"}}' "$ESTEIRA_POSTGRES_IMAGE" 2>/dev/null || true)" == "$recipe" ]] \
    && [[ -n "$(registry_image_id "$ESTEIRA_POSTGRES_IMAGE")" ]]; then
    step_note cached
    return 0
  fi
  log "postgres image: apt-get install postgresql-15 on $ESTEIRA_BASE_IMAGE"
  DOCKER_BUILDKIT=0 "$DOCKER" build -q --network host --build-arg "BASE_IMAGE=$ESTEIRA_BASE_IMAGE" --label "esteira.recipe=$recipe" \
    -t "$ESTEIRA_POSTGRES_IMAGE" "$dir" >/dev/null || die "building $ESTEIRA_POSTGRES_IMAGE failed (output above)" "check that the Debian mirror in the base image's apt sources answers"
  "$DOCKER" push "$ESTEIRA_POSTGRES_IMAGE" >/dev/null || die "pushing $ESTEIRA_POSTGRES_IMAGE failed" "check the registry on $ESTEIRA_REGISTRY"
}

# --- registry -----------------------------------------------------------------
registry_up() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ESTEIRA_REGISTRY/v2/")" == 401 ]]
}

start_registry() {
  mkdir -p "$REG_DIR/data"
  ensure_secret "$ESTEIRA_REGISTRY_PASSWORD_FILE"
  # bcrypt htpasswd entry, password read from stdin (never on a command line).
  if [[ ! -s "$REG_DIR/htpasswd" ]] || ! htpasswd -vi "$REG_DIR/htpasswd" "$ESTEIRA_REGISTRY_USER" \
      <"$ESTEIRA_REGISTRY_PASSWORD_FILE" >/dev/null 2>&1; then
    (umask 077 && htpasswd -ciB "$REG_DIR/htpasswd" "$ESTEIRA_REGISTRY_USER" <"$ESTEIRA_REGISTRY_PASSWORD_FILE" 2>/dev/null)
  fi
  ensure_secret "$REG_DIR/http-secret"
  (umask 077 && cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $ESTEIRA_REGISTRY
  secret: $(cat "$REG_DIR/http-secret")
auth:
  htpasswd:
    realm: esteira-local
    path: $REG_DIR/htpasswd
EOF
  )
  if pid_alive "$REG_DIR/registry.pid" && registry_up; then
    log "registry: already running"
    step_note "already running"
  else
    ensure_port_free "${ESTEIRA_REGISTRY##*:}" "the local registry"
    log "registry: starting on $ESTEIRA_REGISTRY (log $REG_DIR/registry.log)"
    without_inherited_fds setsid docker-registry serve "$REG_DIR/config.yml" >>"$REG_DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$REG_DIR/registry.pid"
    if ! wait_for 30 registry_up; then
      tail -20 "$REG_DIR/registry.log" >&2
      stop_registry
      die "the registry did not answer on $ESTEIRA_REGISTRY within 30s (its log above)" "fix what its log names, then run this again"
    fi
  fi
  # Log the docker client in (credentials land in $DOCKER_CONFIG, not ~/.docker).
  if ! grep -q "\"$ESTEIRA_REGISTRY\"" "$DOCKER_CONFIG/config.json" 2>/dev/null; then
    # (its "stored unencrypted" warning is expected: a throwaway local login)
    local out
    out="$("$DOCKER" login --username "$ESTEIRA_REGISTRY_USER" --password-stdin "$ESTEIRA_REGISTRY" \
      <"$ESTEIRA_REGISTRY_PASSWORD_FILE" 2>&1)" || die "docker login to $ESTEIRA_REGISTRY failed: $out" "check $REG_DIR/registry.log"
  fi
}

# registry_image_id HOST:PORT/NAME:TAG — prints the image ID (config digest)
# the registry holds under that tag, or nothing; the credentials reach curl on
# stdin, not on its command line.
registry_image_id() {
  local ref=${1#"$ESTEIRA_REGISTRY"/}
  printf 'user = "%s:%s"\n' "$ESTEIRA_REGISTRY_USER" "$(cat "$ESTEIRA_REGISTRY_PASSWORD_FILE")" |
    curl -sf -K - \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://$ESTEIRA_REGISTRY/v2/${ref%:*}/manifests/${ref##*:}" 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).config.digest||"")}catch{}})' || true
}

stop_registry() { stop_pid registry "$REG_DIR/registry.pid"; }

# --- the node's address -------------------------------------------------------------
# node_network_up — the interface carrying $ESTEIRA_NODE_IP: the local node's address
# (scripts/local-node.sh), where pods reach PostgreSQL. A bridge with no ports, because the
# dummy driver is not always there: it only needs to hold a local address.
node_network_up() {
  ip link show "$ESTEIRA_NODE_IFACE" >/dev/null 2>&1 || ip link add "$ESTEIRA_NODE_IFACE" type bridge ||
    die "cannot create the interface $ESTEIRA_NODE_IFACE" "the local stand-ins need root with CAP_NET_ADMIN"
  # replace, not add: idempotent when an earlier run left the address (add fails "already assigned").
  ip addr replace "$ESTEIRA_NODE_IP/32" dev "$ESTEIRA_NODE_IFACE"
  ip link set "$ESTEIRA_NODE_IFACE" up
}

node_network_down() { ip link del "$ESTEIRA_NODE_IFACE" 2>/dev/null || true; }

# --- postgres -------------------------------------------------------------------
# The newest installed PostgreSQL's binaries (Debian: /usr/lib/postgresql/<major>/bin), or nothing.
pg_bindir() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -1; }
PG_BIN="$(pg_bindir)"

pg_up() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$ESTEIRA_PG_PORT"; }

# Pods connect from the pod network; nothing else beyond loopback is admitted.
ensure_pg_hba() {
  local hba="$PG_DATA/pg_hba.conf" line
  for line in "host all all $ESTEIRA_NODE_IP/32 scram-sha-256" "host all all $ESTEIRA_POD_CIDR scram-sha-256"; do
    grep -qxF "$line" "$hba" || printf '%s\n' "$line" >>"$hba"
  done
}

start_postgres() {
  ensure_secret "$ESTEIRA_PG_PASSWORD_FILE"
  mkdir -p "$PG_DIR" "$(dirname "$PG_DATA")" "$PG_SOCK_DIR"
  if [[ $EUID -eq 0 ]]; then
    chown postgres:postgres "$(dirname "$PG_DATA")" "$PG_SOCK_DIR"
    ln -sfn "$(dirname "$PG_DATA")" "$PG_DIR/cluster"
  fi
  if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
    log "postgres: initdb $PG_DATA"
    # Local socket: trust (only the service user can reach it); TCP: SCRAM.
    "${PG_RUN[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale \
      --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
      || { tail -20 "$PG_DIR/initdb.log" >&2; die "initdb $PG_DATA failed (log above)" "remove $PG_DATA and run this again"; }
  fi
  if pg_up && [[ -s "$PG_DATA/postmaster.pid" ]]; then
    log "postgres: already running on $ESTEIRA_PG_HOST:$ESTEIRA_PG_PORT"
    step_note "already running"
  else
    ensure_port_free "$ESTEIRA_PG_PORT" "the local PostgreSQL"
    node_network_up
    ensure_pg_hba
    log "postgres: starting on 127.0.0.1 and $ESTEIRA_NODE_IP, port $ESTEIRA_PG_PORT"
    (without_inherited_fds "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1,$ESTEIRA_NODE_IP -p $ESTEIRA_PG_PORT -c unix_socket_directories=$PG_SOCK_DIR" \
      start >/dev/null) || { tail -20 "$PG_DATA/server.log" >&2; die "PostgreSQL did not start (its log above)" "fix what its log names, then run this again"; }
  fi
  # Roles and database, idempotently; the passwords go in on stdin, not argv.
  ensure_secret "$ESTEIRA_PG_ADMIN_PASSWORD_FILE"
  local pw apw
  pw="$(cat "$ESTEIRA_PG_PASSWORD_FILE")"
  apw="$(cat "$ESTEIRA_PG_ADMIN_PASSWORD_FILE")"
  "${PG_RUN[@]}" "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h "$PG_SOCK_DIR" -p "$ESTEIRA_PG_PORT" -U postgres -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE $ESTEIRA_PG_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ESTEIRA_PG_USER')\gexec
ALTER ROLE $ESTEIRA_PG_USER WITH LOGIN PASSWORD '$pw';
SELECT 'CREATE DATABASE $ESTEIRA_PG_DB OWNER $ESTEIRA_PG_USER' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ESTEIRA_PG_DB')\gexec
SELECT 'CREATE ROLE $ESTEIRA_PG_ADMIN_USER LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ESTEIRA_PG_ADMIN_USER')\gexec
ALTER ROLE $ESTEIRA_PG_ADMIN_USER WITH LOGIN CREATEDB CREATEROLE PASSWORD '$apw';
SQL
}

stop_postgres() {
  if [[ -s "$PG_DATA/postmaster.pid" ]] && pg_up; then
    "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    log "postgres: stopped"
  else
    log "postgres: not running"
  fi
}

# --- checks ---------------------------------------------------------------------
services_status() {
  local rc=0
  if pid_alive "$DOCKER_DIR/dockerd.pid" && docker_up; then
    echo "docker:   up   DOCKER_HOST=$ESTEIRA_DOCKER_HOST"
  else echo "docker:   down"; rc=1; fi
  if pid_alive "$REG_DIR/registry.pid" && registry_up; then
    echo "registry: up   $ESTEIRA_REGISTRY (user $ESTEIRA_REGISTRY_USER, password in $ESTEIRA_REGISTRY_PASSWORD_FILE)"
  else echo "registry: down"; rc=1; fi
  if [[ -n "$PG_BIN" ]] && pg_up; then
    echo "postgres: up   $ESTEIRA_DATABASE_URL_NOPASS (password in $ESTEIRA_PG_PASSWORD_FILE)"
  else echo "postgres: down"; rc=1; fi
  if pid_alive "$S3_DIR/versitygw.pid" && s3_up; then
    echo "s3:       up   http://127.0.0.1:$ESTEIRA_S3_PORT and $ESTEIRA_S3_ENDPOINT (root $ESTEIRA_S3_ROOT_USER, secret in $ESTEIRA_S3_ROOT_SECRET_FILE)"
  else echo "s3:       down (it needs versitygw: bash scripts/setup-local.sh --finish starts it)"; fi
  return $rc
}

# --- S3-compatible store (versitygw) -----------------------------------------------
s3_up() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ESTEIRA_S3_PORT/")" == 403 ]]; }

# Buckets, versions and accounts live under the cache; the root account is the only one it starts
# with (the end-to-end suite makes an account and a bucket per environment with `versitygw admin`).
start_s3() {
  local gw="$ESTEIRA_BIN/versitygw-$ESTEIRA_VERSITYGW_VERSION/versitygw"
  [[ -x "$gw" ]] || die "versitygw is not built" "run bash scripts/toolchain.sh versitygw"
  ensure_secret "$ESTEIRA_S3_ROOT_SECRET_FILE"
  mkdir -p "$S3_DIR/data" "$S3_DIR/versions" "$S3_DIR/iam"
  if pid_alive "$S3_DIR/versitygw.pid" && s3_up; then
    log "s3: already running"
    step_note "already running"
    return 0
  fi
  ensure_port_free "$ESTEIRA_S3_PORT" "the local S3 store"
  node_network_up
  log "s3: starting versitygw on 127.0.0.1 and $ESTEIRA_NODE_IP, port $ESTEIRA_S3_PORT (log $S3_DIR/versitygw.log)"
  ROOT_ACCESS_KEY_ID="$ESTEIRA_S3_ROOT_USER" ROOT_SECRET_ACCESS_KEY="$(cat "$ESTEIRA_S3_ROOT_SECRET_FILE")" \
    without_inherited_fds setsid "$gw" --port "127.0.0.1:$ESTEIRA_S3_PORT" --port "$ESTEIRA_NODE_IP:$ESTEIRA_S3_PORT" --iam-dir "$S3_DIR/iam" \
    posix --versioning-dir "$S3_DIR/versions" "$S3_DIR/data" >>"$S3_DIR/versitygw.log" 2>&1 </dev/null &
  echo $! >"$S3_DIR/versitygw.pid"
  if ! wait_for 30 s3_up; then
    tail -20 "$S3_DIR/versitygw.log" >&2
    stop_s3
    die "versitygw did not answer on 127.0.0.1:$ESTEIRA_S3_PORT within 30s (its log above)" "fix what its log names, then run this again"
  fi
}
stop_s3() { stop_pid versitygw "$S3_DIR/versitygw.pid"; }
# Its own step, after services_steps: it needs versitygw, which setup-local.sh builds in the background.
s3_step() { step services-s3 "S3 store (versitygw) on 127.0.0.1 and $ESTEIRA_NODE_IP:$ESTEIRA_S3_PORT" start_s3; }

# services_steps — one numbered step per service (the caller has called steps_begin).
SERVICES_STEP_COUNT=6
services_steps() {
  step services-packages "Debian packages (${SERVICE_PACKAGES[*]})" ensure_packages
  PG_BIN="$(pg_bindir)"
  step services-docker "Docker daemon" start_docker
  step services-registry "registry on $ESTEIRA_REGISTRY" start_registry
  step services-base-image "base image (debootstrap $BASE_SUITE)" ensure_base_image
  step services-postgres-image "pull requests' PostgreSQL image (Debian's postgresql-15)" ensure_postgres_image
  step services-postgres "PostgreSQL on 127.0.0.1 and $ESTEIRA_NODE_IP:$ESTEIRA_PG_PORT" start_postgres
}

services_stop() {
  local rc=0
  stop_s3 || rc=1
  stop_postgres || rc=1
  stop_registry || rc=1
  stop_docker || rc=1
  node_network_down
  return $rc
}

# Run as a script; sourced (setup-local.sh), it only defines the steps.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  case "${1:-}" in
    start)
      steps_begin $((SERVICES_STEP_COUNT + 1))
      services_steps
      s3_step
      services_status
      ;;
    stop) services_stop ;;
    status) services_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
  esac
fi
