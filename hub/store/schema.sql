-- tablehub store, schema version 8 (2 added tickets_bumped_seq; 3 added corrections, check_splits, payments, quotes, tickets_held, stock, reservations, waitlist and seatings; 4 made the outbox's seq a plain key, in 1 KB pages; 5 made the actions one b-tree and dropped tickets_bumped_seq and quotes_by_time; 6 added tickets.acts and orders.acts, so a screen's action ids live on what they act on, and moved the quotes into their orders: fewer pages written per order and per bump, see hub/store/migrations.py; 7 gave orders served_ms and their tickets' id range and tickets their print jobs, so an open order's status change, its tickets and their chits leave three indexes alone; 8 dropped print_jobs_pending for a low mark kept in meta, so a print job's queueing, sending and printing write no index but its id's). The store is the truth; the outbox is the only road out.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The menu document as last loaded or edited (JSON), with a version that grows on each edit.
CREATE TABLE IF NOT EXISTS menu (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Sold-out state per item, kept apart from the document so an 86 is a one-row write.
CREATE TABLE IF NOT EXISTS availability (
    item       TEXT PRIMARY KEY,
    available  INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS tables (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    position      INTEGER NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 1,
    opened_at     TEXT,   -- when staff opened the table (stores that require it)
    pin           TEXT    -- the PIN shown to the seated party (stores that require it)
);

CREATE TABLE IF NOT EXISTS checks (
    id        INTEGER PRIMARY KEY,
    table_id  TEXT NOT NULL REFERENCES tables(id),
    opened_at TEXT NOT NULL,
    closed_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS checks_one_open ON checks(table_id) WHERE closed_at IS NULL;

CREATE TABLE IF NOT EXISTS orders (
    id              INTEGER PRIMARY KEY,
    check_id        INTEGER NOT NULL REFERENCES checks(id),
    table_id        TEXT NOT NULL,
    round           INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          TEXT NOT NULL,
    total_cents     INTEGER NOT NULL,
    body            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    acts            TEXT,  -- a screen's last action ids on it (hub/services/actions.py)
    -- the wait quoted to the diner at ordering (its fired courses ready by `ready_by_ms`, the
    -- tickets of `quote_tickets`, JSON) and when they were in fact all bumped (`ready_ms`):
    -- the quote's error; NULL: nothing fired, no quote
    quoted_ms       INTEGER,
    ready_by_ms     INTEGER,
    quote_tickets   TEXT,
    ready_ms        INTEGER,
    -- when it was served (by hand, or left ready: hub/services/kitchen.py); NULL while open.
    -- orders_open reads this, not `status`: a status change among the open ones then leaves
    -- that index alone (SQLite rewrites an index entry when a column its WHERE reads is set)
    served_ms       INTEGER,
    -- its tickets' ids: all made in its commit, one after another (NULL: it has none). Its
    -- tickets are read by this range of the tickets' own key: no index of tickets by order,
    -- one b-tree fewer in every order's commit
    tickets_from    INTEGER,
    tickets_to      INTEGER
    -- (table_id, idempotency_key) is unique by the ordering service, which keeps the last
    -- day of keys in memory: an index of random keys took a random leaf in every commit
);
CREATE INDEX IF NOT EXISTS orders_by_check ON orders(check_id);
CREATE INDEX IF NOT EXISTS orders_open ON orders(id) WHERE served_ms IS NULL;

CREATE TABLE IF NOT EXISTS tickets (
    id         INTEGER PRIMARY KEY,
    order_id   INTEGER NOT NULL REFERENCES orders(id),
    station    TEXT NOT NULL,
    status     TEXT NOT NULL,
    items      TEXT NOT NULL,  -- [{"idx": 0, "bumped": false}, ...]
    body       TEXT NOT NULL,  -- what does not change: table, number, round, item details
    created_at TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    bumped_at  TEXT,
    bumped_seq INTEGER,        -- orders recalls: the station's last bumped is the highest
    acts       TEXT,           -- a screen's last action ids on it (hub/services/actions.py)
    jobs       TEXT            -- the rowids of its print jobs, oldest first (JSON, or NULL
                               -- for none): how its chits, reprints and corrections are
                               -- found, with no index of print jobs by ticket
);
CREATE INDEX IF NOT EXISTS tickets_open ON tickets(station, id) WHERE status = 'open';
-- a station's bumps, newest last; every station's are read from it station by station
-- (hub/store/repos.py), and bumped_seq is the seq of the bump's event: no index of all bumps
CREATE INDEX IF NOT EXISTS tickets_bumped ON tickets(station, bumped_seq) WHERE status = 'bumped';

-- Staff actions (bump, recall, serve, 86) already applied, by the client's action id; a
-- kitchen action's result is which ticket or order it acted on (hub/services/actions.py).
CREATE TABLE IF NOT EXISTS actions (
    id     TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    at     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS staff_tokens (
    id         TEXT PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- Table calls from buttons or the diner page; at most one open call per table and kind.
CREATE TABLE IF NOT EXISTS calls (
    id         INTEGER PRIMARY KEY,
    table_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,   -- 'diner', a device id
    state      TEXT NOT NULL,   -- open | acked | closed
    escalated  INTEGER NOT NULL DEFAULT 0,
    opened_at  TEXT NOT NULL,
    opened_ms  INTEGER NOT NULL,
    acked_at   TEXT,
    closed_at  TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS calls_one_open ON calls(table_id, kind)
    WHERE state != 'closed';

-- Every device's last reported presence (printers, scales, buttons, screens).
CREATE TABLE IF NOT EXISTS devices (
    id         TEXT PRIMARY KEY,
    kind       TEXT,
    state      TEXT NOT NULL,  -- online | offline
    detail     TEXT NOT NULL,  -- JSON
    changed_at TEXT NOT NULL,
    seen_at    TEXT NOT NULL
);

-- The durable print queue. A job is printed once its agent acks it; until then it is sent
-- again with the same id (agents drop ids they already printed). Ordered by rowid per printer.
CREATE TABLE IF NOT EXISTS print_jobs (
    id         TEXT PRIMARY KEY,
    printer    TEXT NOT NULL,   -- where it is to print now (the backup after a failover)
    origin     TEXT NOT NULL,   -- where it was meant to print
    kind       TEXT NOT NULL,   -- kitchen | bill | test
    copy       TEXT NOT NULL,   -- ORIGINAL | REPRINT
    doc        TEXT NOT NULL,   -- JSON document for the agent's renderer
    state      TEXT NOT NULL,   -- queued | sent | printed | failed | cancelled
    reason     TEXT,            -- last failure cause (paper_out, offline, ...)
    attempts   INTEGER NOT NULL DEFAULT 0,
    ticket_id  INTEGER,
    sent_ms    INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- No index of the pending jobs: they are found from meta 'print_jobs_low', a rowid no
-- pending job is below (a job never returns to pending once printed, failed or cancelled;
-- the print dispatcher moves the mark up at most once a minute).

-- Every state change's event, written in the same transaction as the change. seq has no gaps
-- and is never given twice: the hub numbers events itself, from the highest seq here (the
-- newest row is never pruned) or meta 'outbox_high', whichever is higher (no AUTOINCREMENT:
-- its sqlite_sequence row was one more page written by every commit).
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY,
    stream     TEXT NOT NULL,   -- orders | tickets | menu | devices | telemetry
    kind       TEXT NOT NULL,   -- order.created, ticket.updated, item.availability, ...
    key        TEXT NOT NULL,   -- the id the event is about
    body       TEXT NOT NULL,   -- JSON
    created_at TEXT NOT NULL
);

-- How far each in-process consumer of the outbox has delivered (mqtt, printers, ...).
CREATE TABLE IF NOT EXISTS cursors (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);

-- Corrections of the floor: voids, comps, changes, moves and merges, each once by the
-- client's action id, with who, when, why and the values before and after (JSON).
CREATE TABLE IF NOT EXISTS corrections (
    id        TEXT PRIMARY KEY,   -- the client's action id
    kind      TEXT NOT NULL,      -- void | comp | change | move | merge
    day       TEXT NOT NULL,      -- the business day it counts to (YYYY-MM-DD)
    order_id  INTEGER,
    line      INTEGER,
    table_id  TEXT NOT NULL,
    qty       INTEGER NOT NULL DEFAULT 0,
    cents     INTEGER NOT NULL DEFAULT 0,
    reason    TEXT NOT NULL DEFAULT '',
    comp      INTEGER NOT NULL DEFAULT 0,
    by        TEXT NOT NULL,
    at        TEXT NOT NULL,
    before    TEXT NOT NULL,      -- JSON
    after     TEXT NOT NULL       -- JSON
);
CREATE INDEX IF NOT EXISTS corrections_by_day ON corrections(day);

-- How a check is split (JSON: mode, n, the parts' units of lines); none: one part.
CREATE TABLE IF NOT EXISTS check_splits (
    check_id INTEGER PRIMARY KEY REFERENCES checks(id),
    body     TEXT NOT NULL,
    at       TEXT NOT NULL
);

-- Payments recorded against a check or one part of it (recorded only), by action id.
CREATE TABLE IF NOT EXISTS payments (
    id           TEXT PRIMARY KEY,
    check_id     INTEGER NOT NULL REFERENCES checks(id),
    table_id     TEXT NOT NULL,
    part         INTEGER,
    method       TEXT NOT NULL,  -- cash | card | other
    amount_cents INTEGER NOT NULL,
    tip_cents    INTEGER NOT NULL DEFAULT 0,
    by           TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payments_by_check ON payments(check_id);

-- Portions left of counted items ("12 lobsters tonight"); an item without a row is not counted.
CREATE TABLE IF NOT EXISTS stock (
    item       TEXT PRIMARY KEY,
    left_count INTEGER NOT NULL CHECK (left_count >= 0),
    low_at     INTEGER,          -- warn the kitchen at this many or fewer; NULL: no warning
    updated_at TEXT NOT NULL
);

-- Reservations: the host stand's book and the chain's booking site's (source), by the id the
-- client gave. body (JSON): name, party, phone, notes, area, dishes, by, conflict; a guest's
-- personal data in it is blanked `[booking] forget_after_days` after the visit.
CREATE TABLE IF NOT EXISTS reservations (
    id         TEXT PRIMARY KEY,
    day        TEXT NOT NULL,      -- the local day of at_ms (YYYY-MM-DD)
    at_ms      INTEGER NOT NULL,
    table_id   TEXT,
    status     TEXT NOT NULL,      -- booked | seated | cancelled | no_show
    source     TEXT NOT NULL,      -- stand | online
    check_id   INTEGER,            -- the check seating opened
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_by_day ON reservations(day, at_ms);

-- Walk-ins waiting for a table; `token` keys the guest's own page (no personal data on it
-- but the first name). body (JSON): name, phone, message.
CREATE TABLE IF NOT EXISTS waitlist (
    id            TEXT PRIMARY KEY,
    token         TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL,   -- waiting | seated | left
    party         INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    quoted_wait_s INTEGER NOT NULL,
    table_id      TEXT,
    body          TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS waitlist_waiting ON waitlist(created_ms) WHERE status = 'waiting';

-- Who was seated on a check (a reservation or a walk-in): the party size a table's turn time
-- is learned by.
CREATE TABLE IF NOT EXISTS seatings (
    check_id INTEGER PRIMARY KEY REFERENCES checks(id),
    party    INTEGER NOT NULL,
    source   TEXT NOT NULL,       -- reservation | waitlist
    at       TEXT NOT NULL
);

-- Held tickets (later courses, not yet fired): the pacer reads them at start.
CREATE INDEX IF NOT EXISTS tickets_held ON tickets(order_id) WHERE status = 'held';
