#!/usr/bin/env bash
# Installs what is missing so that `npm start` and `npm test` work on a fresh machine:
# node_modules (npm ci, which also fetches Node 24 into node_modules/.bin/node). The local stack's servers
# (Kafka jars from Maven Central, Debian's ClickHouse) are installed by infra/stack when they are started.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.package-lock.stamp
if [ ! -x node_modules/.bin/node ] || [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "bootstrap: installing npm dependencies (npm ci) …"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi
node_version=$(node_modules/.bin/node -v)
case "$node_version" in
  v24.*) ;;
  *) echo "bootstrap: expected Node 24 at node_modules/.bin/node, found $node_version" >&2; exit 1 ;;
esac
