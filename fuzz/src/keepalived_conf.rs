//! keepalived.conf, lexer to model: `baton_config::parse_keepalived` on arbitrary UTF-8
//! (the loader refuses anything else before parsing). Never panics; every error names the
//! file and a line; warnings name the file; what loads, the VRRP engine accepts.
//!
//! The file claims to live in an empty directory (`config_path`), so relative `include`s
//! find nothing. Inputs where a line with `include` holds a `/` are skipped: an absolute or
//! `..` path would let the fuzzer read (or glob over) the machine's files.

/// One input: panics when a check fails.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let may_leave_the_directory = text
        .lines()
        .any(|line| line.contains("include") && line.contains('/'));
    if may_leave_the_directory {
        return;
    }
    let path = crate::config::config_path("keepalived.conf");
    let outcome = baton_config::parse_keepalived(text, &path);
    crate::config::check_outcome(&outcome, &path, text, false);
}
