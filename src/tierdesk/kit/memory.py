"""Keeping a long-running process's memory flat when it handles large messages (25 MB emails).

glibc serves a large allocation with its own mmap and returns it to the system when freed, but after the first such
free it raises that threshold (up to 32 MB on 64-bit): later 25 MB buffers then come from the heaps of the threads
that made them, and each thread's heap keeps its high-water mark. A process taking mail on several threads grew by
about 100 MB per large message until every heap had grown (measured with bench/email.py). A fixed threshold turns
that off: buffers of a MiB and more always go back to the system when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("tierdesk.memory")

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
LARGE = 1024 * 1024
_done = False


def return_large_buffers_to_the_system() -> bool:
    """Once per process; True when glibc took the setting (False on other C libraries, where nothing changes)."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        ok = bool(libc and libc.mallopt(_M_MMAP_THRESHOLD, LARGE))
    except (OSError, AttributeError):  # not glibc
        ok = False
    _done = ok
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD) not available: large buffers follow the C library's defaults")
    return ok
