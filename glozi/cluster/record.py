"""ClusterRecord: the cluster's shared state in PostgreSQL (issue 15).

Beside the store's tables (``glozi/storage/pgstore.py``: sessions, messages
and their numbers) the record keeps what every node must agree on and what
outlives a node: the nicks in use (``cluster_nicks``), the members of every
session (``cluster_members``) and each session's rules as one JSON text
(``cluster_session_state``). PostgreSQL decides every contested claim by a
constraint, never a node's memory: a nick is one ``cluster_nicks`` row by its
key (the primary key), a session name one ``sessions.name_key`` (a unique
index), a session id one value of the ``session_ids`` sequence.

Every call is one short transaction through ``twisted.enterprise.adbapi``
on one connection in one database thread, so calls are applied in the order
they were made (a member's join before its leave). A call fails with
``StoreError`` when PostgreSQL is unreachable (a new connection gives up after
``CONNECT_TIMEOUT`` seconds) and the next call connects again.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from twisted.enterprise import adbapi
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IReactorThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.failure import Failure

from glozi.cluster.errors import NickTaken, SessionNameTaken
from glozi.domain.names import name_key
from glozi.storage import pgstore
from glozi.storage.store import FIRST_CREATED_SESSION_ID, NewerSchemaError, StoredSession, StoreError

SCHEMA_VERSION_KEY = "cluster_schema_version"
"""The ``meta`` row holding the record's schema version (the store's is ``schema_version``)."""

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE cluster_nicks (
            key TEXT PRIMARY KEY,
            nick TEXT NOT NULL,
            node TEXT NOT NULL,
            user_name TEXT NOT NULL DEFAULT '',
            real_name TEXT NOT NULL DEFAULT '',
            away TEXT
        )""",
        "CREATE INDEX cluster_nicks_by_node ON cluster_nicks (node)",
        """CREATE TABLE cluster_members (
            session_id BIGINT NOT NULL,
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            node TEXT NOT NULL,
            joined_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (session_id, key)
        )""",
        "CREATE INDEX cluster_members_by_node ON cluster_members (node)",
        "CREATE TABLE cluster_session_state (session_id BIGINT PRIMARY KEY, state TEXT NOT NULL)",
        # The store deletes a closed session from ``sessions`` and knows nothing of these
        # tables; the database takes its members and rules with it.
        """CREATE FUNCTION cluster_forget_session() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM cluster_members WHERE session_id = OLD.id;
            DELETE FROM cluster_session_state WHERE session_id = OLD.id;
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER cluster_session_deleted AFTER DELETE ON sessions
            FOR EACH ROW EXECUTE FUNCTION cluster_forget_session()""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

SWEEP_LOCK = 0x6C0216
"""The advisory lock class held while a node's rows are swept (with the node name's hash)."""

_SESSION_NAME_INDEX = "sessions_by_name_key"


@dataclass(frozen=True, slots=True)
class ClusterMember:
    """One member of one session, connected to ``node``."""

    session_id: int
    key: str
    name: str
    node: str
    joined_at: float


@dataclass(frozen=True, slots=True)
class ClusterNick:
    """A nick in use, held by a user connected to ``node``; ``away`` is its away message (``None``: here)."""

    key: str
    nick: str
    node: str
    user_name: str
    real_name: str
    away: str | None


@dataclass(frozen=True, slots=True)
class RecordedSession:
    """A created session as kept, with its rules, admin and voiced members (``None`` until first written)."""

    session: StoredSession
    state_json: str | None


@dataclass(frozen=True, slots=True)
class ClusterState:
    """The whole shared state, read in one consistent snapshot (a starting node loads it).

    ``sessions`` are the created sessions by id; ``built_in_states`` the
    rules of the built-in sessions (1-9) that have any; ``last_seq`` each
    session's highest message number.
    """

    sessions: tuple[RecordedSession, ...]
    built_in_states: dict[int, str]
    members: tuple[ClusterMember, ...]
    nicks: tuple[ClusterNick, ...]
    last_seq: dict[int, int]


@dataclass(frozen=True, slots=True)
class Swept:
    """What a sweep of a dead node deleted: its members and its nicks."""

    members: tuple[ClusterMember, ...]
    nicks: tuple[ClusterNick, ...]


def migrate(connection: psycopg.Connection[Any]) -> int:
    """Bring the store's schema and then the record's up to date, each in one transaction
    under the advisory lock; returns the record's version found. Raises ``NewerSchemaError``."""
    pgstore.migrate(connection)
    return pgstore.upgrade(connection, SCHEMA_VERSION_KEY, MIGRATIONS, "the cluster record")


def _reserve_session(cursor: Any, name: str, creator: str, created_at: float, password_hash: str | None) -> int:
    try:
        cursor.execute(
            "INSERT INTO sessions (id, name, name_key, created_at, creator, password_hash)"
            " VALUES (nextval('session_ids'), %s, %s, %s, %s, %s) RETURNING id",
            (name, name_key(name), created_at, creator, password_hash),
        )
    except psycopg.errors.UniqueViolation as error:
        if error.diag.constraint_name == _SESSION_NAME_INDEX:
            raise SessionNameTaken(name) from None
        raise
    session_id = int(cursor.fetchone()[0])
    cursor.execute("UPDATE meta SET value = GREATEST(value, %s) WHERE key = 'last_session_id'", (session_id,))
    return session_id


def _claim_nick(cursor: Any, key: str, nick: str, node: str) -> bool:
    # A row of another node is left as it is, and then nothing is returned.
    cursor.execute(
        "INSERT INTO cluster_nicks (key, nick, node) VALUES (%s, %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET nick = EXCLUDED.nick WHERE cluster_nicks.node = EXCLUDED.node"
        " RETURNING node",
        (key, nick, node),
    )
    return cursor.fetchone() is not None


def _release_nick(cursor: Any, key: str, node: str) -> None:
    cursor.execute("DELETE FROM cluster_nicks WHERE key = %s AND node = %s", (key, node))


def _update_user(cursor: Any, key: str, node: str, user_name: str, real_name: str, away: str | None) -> None:
    cursor.execute(
        "UPDATE cluster_nicks SET user_name = %s, real_name = %s, away = %s WHERE key = %s AND node = %s",
        (user_name, real_name, away, key, node),
    )


def _member_joined(cursor: Any, session_id: int, key: str, name: str, node: str, joined_at: float) -> None:
    # Only the node holding the nick keeps its memberships: of two users who took one name at once,
    # the one the record refused must not replace the other's.
    cursor.execute(
        "INSERT INTO cluster_members (session_id, key, name, node, joined_at)"
        " SELECT %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM cluster_nicks WHERE key = %s AND node = %s)"
        " ON CONFLICT (session_id, key) DO UPDATE"
        " SET name = EXCLUDED.name, node = EXCLUDED.node, joined_at = EXCLUDED.joined_at",
        (session_id, key, name, node, joined_at, key, node),
    )


def _member_left(cursor: Any, session_id: int, key: str, node: str) -> None:
    cursor.execute(
        "DELETE FROM cluster_members WHERE session_id = %s AND key = %s AND node = %s", (session_id, key, node)
    )


def _member_renamed(cursor: Any, old_key: str, new_key: str, new_name: str, node: str) -> None:
    cursor.execute(
        "DELETE FROM cluster_nicks WHERE key = %s AND node = %s RETURNING user_name, real_name, away",
        (old_key, node),
    )
    user_name, real_name, away = cursor.fetchone() or ("", "", None)
    # The new nick may be claimed already (by this node: ours to move onto; by another: taken).
    cursor.execute(
        "INSERT INTO cluster_nicks (key, nick, node, user_name, real_name, away) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (key) DO UPDATE SET nick = EXCLUDED.nick, user_name = EXCLUDED.user_name,"
        " real_name = EXCLUDED.real_name, away = EXCLUDED.away WHERE cluster_nicks.node = EXCLUDED.node"
        " RETURNING key",
        (new_key, new_name, node, user_name, real_name, away),
    )
    if cursor.fetchone() is None:
        raise NickTaken(new_name)
    cursor.execute(
        "UPDATE cluster_members SET key = %s, name = %s WHERE key = %s AND node = %s",
        (new_key, new_name, old_key, node),
    )


def _session_state(cursor: Any, session_id: int, state_json: str) -> None:
    cursor.execute(
        "INSERT INTO cluster_session_state (session_id, state) VALUES (%s, %s)"
        " ON CONFLICT (session_id) DO UPDATE SET state = EXCLUDED.state",
        (session_id, state_json),
    )


_MEMBER_COLUMNS = "session_id, key, name, node, joined_at"
_NICK_COLUMNS = "key, nick, node, user_name, real_name, away"


def _load(cursor: Any) -> ClusterState:
    # One snapshot for every table: a member is never read without its session or its nick.
    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
    cursor.execute(
        "SELECT id, name, created_at, creator, password_hash, state FROM sessions"
        " LEFT JOIN cluster_session_state ON session_id = id ORDER BY id"
    )
    sessions = tuple(RecordedSession(StoredSession(*row[:5]), row[5]) for row in cursor.fetchall())
    cursor.execute(
        "SELECT session_id, state FROM cluster_session_state WHERE session_id < %s ORDER BY session_id",
        (FIRST_CREATED_SESSION_ID,),
    )
    built_in_states = dict(cursor.fetchall())
    cursor.execute(f"SELECT {_MEMBER_COLUMNS} FROM cluster_members ORDER BY session_id, joined_at, key")
    members = tuple(ClusterMember(*row) for row in cursor.fetchall())
    cursor.execute(f"SELECT {_NICK_COLUMNS} FROM cluster_nicks ORDER BY key")
    nicks = tuple(ClusterNick(*row) for row in cursor.fetchall())
    return ClusterState(sessions, built_in_states, members, nicks, pgstore.read_last_sequences(cursor))


def _sweep(cursor: Any, node: str) -> Swept:
    # Two nodes sweeping one dead node queue here, rather than each locking rows of both
    # tables in whatever order its scans meet them (a deadlock PostgreSQL would break by
    # aborting one); the second then finds nothing left.
    cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SWEEP_LOCK, node))
    cursor.execute(f"DELETE FROM cluster_members WHERE node = %s RETURNING {_MEMBER_COLUMNS}", (node,))
    members = tuple(sorted((ClusterMember(*row) for row in cursor.fetchall()), key=_member_order))
    cursor.execute(f"DELETE FROM cluster_nicks WHERE node = %s RETURNING {_NICK_COLUMNS}", (node,))
    nicks = tuple(sorted((ClusterNick(*row) for row in cursor.fetchall()), key=lambda nick: nick.key))
    return Swept(members, nicks)


def _member_order(member: ClusterMember) -> tuple[int, float, str]:
    return (member.session_id, member.joined_at, member.key)


class ClusterRecord:
    """The cluster's shared state in the PostgreSQL database at ``url`` (``postgresql://…``).

    Every method returns a Deferred; a call fails with ``StoreError`` when the
    database cannot be reached or the record is closed.
    """

    def __init__(self, reactor: IReactorThreads, url: str) -> None:
        self._reactor = reactor
        # One connection: calls are applied in the order they were made.
        self._pool = adbapi.ConnectionPool(
            "psycopg",
            url,
            cp_min=1,
            cp_max=1,
            cp_reactor=reactor,
            cp_noisy=False,
            cp_reconnect=True,
            connect_timeout=pgstore.CONNECT_TIMEOUT,
        )
        self._closed = False

    def open(self) -> "Deferred[None]":
        """Create or migrate the store's and the record's schema (under the advisory lock, so nodes
        starting together do not race). Fails with ``StoreError``, or ``NewerSchemaError`` for a future schema."""
        return self._call(self._pool.runWithConnection, migrate).addCallback(lambda _: None)

    def reserve_session(
        self, name: str, creator: str, created_at: float, password_hash: str | None
    ) -> "Deferred[int]":
        """Keep a new session under the next id of the ``session_ids`` sequence; fires with that id,
        or fails with ``SessionNameTaken`` when a session's name has the same key."""
        return self._interact(_reserve_session, name, creator, created_at, password_hash)

    def claim_nick(self, key: str, nick: str, node: str) -> "Deferred[bool]":
        """Take the nick for a user on ``node``: ``True`` when it is ours now (it was free, or held by
        ``node`` already: ``nick``'s spelling replaces the kept one), ``False`` when another node holds it."""
        return self._interact(_claim_nick, key, nick, node)

    def release_nick(self, key: str, node: str) -> "Deferred[None]":
        """Let the nick go, if ``node`` holds it."""
        return self._interact(_release_nick, key, node)

    def update_user(self, key: str, node: str, user_name: str, real_name: str, away: str | None) -> "Deferred[None]":
        """Keep the user name, real name and away message (``None``: not away) of ``node``'s user ``key``."""
        return self._interact(_update_user, key, node, user_name, real_name, away)

    def member_joined(self, session_id: int, key: str, name: str, node: str, joined_at: float) -> "Deferred[None]":
        """Keep ``name`` as a member of the session, connected to ``node`` (again: replaces the kept row),
        when ``node`` holds that nick (else nothing changes)."""
        return self._interact(_member_joined, session_id, key, name, node, joined_at)

    def member_left(self, session_id: int, key: str, node: str) -> "Deferred[None]":
        """Forget the member of the session connected to ``node`` (one of another node stays)."""
        return self._interact(_member_left, session_id, key, node)

    def member_renamed(self, old_key: str, new_key: str, new_name: str, node: str) -> "Deferred[None]":
        """``node``'s user is now ``new_name``: its nick row (with its user name, real name and away)
        and every membership move to the new key, in one transaction. Fails with ``NickTaken``, and
        changes nothing, when another node holds the new nick."""
        return self._interact(_member_renamed, old_key, new_key, new_name, node)

    def session_state(self, session_id: int, state_json: str) -> "Deferred[None]":
        """Keep the session's rules, admin and voiced members, as one JSON text (replacing the kept one)."""
        return self._interact(_session_state, session_id, state_json)

    def load(self) -> "Deferred[ClusterState]":
        """Everything shared, read in one snapshot."""
        return self._interact(_load)

    def sweep(self, node: str) -> "Deferred[Swept]":
        """Delete a dead node's members and nicks, and fire with them. Of several nodes sweeping one
        node at once, one gets the rows and the others an empty ``Swept``."""
        return self._interact(_sweep, node)

    def close(self) -> "Deferred[None]":
        """Let the calls already made finish, then close the connection; later calls fail."""
        if self._closed:
            return succeed(None)
        self._closed = True
        # The pool's one thread takes work in order: this runs after every call made before it.
        finished: Deferred[None] = deferToThreadPool(self._reactor, self._pool.threadpool, lambda: None)
        return finished.addBoth(lambda _: self._pool.close())

    def _interact(self, interaction: Callable[..., Any], *arguments: Any) -> "Deferred[Any]":
        return self._call(self._pool.runInteraction, interaction, *arguments)

    def _call(self, run: Callable[..., "Deferred[Any]"], *arguments: Any) -> "Deferred[Any]":
        if self._closed:
            return fail(StoreError("the cluster record is closed"))

        def failed(reason: Failure) -> Failure:
            if reason.check(SessionNameTaken, NickTaken, NewerSchemaError):
                return reason
            return Failure(StoreError(f"the cluster record call failed: {reason.getErrorMessage()}"))

        return run(*arguments).addErrback(failed)
