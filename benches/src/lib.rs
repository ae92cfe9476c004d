//! Benchmarks live in `benches/`; none are written yet (scheduler issue).
