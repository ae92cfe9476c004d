//! Example programs for `runtime`; each is a binary under `src/bin/`.
