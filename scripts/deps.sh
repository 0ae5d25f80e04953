#!/usr/bin/env bash
# Installs the system packages Parley needs, and only those that are missing.
#
#   scripts/deps.sh run    what `make run` needs: a C compiler, pkg-config,
#                          GTK 3 and WebKitGTK 4.1 headers (the desktop build)
#   scripts/deps.sh test   what `make test` needs besides: Chromium (browser
#                          tests), Xvfb (desktop smoke test), ImageMagick
#                          (screenshots), iproute2 (mDNS test in a network
#                          namespace), Node.js (frontend and wasm tests)
#   scripts/deps.sh serve  nothing but Go: the server-only build needs no
#                          system library
#
# Idempotent: each package is checked with `dpkg-query` first; apt-get runs only
# when something is missing, with sudo only when not root. Go itself
# (go.mod's version) is not installed here: get it from https://go.dev/dl/.
set -euo pipefail

want=${1:-run}

need_go() {
	if ! command -v go >/dev/null 2>&1; then
		echo "deps: Go is not installed (or not on PATH); get it from https://go.dev/dl/ (see go.mod for the version)" >&2
		exit 1
	fi
}

run_pkgs=(gcc libc6-dev pkg-config libgtk-3-dev libwebkit2gtk-4.1-dev)
test_pkgs=(chromium xvfb xauth imagemagick iproute2 ca-certificates)

case "$want" in
run) pkgs=("${run_pkgs[@]}") ;;
test) pkgs=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
serve) pkgs=() ;;
*)
	echo "usage: $0 run|test|serve" >&2
	exit 2
	;;
esac
need_go

# Node.js: any node on PATH will do (nvm, nodesource, Debian's nodejs).
if [ "$want" = test ] && ! command -v node >/dev/null 2>&1; then
	pkgs+=(nodejs)
fi

if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
	if [ ${#pkgs[@]} -gt 0 ]; then
		echo "deps: no dpkg/apt-get here (not Debian or Ubuntu); install these yourself: ${pkgs[*]}" >&2
	fi
	exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != 'install ok installed' ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "deps: missing packages (${missing[*]}) and not root, and there is no sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600)
# A fresh machine may have no package lists yet; a failed install is retried
# once after an update.
if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
	"${apt[@]}" update
	"${apt[@]}" install -y --no-install-recommends "${missing[@]}"
fi
