"""Issue 12's attacks as one script: ``pytest tests/test_adversarial.py`` runs every one of
them, on SQLite and on PostgreSQL where it applies, as a hostile insider or an unlucky
operator would try them. Each attack lives in the part that covers its area; this module
collects the parts (their tests and fixtures) so that they run together.

``adversarial_guards``, the database's own guards:
- 12.1 SQLite ``INSERT OR REPLACE``, ``REPLACE INTO`` and upserts over a stored event or
  chain row; PostgreSQL's ``ON CONFLICT DO UPDATE`` and ``MERGE``;
- 12.2 guards disarmed: dropped and re-created harmless, disabled, narrowed, their
  function replaced.

``adversarial_verify``, what verification proves:
- 12.3 ``verify`` printing a head it did not verify (another writer commits meanwhile);
- 12.4 a log rewritten consistently so that an event breaks a rule, or is one the ledger
  could not have recorded;
- 12.5 the report saying "verify passed" of a log rewritten whole (``report --digest``).

``adversarial_text``, stored text and read-only copies:
- 12.6 rich markup in stored names, ids, offers, roles and notes;
- 12.7 terminal escape sequences and control characters, at input and in output;
- 12.18 a ledger on a read-only copy, read by a user who may not write it.

``adversarial_url``, the store's URL and its connections:
- 12.9 SQLite URLs that are not a plain file (``:memory:``, ``file:``, a host, a query);
- 12.10 libpq options dropped (``sslmode=require`` without TLS, ``connect_timeout``, ...);
- 12.11 the password in messages;
- 12.12 a wrong database, port or user: a slow, vague failure;
- 12.13 ``?schema=`` empty, system schemas, a schema not there yet;
- 12.14 malformed URLs (port 99999, ``abc``, ``[::1/db``, ``%00``), fuzzed;
- 12.17 a writer waiting behind a long import (``--wait``).

``adversarial_input``, input and the files the ledger writes:
- 12.8 ``export`` and ``report --out`` over the ledger's own files or any SQLite database;
- 12.15 a slow producer on standard input (PostgreSQL's idle-in-transaction timeout);
- 12.16 a restore from the future, a clock behind the ledger;
- 12.19 duplicate JSON keys at any depth;
- 12.20 a line of hundreds of megabytes;
- 12.21 files created world-readable;
- 12.22 a full disk, a folder as ``--out``, two restores at once, invalid UTF-8,
  ``+24:00``, an empty import, a restore cut short (``--digest``).

The tamper tests of earlier work (byte flips, deleted and reordered rows, truncation) are in
``test_tamper.py``; crashes mid-import in ``test_crash.py``; concurrent writers in
``test_concurrency.py``.
"""

from adversarial_guards import *  # noqa: F403
from adversarial_input import *  # noqa: F403
from adversarial_text import *  # noqa: F403
from adversarial_url import *  # noqa: F403
from adversarial_verify import *  # noqa: F403
