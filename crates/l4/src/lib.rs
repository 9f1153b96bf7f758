//! L4 balancing on nf_tables (being built).
