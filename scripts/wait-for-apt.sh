#!/usr/bin/env bash
# Waits until no apt or dpkg process holds the package locks, saying so once, instead of
# failing: unattended-upgrades at boot or an operator's apt in another shell hold them for
# minutes. setup.sh calls it before each apt-get. COURTBOX_APT_LOCKS names other lock files.
set -euo pipefail
locks=${COURTBOX_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock}
said=0
# apt and dpkg take these with fcntl locks: a lock we can take for a moment is free.
# shellcheck disable=SC2086
until python3 - $locks <<'PY'
import fcntl, os, sys
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue  # no such lock file (or not ours to open): nothing to wait for
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(1)
    finally:
        os.close(fd)
PY
do
  if [ "$said" = 0 ]; then
    echo "waiting for another apt or dpkg process to finish: it holds the package lock" >&2
    said=1
  fi
  sleep 1
done
if [ "$said" = 1 ]; then echo "the package lock is free: going on" >&2; fi
