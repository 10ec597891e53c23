-- raiden-pfs schema, version 2: the undo records of the recent blocks, committed with the cursor,
-- so that a reorganisation reaching blocks processed before a restart can still be reverted.
-- `undo` is the JSON form of pfs_core::token_network::Undo (see pfs-store's undo.rs); records of
-- blocks older than the kept recent blocks are pruned with them.
CREATE TABLE chain_undo (
    block_number BIGINT NOT NULL,
    position BIGINT NOT NULL,
    undo TEXT NOT NULL,
    PRIMARY KEY (block_number, position)
);
