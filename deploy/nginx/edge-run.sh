#!/bin/sh
# Runs the edge's nginx (edge.conf, beside this script) in the foreground and reloads it when
# a name in gateways.conf comes to resolve to other addresses. Open-source nginx resolves
# the servers of an upstream block only when it loads its configuration, and a gateway
# container or pod that comes back may have a new address.
#   EDGE_PREFIX        caches, temp files, pid (default /var/cache/wep-edge/; keep it on tmpfs)
#   EDGE_DNS_INTERVAL  seconds between looks at the names (default 10)
set -eu

conf=$(cd "$(dirname "$0")" && pwd)
prefix=${EDGE_PREFIX:-/var/cache/wep-edge/}
interval=${EDGE_DNS_INTERVAL:-10}
names=$(sed -n 's/^[[:space:]]*server[[:space:]][[:space:]]*\([^:;[:space:]]*\).*/\1/p' "$conf/gateways.conf")

addresses() {
    for name in $names; do
        getent ahosts "$name" | awk '{ print $1 }' || true
    done | sort -u
}

unresolved() {
    for name in $names; do
        getent ahosts "$name" >/dev/null || echo "$name"
    done
}

# nginx refuses to start while a server name does not resolve.
while [ -n "$(unresolved)" ]; do
    echo "edge: waiting for $(unresolved | tr '\n' ' ')to resolve" >&2
    sleep 2
done

mkdir -p "$prefix"
nginx -p "$prefix" -c "$conf/edge.conf" -g 'daemon off;' &
nginx_pid=$!
# Graceful: requests in flight (a blocking playlist reload, a stream) finish first.
trap 'kill -QUIT "$nginx_pid" 2>/dev/null || true' TERM INT

seen=$(addresses)
while kill -0 "$nginx_pid" 2>/dev/null; do
    sleep "$interval" &
    wait $! || true
    now=$(addresses)
    if [ -n "$now" ] && [ "$now" != "$seen" ]; then
        echo "edge: gateway addresses changed, reloading nginx" >&2
        seen=$now
        kill -HUP "$nginx_pid" 2>/dev/null || true
    fi
done
wait "$nginx_pid"
