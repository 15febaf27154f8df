"""The example bundled with the package, so that ``reprokit check`` alone shows what it does.

It needs no registry: the image starts ``FROM scratch`` and gets the host's statically linked
busybox (Debian's ``busybox-static``), copied into a temporary build context.

>>> is_static_elf("/nonexistent")
False
"""

from __future__ import annotations

import shutil
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from .errors import SpecError

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
PT_INTERP = 3


def is_static_elf(path: str | Path) -> bool:
    """Whether ``path`` is an ELF executable with no program interpreter (statically linked)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF":
                return False
            is64, little = head[4] == 2, head[5] == 1
            end = "<" if little else ">"
            if is64:
                (phoff,) = struct.unpack_from(end + "Q", head, 32)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 54)
            else:
                (phoff,) = struct.unpack_from(end + "I", head, 28)
                phentsize, phnum = struct.unpack_from(end + "HH", head, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        (p_type,) = struct.unpack_from(end + "I", table, i * phentsize)
        if p_type == PT_INTERP:
            return False
    return True


def find_static_busybox() -> Path:
    """The host's static busybox; :class:`SpecError` with the install hint when there is none."""
    candidates = [*BUSYBOX_CANDIDATES, shutil.which("busybox") or ""]
    for candidate in candidates:
        if candidate and is_static_elf(candidate):
            return Path(candidate)
    raise SpecError(
        "the bundled example needs a statically linked busybox "
        "(Debian: apt-get install busybox-static)"
    )


@contextmanager
def example_context(name: str = "basic") -> Iterator[Path]:
    """A temporary build context holding the bundled example ``name`` and a static busybox."""
    source = resources.files("reprokit") / "examples" / name
    if not source.is_dir():
        raise SpecError(f"no bundled example named {name!r}")
    with tempfile.TemporaryDirectory(prefix="reprokit-example-") as tmp:
        context = Path(tmp) / name
        with resources.as_file(source) as src:
            shutil.copytree(src, context)
        shutil.copy2(find_static_busybox(), context / "busybox")
        yield context
