"""Running one migration file so that every statement takes effect exactly once, however
the run ends (a statement error, a lost connection, SIGKILL, a server restart).

Two ways to run a file:
- *wrapped*: the caller holds one transaction around the whole file (`--tx-mode file`
  or `all` on PostgreSQL and SQLite, whose DDL is transactional). Statements and the
  single revision write at the end commit together or not at all.
- *step by step*: every other case (`--tx-mode none`, MySQL/MariaDB whose DDL commits
  implicitly, files with their own BEGIN/COMMIT). Statements that can run inside a
  transaction commit together with their progress record (on MySQL consecutive ones
  share one transaction in `file` mode). A statement that cannot (DDL on MySQL, CREATE
  INDEX CONCURRENTLY) is preceded by an *intent* record holding a fingerprint of the
  objects it changes; a rerun that finds the intent asks the database whether the
  statement ran (`Driver.interrupted_outcome`) and neither repeats nor skips it. When
  the database cannot tell, the run stops and names the statement and the way out.

Progress records are O(1) per statement: the row keeps the applied count and the last
cumulative statement hash (`partial_hashes` with one entry). When a run stops on an
error, the row gets Atlas's full list of per-statement hashes, so Atlas can resume it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import time
from dataclasses import dataclass, field, replace
from typing import Literal

from atlas_operator.engine.drivers.base import DatabaseError, Driver, Session, StatementTraits
from atlas_operator.engine.migrate.dir import MigrateError, MigrationFile
from atlas_operator.engine.migrate.revisions import BASELINE, EXECUTED, Revision, RevisionStore

Resolution = Literal["check", "ran", "rerun"]
"""How a rerun treats an interrupted statement: ask the database (default), or the
user's answer when the database cannot tell."""

INTERRUPTED = "atlas-operator: interrupted: "
"""Prefix of the `error` of a revision whose statement was started but not recorded."""
CHUNK_STATEMENTS, CHUNK_BYTES = 500, 1 << 20
"""Statements sent in one round trip at most (by count and by size)."""
BEFORE = re.compile(r"\[before (sha256:[0-9a-f]+)\]$")


class HistoryChangedError(MigrateError):
    pass


class InterruptedStatementError(MigrateError):
    """A statement was interrupted and the database cannot tell whether it ran."""


@dataclass
class FileResult:
    file: MigrationFile
    applied: list[str] = field(default_factory=list)
    error: str | None = None
    error_stmt: str | None = None
    seconds: float = 0.0


def statement_sums(texts: list[str]) -> list[str]:
    """`h1:` of the cumulative statement text, one per statement (partial_hashes)."""
    running, sums = hashlib.sha256(), []
    for text in texts:
        running.update(text.encode())
        sums.append("h1:" + base64.b64encode(running.copy().digest()).decode())
    return sums


def intent_message(number: int, before: str | None) -> str:
    tail = f" [before {before}]" if before else ""
    return (
        f"{INTERRUPTED}statement {number} was started but the run stopped before its "
        f"outcome was recorded; the next migrate apply asks the database whether it ran{tail}"
    )


def is_intent(revision: Revision) -> bool:
    return bool(revision.error and revision.error.startswith(INTERRUPTED))


def intent_fingerprint(revision: Revision) -> str | None:
    match = BEFORE.search(revision.error or "")
    return match.group(1) if match else None


@dataclass
class FileRun:
    """One file's run on an open target database."""

    driver: Driver
    session: Session
    store: RevisionStore
    file: MigrationFile
    file_hash: str
    report: FileResult
    operator_version: str
    resolution: Resolution = "check"
    texts: list[str] = field(init=False)
    traits: list[StatementTraits] = field(init=False)
    sums: list[str] = field(init=False)
    revision: Revision = field(init=False)
    at_start: Revision = field(init=False)
    started: int = field(default_factory=time.monotonic_ns)
    intent_written: int = -1
    """The statement whose intent the last progress record already holds."""

    def __post_init__(self) -> None:
        self.texts = [s.text for s in self.file.statements(self.driver.dialect)]
        self.sums = statement_sums(self.texts)
        self.traits = [self.driver.statement_traits(text) for text in self.texts]

    # --- the revision row ---------------------------------------------------------------

    def load_revision(self) -> None:
        """Reads (or starts) the file's revision and checks what already ran is unchanged."""
        self.started = time.monotonic_ns()  # the file's own time, not its queue's
        f = self.file
        existing = self.store.read(f.version)
        revision = existing or Revision(
            f.version, f.description, type=EXECUTED, hash=self.file_hash
        )
        revision.total, revision.operator_version = len(self.texts), self.operator_version
        if existing is not None and existing.type & BASELINE == 0:
            revision.type |= EXECUTED
        self.revision = revision
        self.check_applied_unchanged()

    def check_applied_unchanged(self) -> None:
        """Atlas keeps one cumulative hash per applied statement; our progress records keep
        only the last one, which covers every statement before it just as well."""
        applied, stored = self.revision.applied, self.revision.partial_hashes or []
        if applied == 0:
            return
        if applied > len(self.sums):
            self.history_changed(len(self.sums) + 1)
        if len(stored) == applied:
            for index in range(applied):
                if stored[index] != self.sums[index]:
                    self.history_changed(index + 1)
        elif len(stored) == 1:
            if stored[0] != self.sums[applied - 1]:
                self.history_changed(applied)
        else:
            raise MigrateError(
                f'sql/migrate: revision "{self.file.version}" records {applied} applied '
                f"statements but {len(stored)} statement hashes; the revisions table was "
                "edited by hand"
            )

    def history_changed(self, number: int) -> None:
        raise HistoryChangedError(
            f'sql/migrate: history changed: statement {number} from file "{self.file.name}" changed'
        )

    def full_hashes(self, applied: int) -> list[str] | None:
        return self.sums[:applied] or None

    def mark_progress(self, applied: int) -> None:
        """The count and the last cumulative hash (O(1)), in memory; clears an intent."""
        r = self.revision
        r.applied = applied
        r.partial_hashes = [self.sums[applied - 1]] if applied else None
        r.error = r.error_stmt = None
        r.execution_time = time.monotonic_ns() - self.started

    def write_progress(self, applied: int) -> None:
        """Records progress; the row exists (written when the file started)."""
        self.mark_progress(applied)
        self.store.update_progress(self.revision)

    def write_done(self) -> None:
        r = self.revision
        r.applied, r.partial_hashes, r.hash = len(self.texts), None, self.file_hash
        r.error = r.error_stmt = None
        r.execution_time = time.monotonic_ns() - self.started
        self.store.write(r)

    def record_failure(self, revision: Revision) -> None:
        """Keeps the failure in the row (with Atlas's full hash list) so the next run
        resumes at the failed statement and `status` shows it. A write that fails too
        (the connection is gone) is added to the message: the rerun still resumes right,
        from the last committed progress record."""
        revision.partial_hashes = self.full_hashes(revision.applied)
        revision.error, revision.error_stmt = self.report.error, self.report.error_stmt
        revision.execution_time = time.monotonic_ns() - self.started
        try:
            self.store.write(revision)
        except DatabaseError as err:
            self.report.error = f"{self.report.error} (recording the failure failed too: {err})"

    def fail(self, index: int, err: DatabaseError) -> bool:
        self.report.error, self.report.error_stmt = str(err), self.texts[index]
        return False

    # --- resuming -----------------------------------------------------------------------

    def resume(self) -> None:
        """Settles a statement left interrupted by an earlier run, then replays the
        session settings (SET …) of the statements that already ran, so the rest of the
        file runs in the session it was written for."""
        if is_intent(self.revision):
            self.settle_interrupted()
        for text, traits in zip(self.texts, self.traits[: self.revision.applied], strict=False):
            if traits.session_setting:
                self.session.execute(text)
        self.at_start = replace(self.revision, partial_hashes=None)

    def settle_interrupted(self) -> None:
        index = self.revision.applied
        number, name = index + 1, self.file.name
        text = self.texts[index] if index < len(self.texts) else None
        if text != self.revision.error_stmt:
            raise InterruptedStatementError(
                f'statement {number} of "{name}" was interrupted by an earlier run and the '
                "file has been edited since, so whether it ran cannot be checked. Restore "
                "the file as it was, or resolve the revision by hand"
            )
        outcome = self.outcome(text or "")
        if outcome == "unknown":
            raise InterruptedStatementError(
                f'statement {number} of "{name}" was interrupted by an earlier run and the '
                f"database cannot tell whether it took effect: {one_line(text or '')!r}. "
                "Check the database, then run migrate apply again with "
                "--interrupted ran (it took effect) or --interrupted rerun (it did not)"
            )
        if outcome == "ran":
            self.report.applied.append(text or "")
            self.write_progress(number)
        else:
            self.revision.error = self.revision.error_stmt = None

    def outcome(self, text: str) -> str:
        if self.resolution == "ran":
            return "ran"
        if self.resolution == "rerun":
            return "not-ran"
        if self.traits[self.revision.applied].repeatable:
            return "not-ran"
        return str(
            self.driver.interrupted_outcome(self.session, text, intent_fingerprint(self.revision))
        )

    # --- running ------------------------------------------------------------------------

    def has_own_transactions(self) -> bool:
        return any(traits.control for traits in self.traits)

    def run_wrapped(self) -> bool:
        """Inside the caller's transaction: the revision is written once, at the end.
        Statements travel in chunks, one round trip each, behind a savepoint: when a
        chunk fails it is rolled back to the savepoint and run one statement at a time,
        which names the failing statement with its own error."""
        index = self.revision.applied
        while index < len(self.texts):
            end = self.chunk_end(index, len(self.texts))
            if not self.run_chunk(index, end):
                for single in range(index, end):
                    try:
                        self.session.execute(self.texts[single])
                    except DatabaseError as err:
                        return self.fail(single, err)
                    self.report.applied.append(self.texts[single])
            index = end
        self.write_done()
        return True

    def chunk_end(self, start: int, limit: int) -> int:
        """Where a round trip's chunk starting at `start` ends (by count and size)."""
        end, size = start, 0
        while end < limit and end - start < CHUNK_STATEMENTS and size < CHUNK_BYTES:
            size += len(self.texts[end])
            end += 1
        return end

    def run_chunk(self, start: int, end: int) -> bool:
        if not self.session.scripts or end - start < 2:
            return False
        # The savepoint goes first on its own: PostgreSQL parses a whole script before
        # running any of it, so a syntax error would otherwise skip the savepoint too.
        self.session.execute("SAVEPOINT atlas_chunk")
        try:
            self.session.execute_script([*self.texts[start:end], "RELEASE SAVEPOINT atlas_chunk"])
        except DatabaseError:
            self.session.execute("ROLLBACK TO SAVEPOINT atlas_chunk")
            return False
        self.report.applied.extend(self.texts[start:end])
        return True

    def run_steps(self, *, group: bool) -> bool:
        """Statement by statement, each committed with its progress record; `group` lets
        consecutive transactional statements share one transaction (MySQL `file` mode)."""
        self.store.write(self.revision)  # marks the file as started, as Atlas does
        outside: set[int] = set()
        index = self.revision.applied
        while index < len(self.texts):
            traits = self.traits[index]
            if traits.control == "begin":
                ok, index = self.run_own_transaction(index)
            elif self.runs_outside(index, outside):
                ok, index = self.run_outside(index, traits, outside), index + 1
            elif not group and self.session.scripts:
                ok, index = self.run_singles(index, outside)
            else:
                ok, index = self.run_group(index, group, outside)
            if not ok:
                self.record_failure(self.revision)
                return False
        self.write_done()
        return True

    def run_group(self, start: int, group: bool, outside: set[int]) -> tuple[bool, int]:
        end = start + 1
        while group and end < len(self.texts) and end not in outside:
            traits = self.traits[end]
            if not traits.transactional or traits.control:
                break
            end += 1
        if self.session.scripts and self.run_group_at_once(start, end):
            return True, end
        self.session.begin()
        for index in range(start, end):
            try:
                self.session.execute(self.texts[index])
            except DatabaseError as err:
                self.rollback_quietly()
                del self.report.applied[len(self.report.applied) - (index - start) :]
                if self.driver.needs_no_transaction(err):
                    outside.add(index)  # rerun the group up to it, then it alone
                    return True, start
                return self.fail(index, err), start
            self.report.applied.append(self.texts[index])
        try:
            self.write_progress(end)
            self.session.commit()
        except DatabaseError as err:
            self.rollback_quietly()
            self.revision.applied = start
            return self.fail(end - 1, err), start
        return True, end

    def run_singles(self, start: int, outside: set[int]) -> tuple[bool, int]:
        """`--tx-mode none`: each statement is its own transaction with its progress
        record, but many such transactions travel in one round trip. The server stops at
        the first failure; the transactions before it stay committed, and the revision
        row then says how far it got (the failing statement runs again alone, which names
        it with its own error, or succeeds when the failure was transient)."""
        end, size = start, 0
        while (
            end < len(self.texts)
            and end - start < CHUNK_STATEMENTS
            and size < CHUNK_BYTES
            and not self.runs_outside(end, outside)
            and self.traits[end].control is None
        ):
            size += len(self.texts[end])
            end += 1
        script: list[str] = []
        for index in range(start, end):
            self.mark_progress(index + 1)
            progress = self.store.progress_sql(self.revision)
            if progress is None or end - start < 2:
                self.mark_progress(start)
                return self.run_group(start, False, outside)
            script += ["BEGIN", self.texts[index], progress, "COMMIT"]
        try:
            self.session.execute_script(script)
        except DatabaseError:
            self.rollback_quietly()
            stored = self.store.read(self.file.version)
            done = stored.applied if stored is not None else start
            self.mark_progress(done)
            self.report.applied.extend(self.texts[start:done])
            return self.run_group(done, False, outside)
        self.report.applied.extend(self.texts[start:end])
        return True, end

    def run_group_at_once(self, start: int, end: int) -> bool:
        """BEGIN, the statements (in chunks), the progress record and COMMIT in as few
        round trips as possible. On any failure everything is rolled back and False
        returned: the caller runs the group one statement at a time, which names the
        failing statement (or succeeds, when the failure was transient)."""
        r = self.revision
        saved = replace(r)
        r.applied, r.partial_hashes = end, [self.sums[end - 1]]
        r.error = r.error_stmt = None
        r.execution_time = time.monotonic_ns() - self.started
        progress = self.store.progress_sql(r)
        if progress is None:
            self.revision = saved
            return False
        try:
            index = start
            while index < end:
                chunk = self.chunk_end(index, end)
                head = ["BEGIN"] if index == start else []
                tail = [progress, "COMMIT"] if chunk == end else []
                self.session.execute_script([*head, *self.texts[index:chunk], *tail])
                index = chunk
        except DatabaseError:
            self.rollback_quietly()
            self.revision = saved
            return False
        self.report.applied.extend(self.texts[start:end])
        return True

    def runs_outside(self, index: int, outside: set[int]) -> bool:
        """Whether statement `index` runs on its own, outside a transaction (the step loop
        and its look-ahead must agree)."""
        traits = self.traits[index]
        if traits.control == "begin":
            return False
        return bool(traits.control) or index in outside or not traits.transactional

    def run_outside(
        self, index: int, traits: StatementTraits, outside: set[int] | None = None
    ) -> bool:
        """A statement that commits on its own: intent first, then the statement, then
        the progress record; a rerun after a crash in between settles the intent. When
        the next statement runs on its own too, the progress record carries its intent
        (one write instead of two: MySQL DDL often comes in long runs)."""
        text = self.texts[index]
        if self.intent_written != index:
            self.set_intent(index, traits)
            self.store.update_progress(self.revision)
        try:
            self.session.execute(text)
        except DatabaseError as err:
            return self.fail(index, err)
        self.report.applied.append(text)
        following = index + 1
        last = following == len(self.texts)
        if outside is not None and not last and self.runs_outside(following, outside):
            self.mark_progress(following)
            self.set_intent(following, self.traits[following])
            self.store.update_progress(self.revision)
            self.intent_written = following
            return True
        self.write_progress(following)
        return True

    def set_intent(self, index: int, traits: StatementTraits) -> None:
        text = self.texts[index]
        before = None if traits.repeatable else self.driver.effect_fingerprint(self.session, text)
        self.revision.error = intent_message(index + 1, before)
        self.revision.error_stmt = text

    def run_own_transaction(self, start: int) -> tuple[bool, int]:
        """The file's own BEGIN … COMMIT: progress records go inside its transaction, so
        they commit (or roll back) with the statements they count."""
        index = start
        while index < len(self.texts):
            text, traits = self.texts[index], self.traits[index]
            if index > start and not traits.transactional and not traits.control:
                # An implicit commit (MySQL DDL) ends the file's transaction.
                return self.run_outside(index, traits), index + 1
            try:
                self.session.execute(text)
            except DatabaseError as err:
                self.rollback_quietly()
                self.revision.applied = start
                return self.fail(index, err), index
            self.report.applied.append(text)
            self.write_progress(index + 1)
            index += 1
            if traits.control in ("commit", "rollback"):
                break
        return True, index

    def rollback_quietly(self) -> None:
        # When the connection is gone, the server has rolled the transaction back.
        with contextlib.suppress(DatabaseError):
            self.session.rollback()


def one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
