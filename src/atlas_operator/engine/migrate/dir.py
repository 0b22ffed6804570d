"""Migration directories in Atlas's format, and `atlas.sum` (reference §1, §2.1).

A directory is its `*.sql` files, sorted by name byte-wise, plus `atlas.sum`. Each
file's `h1` hash is a snapshot of one running SHA-256 over every name and content so
far, so editing a file changes the hash of every later file; line 1 of `atlas.sum`
sums the names and per-file hashes. Our hashes equal Atlas's byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from atlas_operator.engine.drivers.base import EngineError
from atlas_operator.engine.statements import Dialect, Statement, directive_args, split_statements

SUM_FILE = "atlas.sum"


class MigrateError(EngineError):
    """A versioned-migration failure, worded as Atlas words it."""


class ChecksumError(MigrateError):
    """`atlas.sum` does not match the directory; names the first file that differs."""

    def __init__(self, line: int, file: str, reason: str) -> None:
        self.line, self.file, self.reason = line, file, reason
        super().__init__(
            f"checksum mismatch: L{line}: {file} was {reason}; "
            "run 'atlas-operator migrate hash' to re-hash the directory if the change is intended"
        )


@dataclass(frozen=True)
class MigrationFile:
    name: str
    content: bytes

    @property
    def version(self) -> str:
        """Everything before the first `_` (or `.sql`); compared as a plain string."""
        return self.name.removesuffix(".sql").split("_", 1)[0]

    @property
    def description(self) -> str:
        stem = self.name.removesuffix(".sql")
        return stem.split("_", 1)[1] if "_" in stem else ""

    @cached_property
    def text(self) -> str:
        try:
            return self.content.decode()
        except UnicodeDecodeError as err:
            raise MigrateError(f"{self.name}: not UTF-8 text ({err.reason})") from None

    def header_directives(self, name: str) -> list[str]:
        """File directives: the comment lines at byte 0, when a blank line follows them."""
        return [arg for line in self.header() for arg in directive_args(line, name)]

    def header(self) -> list[str]:
        lines, content = [], self.text
        while content.startswith(("#", "--")):
            end = content.find("\n")
            if end < 0:
                return []  # a comments-only file without a blank line: no directives
            lines.append(content[:end].strip())
            content = content[end + 1 :]
        return lines if content.lstrip(" \t").startswith("\n") else []

    @property
    def is_checkpoint(self) -> bool:
        return bool(self.header_directives("checkpoint"))

    def tx_mode(self) -> str | None:
        """The `atlas:txmode` header (`none` or `file`), if any."""
        modes = self.header_directives("txmode")
        if len(modes) > 1:
            raise MigrateError(f"{self.name}: multiple txmode values found")
        if not modes:
            return None
        if modes[0] not in ("none", "file"):
            raise MigrateError(f"{self.name}: unknown txmode {modes[0]!r}")
        return modes[0]

    def statements(self, dialect: Dialect) -> list[Statement]:
        try:
            return split_statements(self.text, dialect)
        except ValueError as err:
            raise MigrateError(f"{self.name}: {err}") from None

    def ignored_by_sum(self) -> bool:
        """`atlas:sum ignore` on the first line (Atlas matches the whole content, anchored
        at byte 0, so only the first line can carry it)."""
        return directive_args(self.content.decode(errors="replace"), "sum") == ["ignore"]


@dataclass(frozen=True)
class HashFile:
    total: str
    entries: tuple[tuple[str, str], ...]

    def marshal(self) -> bytes:
        lines = [f"h1:{self.total}\n"] + [f"{name} h1:{digest}\n" for name, digest in self.entries]
        return "".join(lines).encode()

    def hash_of(self, name: str) -> str | None:
        return dict(self.entries).get(name)

    @classmethod
    def parse(cls, content: bytes) -> HashFile:
        lines = [line.removesuffix("\r") for line in content.decode().split("\n")]
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            raise MigrateError("checksum file format invalid")
        total = lines[0].removeprefix("h1:")
        entries = []
        for line in lines[1:]:
            name, sep, digest = line.partition("h1:")
            if not sep:
                raise MigrateError("checksum file format invalid")
            entries.append((name.strip(), digest))
        parsed = cls(total, tuple(entries))
        if total_sum(parsed.entries) != total:
            raise MigrateError("checksum mismatch: atlas.sum was edited by hand")
        return parsed


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def total_sum(entries: tuple[tuple[str, str], ...]) -> str:
    h = hashlib.sha256()
    for name, digest in entries:
        h.update(name.encode())
        h.update(digest.encode())
    return b64(h.digest())


def hash_files(files: tuple[MigrationFile, ...]) -> HashFile:
    running = hashlib.sha256()
    entries = []
    for f in files:
        running.update(f.name.encode())
        if f.ignored_by_sum():
            continue
        running.update(f.content)
        entries.append((f.name, b64(running.copy().digest())))
    return HashFile(total_sum(tuple(entries)), tuple(entries))


@dataclass(frozen=True)
class MigrationDir:
    """The migration files of a directory (sorted by name) and its `atlas.sum`, if any."""

    files: tuple[MigrationFile, ...]
    sum_content: bytes | None = None

    @classmethod
    def from_mapping(cls, contents: Mapping[str, str | bytes]) -> MigrationDir:
        """From name → content, as a ConfigMap or `dir.local` holds a directory."""
        files = []
        for name, content in contents.items():
            if name.endswith(".sql"):
                data = content.encode() if isinstance(content, str) else content
                files.append(MigrationFile(name, data))
        raw = contents.get(SUM_FILE)
        sum_content = raw.encode() if isinstance(raw, str) else raw
        return cls(tuple(sorted(files, key=lambda f: f.name.encode())), sum_content)

    @classmethod
    def from_path(cls, path: Path) -> MigrationDir:
        if not path.is_dir():
            raise MigrateError(f"migration directory {str(path)!r} does not exist")
        try:
            entries = sorted(path.iterdir())
        except OSError as err:
            raise MigrateError(f"migration directory {str(path)!r}: {err.strerror}") from None
        contents: dict[str, str | bytes] = {
            entry.name: read_entry(entry)
            for entry in entries
            if entry.name.endswith(".sql") or entry.name == SUM_FILE
        }
        directory = cls.from_mapping(contents)
        # Every command reading a directory from disk (`migrate hash` included, which
        # does not validate) refuses what `migrate apply` cannot run.
        check_versions(directory.files)
        return directory

    def computed_sum(self) -> HashFile:
        return self.hashes

    @cached_property
    def hashes(self) -> HashFile:
        """Computed once: validation, the edit check and the status hash all need it."""
        return hash_files(self.files)

    def validate(self) -> HashFile:
        """The directory's hashes, after checking `atlas.sum` as `atlas migrate validate` does
        and that no two files share a version (every verb that reads a directory calls it)."""
        check_versions(self.files)
        computed = self.computed_sum()
        if self.sum_content is None:
            if self.files:
                raise MigrateError(
                    "checksum file not found: the directory has migration files but no "
                    "atlas.sum; run 'atlas-operator migrate hash'"
                )
            return computed
        stored = HashFile.parse(self.sum_content)
        if stored.total != computed.total:
            raise mismatch(stored, computed)
        return computed


def read_entry(entry: Path) -> bytes:
    """A migration file's bytes; anything that is not a readable regular file is an error,
    never skipped: a dangling symlink would otherwise drop a migration silently, and a
    FIFO would block the read forever."""
    try:
        mode = entry.stat().st_mode  # follows symlinks
    except FileNotFoundError:
        raise MigrateError(f"{entry}: cannot read: a dangling symbolic link") from None
    except OSError as err:
        raise MigrateError(f"{entry}: cannot read: {err.strerror}") from None
    if stat.S_ISDIR(mode):
        raise MigrateError(f"{entry}: is a directory, not a migration file")
    if not stat.S_ISREG(mode):
        raise MigrateError(f"{entry}: not a regular file")
    try:
        return entry.read_bytes()
    except OSError as err:
        raise MigrateError(f"{entry}: cannot read: {err.strerror}") from None


def check_versions(files: tuple[MigrationFile, ...]) -> None:
    """Two files with one version would share one revision row: the second would be
    reported as an edit of the first. Refused up front, naming both files."""
    seen: dict[str, str] = {}
    for f in files:
        first = seen.setdefault(f.version, f.name)
        if first != f.name:
            raise MigrateError(
                f'duplicate migration version "{f.version}": {first} and {f.name}; '
                "give every file its own version"
            )


def mismatch(stored: HashFile, computed: HashFile) -> ChecksumError:
    """Which file explains the difference: the first entry that differs (reference §1.4)."""
    names = [name for name, _ in computed.entries]
    for index, entry in enumerate(stored.entries):
        if index < len(computed.entries) and computed.entries[index] == entry:
            continue
        name = entry[0]
        if name not in names:
            return ChecksumError(index + 2, name, "removed")
        if index < len(names) and names[index] == name:
            return ChecksumError(index + 2, name, "edited")
        added = names[index] if index < len(names) else name
        return ChecksumError(index + 2, added, "added")
    index = len(stored.entries)
    added = names[index] if index < len(names) else "atlas.sum"
    return ChecksumError(index + 2, added, "added")
