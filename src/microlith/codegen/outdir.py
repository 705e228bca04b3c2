"""Writing a generated folder without ever touching what the user owns.

A folder microlith made carries a manifest (MANIFEST) listing every file it wrote. Such a
folder is replaced as a whole: the new contents are written to a temporary sibling and renamed
into place, so stale files from an earlier compile vanish and two compiles racing into the same
folder each leave a complete folder, never a mix. A non-empty folder without a manifest is the
user's: it is refused unless `force`, and then only the generated files are written into it
(and, on the next compile, only the files the manifest lists are replaced or removed).
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path

from .. import __version__
from ..ir import MicrolithError

MANIFEST = ".microlith-manifest.json"


def _manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("generator") != "microlith" or \
            not isinstance(data.get("files"), list) or not all(isinstance(f, str) for f in data["files"]):
        return None
    return data


def _user_files(folder: Path, listed: set[str]) -> list[str]:
    """Files under `folder` that a manifest does not list (the user's)."""
    extra = []
    for root, _dirs, names in os.walk(folder):
        for n in names:
            rel = os.path.relpath(os.path.join(root, n), folder).replace(os.sep, "/")
            if rel != MANIFEST and rel not in listed:
                extra.append(rel)
    return sorted(extra)


def _state(out: Path) -> tuple[str, dict | None, list[str]]:
    """("missing" | "file" | "dir", manifest, user files). Another compile may swap the folder
    while we look (a rename puts a new directory there): the manifest and the listing must come
    from one directory, so the look is repeated until the directory is the same one before and
    after it; a folder that vanishes reads as missing."""
    for _ in range(100):
        try:
            st = os.stat(out)
        except FileNotFoundError:
            return "missing", None, []
        if not stat.S_ISDIR(st.st_mode):
            return "file", None, []
        man = _manifest(out)
        extra = _user_files(out, set(man["files"]) if man else set())
        try:
            again = os.stat(out)
        except FileNotFoundError:
            continue
        if (again.st_dev, again.st_ino) == (st.st_dev, st.st_ino):
            return "dir", man, extra
    raise MicrolithError(f"{out}: other compiles keep replacing this folder; try again")


def _write_files(folder: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in sorted(files.items()):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _manifest_text(files, kind: str, owned: bool) -> str:
    return json.dumps({"generator": "microlith", "version": __version__, "kind": kind, "owned": owned,
                       "files": sorted(files)}, indent=1) + "\n"


def write_folder(out_dir, files: dict[str, str | bytes], kind: str = "model", force: bool = False) -> Path:
    """Write `files` (relative path -> content) as the folder `out_dir`; see the module doc."""
    out = Path(out_dir)
    for rel in files:  # our own names only, but never let one escape the folder
        if rel.startswith("/") or ".." in Path(rel).parts or rel == MANIFEST:
            raise AssertionError(f"generated file name {rel!r}")
    try:
        kind_of, man, extra = _state(out)
        if kind_of == "file":
            raise MicrolithError(f"{out}: exists and is not a folder; -o needs a folder to write the C into")
        if extra and not force:
            what = "was not made by microlith" if man is None else "holds files microlith did not write"
            shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            raise MicrolithError(f"{out}: folder {what} ({shown}); choose a new or empty folder, or pass "
                                 "--force to write the generated files into it (nothing else is touched)")
        if extra or (man is not None and not man.get("owned", True)):
            _write_in_place(out, files, kind, set(man["files"]) if man else set())
            return out
        _replace(out, files, kind)
        return out
    except OSError as e:
        where = e.filename or out
        raise MicrolithError(f"{out}: cannot write the generated folder: {e.strerror or e} ({where})") from None


def _write_in_place(out: Path, files, kind: str, previous: set[str]) -> None:
    """The user's folder (--force): replace only our files; remove the ones we no longer write."""
    for rel in sorted(previous - set(files)):
        try:
            (out / rel).unlink()
        except FileNotFoundError:
            pass
    _write_files(out, files)
    (out / MANIFEST).write_text(_manifest_text(files, kind, owned=False))


def _replace(out: Path, files, kind: str) -> None:
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name[:40]}.tmp-", dir=parent))
    try:
        _write_files(tmp, files)
        (tmp / MANIFEST).write_text(_manifest_text(files, kind, owned=True))
        os.chmod(tmp, 0o777 & ~_umask())
        for _ in range(50):
            try:
                os.rename(tmp, out)  # atomic; succeeds when `out` is missing or an empty folder
                return
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            # `out` is an earlier (or a concurrent) compile's folder: move it aside, then retry.
            kind_of, _man, extra = _state(out)
            if kind_of == "file" or extra:
                raise MicrolithError(f"{out}: another process put files there while compiling; try again")
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name[:40]}.old-", dir=parent))
            try:
                os.rename(out, trash / "old")
            except FileNotFoundError:
                pass
            shutil.rmtree(trash, ignore_errors=True)
        raise MicrolithError(f"{out}: could not replace the folder (other compiles keep writing it)")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once, at import: setting the umask to read it is process-wide, and a compile in another
# thread would create its files under the momentary 0 in between.
_UMASK = _read_umask()


def _umask() -> int:
    return _UMASK


def generated_sources(folder) -> list[Path]:
    """The .c files of a generated folder: those its manifest lists (never a user's own)."""
    folder = Path(folder)
    man = _manifest(folder)
    if man is None:
        return sorted((folder / "src").rglob("*.c"))
    return [folder / f for f in sorted(man["files"]) if f.startswith("src/") and f.endswith(".c")]
