from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from photosim.core.errors import LibraryLockedError
from photosim.core.lock import InstanceLock

HOLD = "import sys,time; from photosim.core.lock import InstanceLock; " \
       "l=InstanceLock(__import__('pathlib').Path(sys.argv[1])); l.acquire(); " \
       "print('held', flush=True); time.sleep(30)"


def test_second_instance_is_told_who_holds_the_library(tmp_path: Path) -> None:
    lock_path = tmp_path / "photosim.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LibraryLockedError, match=f"pid {holder.pid}"):
            InstanceLock(lock_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    # The OS dropped the lock with its (killed) holder: no stale lock to clean up by hand.
    with InstanceLock(lock_path):
        pass
