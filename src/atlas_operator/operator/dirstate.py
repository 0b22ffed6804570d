"""The directory state an AtlasMigration was last applied from (upstream §2.4 step 9).

Upstream keeps it in the Secret `io.atlasgo.db.v1.<name>.latest` as `migrations.tar.gz`,
a gzip tar of the directory; downgrades need it because the files being reverted are
gone from the new directory. The archive format is the same here, so a state written
by the Go operator can be read by us. Stores: the API server (the operator) or a local
directory (local mode).
"""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Protocol

from atlas_operator.engine.migrate.dir import SUM_FILE, MigrationDir

ARCHIVE_KEY = "migrations.tar.gz"


def state_secret_name(resource_name: str) -> str:
    return f"io.atlasgo.db.v1.{resource_name}.latest"


def archive(directory: MigrationDir) -> bytes:
    """A gzip tar holding the `.sql` files and `atlas.sum`, with fixed metadata so the
    same directory always gives the same bytes."""
    members = [(f.name, f.content) for f in directory.files]
    members.append((SUM_FILE, directory.sum_content or directory.computed_sum().marshal()))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def unarchive(data: bytes) -> MigrationDir:
    contents: dict[str, str | bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r:") as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None:
                contents[Path(member.name).name] = extracted.read()
    return MigrationDir.from_mapping(contents)


class DirStateStore(Protocol):
    def load(self, namespace: str, name: str) -> MigrationDir | None: ...

    def save(self, namespace: str, name: str, directory: MigrationDir) -> None: ...


class MemoryDirState:
    """Keeps states for the life of the process (local mode without --state-dir)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], bytes] = {}

    def load(self, namespace: str, name: str) -> MigrationDir | None:
        data = self.states.get((namespace, name))
        return unarchive(data) if data else None

    def save(self, namespace: str, name: str, directory: MigrationDir) -> None:
        self.states[(namespace, name)] = archive(directory)


class FileDirState:
    """`<root>/<namespace>/<secret name>/migrations.tar.gz` (local mode --state-dir)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, namespace: str, name: str) -> Path:
        return self.root / namespace / state_secret_name(name) / ARCHIVE_KEY

    def load(self, namespace: str, name: str) -> MigrationDir | None:
        path = self.path(namespace, name)
        return unarchive(path.read_bytes()) if path.is_file() else None

    def save(self, namespace: str, name: str, directory: MigrationDir) -> None:
        path = self.path(namespace, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive(directory))
