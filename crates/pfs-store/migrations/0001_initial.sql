-- raiden-pfs schema, version 1.
--
-- Portable between SQLite and PostgreSQL: only BIGINT, SMALLINT, BOOLEAN, TEXT and BYTEA columns
-- (SQLite stores BYTEA values as BLOBs unchanged), ANSI constraints, partial indexes.
--
-- Encodings (see the crate docs of pfs-store):
--   addresses           20-byte BYTEA
--   uint256 values      32-byte big-endian BYTEA (byte order = numeric order)
--   uint64 values       8-byte big-endian BYTEA (nonces, chain ids: any u64 fits)
--   int256 values       32-byte two's complement, big-endian, sign bit flipped (byte order = numeric order)
--   times               BIGINT microseconds since 1970-01-01T00:00:00 UTC
--   imbalance penalties the points' 32-byte big-endian x and y values, concatenated; NULL for none

-- The deployment this database belongs to; exactly one row, checked at every start.
CREATE TABLE deployment (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    chain_id BYTEA NOT NULL,
    token_network_registry BYTEA NOT NULL,
    user_deposit BYTEA NOT NULL,
    receiver BYTEA NOT NULL
);

-- The chain cursor and the recent processed blocks: the row with the highest number is the cursor.
CREATE TABLE chain_block (
    block_number BIGINT PRIMARY KEY,
    block_hash BYTEA NOT NULL
);

CREATE TABLE token_network (
    address BYTEA PRIMARY KEY,
    token BYTEA NOT NULL,
    settle_timeout BYTEA NOT NULL
);

-- One row per open channel; suffix 1 is the participant with the lower address (Channel::sides[0]).
-- A side's capacity report columns are all NULL until it sent a capacity update; its fee schedule
-- (cap_fees, flat, proportional, imbalance_penalty) and fee_timestamp are the defaults until it
-- sent a fee update.
CREATE TABLE channel (
    token_network BYTEA NOT NULL REFERENCES token_network (address) ON DELETE CASCADE,
    channel_id BYTEA NOT NULL,
    participant1 BYTEA NOT NULL,
    total_deposit1 BYTEA NOT NULL,
    total_withdraw1 BYTEA NOT NULL,
    updating_nonce1 BYTEA,
    other_nonce1 BYTEA,
    updating_capacity1 BYTEA,
    other_capacity1 BYTEA,
    reveal_timeout1 BYTEA,
    cap_fees1 BOOLEAN NOT NULL,
    flat1 BYTEA NOT NULL,
    proportional1 BYTEA NOT NULL,
    imbalance_penalty1 BYTEA,
    fee_timestamp1 BIGINT NOT NULL,
    participant2 BYTEA NOT NULL,
    total_deposit2 BYTEA NOT NULL,
    total_withdraw2 BYTEA NOT NULL,
    updating_nonce2 BYTEA,
    other_nonce2 BYTEA,
    updating_capacity2 BYTEA,
    other_capacity2 BYTEA,
    reveal_timeout2 BYTEA,
    cap_fees2 BOOLEAN NOT NULL,
    flat2 BYTEA NOT NULL,
    proportional2 BYTEA NOT NULL,
    imbalance_penalty2 BYTEA,
    fee_timestamp2 BIGINT NOT NULL,
    PRIMARY KEY (token_network, channel_id),
    UNIQUE (token_network, participant1, participant2),
    CHECK (participant1 < participant2)
);

-- Updates waiting for their channel, the signed message exactly as received (re-verified on load).
CREATE TABLE deferred_update (
    sequence BIGINT PRIMARY KEY,
    token_network BYTEA NOT NULL,
    channel_id BYTEA NOT NULL,
    updating_participant BYTEA NOT NULL,
    message TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX deferred_update_channel ON deferred_update (token_network, channel_id);
CREATE INDEX deferred_update_sender ON deferred_update (updating_participant);

-- IOUs: one row per payment session (sender, claimable_until).
CREATE TABLE iou (
    sender BYTEA NOT NULL,
    claimable_until BYTEA NOT NULL,
    amount BYTEA NOT NULL,
    receiver BYTEA NOT NULL,
    one_to_n_address BYTEA NOT NULL,
    chain_id BYTEA NOT NULL,
    signature BYTEA NOT NULL,
    claimed BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (sender, claimable_until)
);
CREATE UNIQUE INDEX iou_one_active_session_per_sender ON iou (sender) WHERE NOT claimed;
CREATE INDEX iou_unclaimed_by_claimable_until ON iou (claimable_until) WHERE NOT claimed;

-- Routes returned with a feedback token, and the feedback received for them.
CREATE TABLE feedback (
    token_id BYTEA NOT NULL,
    token_network BYTEA NOT NULL,
    route TEXT NOT NULL,
    source_address BYTEA NOT NULL,
    target_address BYTEA NOT NULL,
    estimated_fee BYTEA NOT NULL,
    creation_time BIGINT NOT NULL,
    successful BOOLEAN,
    feedback_time BIGINT,
    PRIMARY KEY (token_id, token_network, route)
);
CREATE INDEX feedback_creation_time ON feedback (creation_time);

-- Matrix: known users and the sync position; presence is re-learned at start.
CREATE TABLE matrix_user (
    user_id TEXT PRIMARY KEY,
    address BYTEA NOT NULL,
    displayname TEXT NOT NULL
);
CREATE INDEX matrix_user_address ON matrix_user (address);

CREATE TABLE matrix_sync (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    next_batch TEXT NOT NULL
);

CREATE TABLE seen_offline (
    address BYTEA PRIMARY KEY,
    since BIGINT NOT NULL
);
