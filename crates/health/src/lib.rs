//! Health checkers shared by L4 and L7 (being built).
