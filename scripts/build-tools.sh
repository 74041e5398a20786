#!/usr/bin/env bash
# Builds the Go programs the local stack runs (the Temporal CLI with its dev server and Web UI, and the
# Cloud Storage emulator) once, from the Go module proxy, into a tools cache shared by every clone.
#
#   COLETA_TOOLS_DIR   the cache (default: ${XDG_CACHE_HOME:-~/.cache}/coleta/tools)
#
# Each tool lives in a folder of its own version, so a version change builds beside the old one. A tool
# already in the cache is not built again; with both present this returns at once.
set -euo pipefail

TEMPORAL_CLI_VERSION=1.5.1
FAKE_GCS_SERVER_VERSION=1.56.1

tools_dir=${COLETA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/coleta/tools}
temporal_bin="$tools_dir/temporal-$TEMPORAL_CLI_VERSION/temporal"
fake_gcs_bin="$tools_dir/fake-gcs-server-$FAKE_GCS_SERVER_VERSION/fake-gcs-server"

if [[ -x $temporal_bin && -x $fake_gcs_bin ]]; then
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "coleta: Go 1.25 or newer is needed to build the Temporal CLI and fake-gcs-server" \
    "(https://go.dev/doc/install)," \
    "or put prebuilt binaries at $temporal_bin and $fake_gcs_bin" >&2
  exit 1
fi

# build NAME MODULE@VERSION TARGET [go install flags...]
# Installs into a temporary folder beside the target and renames it into place, so an interrupted build
# never leaves a half-written binary that a later run would take for a finished one.
build() {
  local name=$1 module=$2 target=$3
  shift 3
  local dir
  dir=$(dirname "$target")
  mkdir -p "$dir"
  local staging
  staging=$(mktemp -d "$dir/.build.XXXXXX")
  local started=$SECONDS
  echo "coleta: building $name ($module) into $dir; a cold build takes several minutes on two cores"
  (
    # A dot every 15 s, with the elapsed time every minute, so a long build shows it is alive.
    while sleep 15; do
      elapsed=$((SECONDS - started))
      if ((elapsed % 60 < 15)); then echo "coleta: ... still building $name (${elapsed}s)"; fi
    done
  ) &
  local ticker=$!
  if ! GOBIN="$staging" go install "$@" "$module"; then
    kill "$ticker" 2>/dev/null || true
    rm -rf "$staging"
    echo "coleta: building $name failed (see the go output above)" >&2
    return 1
  fi
  kill "$ticker" 2>/dev/null || true
  mv "$staging/$(basename "$target")" "$target"
  rm -rf "$staging"
  echo "coleta: built $name in $((SECONDS - started))s"
}

if [[ ! -x $fake_gcs_bin ]]; then
  build "fake-gcs-server v$FAKE_GCS_SERVER_VERSION" "github.com/fsouza/fake-gcs-server@v$FAKE_GCS_SERVER_VERSION" \
    "$fake_gcs_bin"
fi

if [[ ! -x $temporal_bin ]]; then
  build "Temporal CLI v$TEMPORAL_CLI_VERSION" "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" \
    "$temporal_bin" -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_CLI_VERSION"
fi
