#!/bin/sh
# Installs the Debian packages cutover builds against, but only those whose
# header or tool is missing, and says what it installs.  Used by `make deps`
# and, on first build, by `make` itself.
set -e
missing=""
need() { # need HEADER-OR-TOOL PACKAGE
    case "$1" in
    /*) [ -e "$1" ] || missing="$missing $2" ;;
    *) command -v "$1" >/dev/null 2>&1 || missing="$missing $2" ;;
    esac
}
have_curl=""
for h in /usr/include/curl/curl.h /usr/include/*/curl/curl.h; do
    [ -e "$h" ] && have_curl=1
done
[ -n "$have_curl" ] || missing="$missing libcurl4-openssl-dev"
need /usr/include/microhttpd.h libmicrohttpd-dev
need /usr/include/jansson.h libjansson-dev
need /usr/include/ev.h libev-dev
need /usr/include/cmocka.h libcmocka-dev
need /usr/include/hiredis/hiredis.h libhiredis-dev
need redis-server redis-server
need pkg-config pkg-config
need curl curl
# promtool (Debian package prometheus): the prometheus_valid check asks it
# whether a relay's /metrics page parses; without it that check is
# inconclusive, never a pass.
need promtool prometheus
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing; run as root: apt-get install -y$missing" >&2
    exit 1
fi
echo "deps: installing:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
