#!/usr/bin/env python3
"""Writes keepalived.dict and toml.dict (libFuzzer dictionaries) from the keywords baton
knows (crates/config/src/keepalived/keywords.rs: every yes/not_yet/never entry), plus the
punctuation and values of each format. Run from fuzz/dict after keywords change."""
import re
from pathlib import Path

KEYWORDS = Path(__file__).resolve().parents[2] / "crates/config/src/keepalived/keywords.rs"
VALUES = ["MASTER", "BACKUP", "eth0", "lo", "10.0.3.100/24", "192.0.2.1", "fe80::1",
          "2001:db8::1", "dev", "scope", "label", "brd", "-20", "255", "1", "0", "AH", "PASS",
          "secret", "/bin/true", "TCP", "UDP", "rr", "wrr", "lc", "NAT", "DR", "TUN", "80",
          "10.0.3.11:8080"]
KEEPALIVED = ["{", "}", "\"", "#", "!", "\n", "yes", "no"]
TOML = ["[global]", "[[vrrp]]", "[[vrrp_script]]", "[[track_file]]", "[[sync_group]]",
        "[[frontend]]", "[[backend]]", "[[virtual_server]]", "[[virtual_server_group]]",
        "[SSL]", "=", "[", "]", "{", "}", "\"", "'", "\"\"\"", ",", "\n", "true", "false",
        "listen", "backend", "servers", "address", "tls", "cert", "key", "health_check",
        "algorithm", "round_robin", "least_conn", "hash", "1.5", "1e3"]


def quoted(word):
    escaped = word.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\x0a")
    return f'"{escaped}"'


def write(name, words):
    lines = [f"# Written by make-config-dicts.py: baton's keywords, {name}'s punctuation, values."]
    seen = set()
    for word in words:
        if word not in seen:
            seen.add(word)
            lines.append(quoted(word))
    (Path(__file__).parent / name).write_text("\n".join(lines) + "\n")


keywords = re.findall(r'\b(?:yes|not_yet|never)\(\s*"([^"\n]+)"', KEYWORDS.read_text())
write("keepalived.dict", keywords + KEEPALIVED + VALUES)
write("toml.dict", keywords + TOML + VALUES)
