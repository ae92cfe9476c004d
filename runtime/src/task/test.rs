//! Unit tests of the task core, driven by a small test scheduler.
