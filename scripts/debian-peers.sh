#!/usr/bin/env bash
# The Debian packages behind the real peers of the tests and benchmarks: installs the missing ones (as root, through
# apt-get) or names them and fails. scripts/test.sh and bench/ (`npm run bench`) call it.
#
#   scripts/debian-peers.sh WHO [COMMAND…]
#
# WHO prefixes the messages (`test`, `bench`); the COMMANDs (redis-server, redis-cli, tshark, sipp, sipsak, sngrep, kamailio,
# promtool, the softphones twinkle-console, linphonec, baresip, chromium for the status page's browser test, and ip, nft,
# systemd-analyze of the multi-host rehearsal and its systemd units) choose which peers are needed, default all of them.
set -euo pipefail

who=${1:-peers}
shift || true
# "command package[:file]": a module package is told apart by one of its files, not by a command.
peers=(
  "redis-server redis-server"
  "redis-cli redis-tools"
  "tshark tshark"
  "sipp sip-tester"
  "sipsak sipsak"
  "sngrep sngrep"
  "kamailio kamailio"
  "kamailio kamailio-ims-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/ims_auth.so"
  "kamailio kamailio-presence-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/presence.so"
  "twinkle-console twinkle-console"
  "linphonec linphone-cli"
  "baresip baresip"
  "promtool prometheus"
  "ip iproute2"
  "nft nftables"
  "systemd-analyze systemd"
  "chromium chromium"
)
wanted() {
  local w
  for w in "${@:2}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}
missing=()
for pair in "${peers[@]}"; do
  read -r cmd spec <<<"$pair"
  if [ "$#" -gt 0 ] && ! wanted "$cmd" "$@"; then continue; fi
  pkg=${spec%%:*}
  file=${spec#*:}
  if [ "$file" != "$spec" ]; then
    [ -e "$file" ] || missing+=("$pkg")
  else
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "$who: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "$who: these Debian packages are needed and you are not root: ${missing[*]}" >&2
    echo "$who: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi
