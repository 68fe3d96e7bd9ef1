#!/usr/bin/env bash
# Installs the Debian packages whose servers `make run` and `make test` start: redis-server,
# mariadb-server and mariadb-client; with --with-browser (`make test`) also the chromium that the
# browser tests (tests/browser) and bench/screenshot.py drive through Playwright, which running
# the app does not need; with --with-prometheus (`make test`, `make observe`) also prometheus,
# whose `prometheus` and `promtool` the metrics tests (tests/telemetry) run; with
# --with-load-tools (`make bench`, `make test`) also the C load generators the hold-only rush
# (bench/holdrush.py) drives the gateway with: `wrk` and nghttp2-client's `h2load`. It looks for
# the binaries themselves, so when they are there (however they got there) it does nothing and
# costs a few milliseconds; it runs before every `make run` and `make test`, which is why it has
# no stamp file that could go stale.
set -euo pipefail

with_browser=false
with_prometheus=false
with_load_tools=false
for argument in "$@"; do
  case "$argument" in
    --with-browser) with_browser=true ;;
    --with-prometheus) with_prometheus=true ;;
    --with-load-tools) with_load_tools=true ;;
    *) echo "usage: $0 [--with-browser] [--with-prometheus] [--with-load-tools]" >&2; exit 2 ;;
  esac
done

# mariadbd is in /usr/sbin, which an ordinary user's PATH often leaves out; devstack/servers.py
# looks there too.
PATH="$PATH:/usr/sbin:/sbin"

have() {
  local binary
  for binary in "$@"; do
    command -v "$binary" >/dev/null 2>&1 || return 1
  done
}

packages=()
have redis-server || packages+=(redis-server)
have mariadbd mariadb-install-db || packages+=(mariadb-server)
have mariadb || packages+=(mariadb-client)
if $with_browser; then
  have chromium || packages+=(chromium)
fi
# Installing it also starts Debian's own system-wide Prometheus on port 9090; `make observe`
# and the tests run theirs on other loopback ports.
if $with_prometheus; then
  have prometheus promtool || packages+=(prometheus)
fi
# A load client in C costs a small fraction of the server's CPU; a Python one hides the server.
if $with_load_tools; then
  have wrk || packages+=(wrk)
  have h2load || packages+=(nghttp2-client)
fi

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing: ${packages[*]}. This is not a Debian-like system: install Redis, MariaDB," \
    "Chromium, Prometheus, wrk and h2load (redis-server, mariadbd, mariadb-install-db, mariadb," \
    "chromium, prometheus, promtool, wrk, h2load) with your package manager." >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${packages[*]}. Install them as root, then run make again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi

echo "Installing Debian packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
