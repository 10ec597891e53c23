//! Integration tests of pfs-store on real SQLite database files in temporary directories.

mod common;
mod crash;
mod feedback;
mod iou;
mod lease;
mod matrix;
mod open;
mod state;
