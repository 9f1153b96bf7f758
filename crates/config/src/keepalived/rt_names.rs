//! Names of routing tables, protocols, scopes and DS fields, as keepalived resolves them
//! (`lib/rttables.c`): a number (decimal, 0x hex or 0 octal, as strtoul) stands for itself;
//! a name is looked up in iproute2's file (`rt_tables`, `rt_protos`, `rt_scopes`,
//! `rt_dsfield`, lines of `NUMBER NAME`), then in keepalived's built-in names.
//!
//! keepalived 2.2.7 reads /etc/iproute2 only. `iproute_etc_dir` (keepalived 2.3) moves that
//! directory; `iproute_usr_dir` names where a file missing there is read instead, as
//! iproute2 6.x installs its defaults under /usr/share/iproute2.

use std::path::{Path, PathBuf};

/// Where the files are read.
#[derive(Debug, Clone)]
pub(crate) struct RtNames {
    pub(crate) etc_dir: PathBuf,
    pub(crate) usr_dir: Option<PathBuf>,
}

impl Default for RtNames {
    fn default() -> RtNames {
        RtNames {
            etc_dir: PathBuf::from("/etc/iproute2"),
            usr_dir: None,
        }
    }
}

const TABLES: &[(u32, &str)] = &[(253, "default"), (254, "main"), (255, "local")];
const PROTOCOLS: &[(u32, &str)] = &[
    (0, "none"),
    (1, "redirect"),
    (2, "kernel"),
    (3, "boot"),
    (4, "static"),
    (8, "gated"),
    (9, "ra"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "bird"),
    (42, "babel"),
    (13, "dnrouted"),
    (14, "xorp"),
    (15, "ntk"),
    (16, "dhcp"),
];
const SCOPES: &[(u32, &str)] = &[
    (0, "global"),
    (255, "nowhere"),
    (254, "host"),
    (253, "link"),
    (200, "site"),
];

/// RTN_* route types by name (keepalived's `rtntypes`, with `brd` for broadcast).
const ROUTE_TYPES: &[(u8, &str)] = &[
    (2, "local"),
    (10, "nat"),
    (3, "broadcast"),
    (3, "brd"),
    (4, "anycast"),
    (5, "multicast"),
    (8, "prohibit"),
    (7, "unreachable"),
    (6, "blackhole"),
    (11, "xresolve"),
    (1, "unicast"),
    (9, "throw"),
];

/// strtoul with base 0: `0x1f`, `017`, `42`; the whole text must be the number.
pub(crate) fn c_number(text: &str) -> Option<u64> {
    if text.starts_with('-') || text.starts_with('+') || text.is_empty() {
        return None;
    }
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).ok()
    } else {
        text.parse().ok()
    }
}

impl RtNames {
    pub(crate) fn table(&self, name: &str) -> Option<u32> {
        self.find(name, "rt_tables", TABLES, u64::from(u32::MAX))
    }

    pub(crate) fn protocol(&self, name: &str) -> Option<u8> {
        self.find(name, "rt_protos", PROTOCOLS, 255).map(low_byte)
    }

    pub(crate) fn scope(&self, name: &str) -> Option<u8> {
        self.find(name, "rt_scopes", SCOPES, 255).map(low_byte)
    }

    pub(crate) fn dsfield(&self, name: &str) -> Option<u8> {
        self.find(name, "rt_dsfield", &[], 255).map(low_byte)
    }

    /// keepalived's `find_entry`: a number up to `max`, else the file's names (first match),
    /// then the built-in names whose number the file does not use.
    fn find(&self, name: &str, file: &str, defaults: &[(u32, &str)], max: u64) -> Option<u32> {
        if let Some(number) = c_number(name) {
            return (number <= max)
                .then(|| u32::try_from(number).ok())
                .flatten();
        }
        let read = self.read(file, max);
        if let Some((id, _)) = read.iter().find(|(_, n)| n == name) {
            return Some(*id);
        }
        defaults
            .iter()
            .filter(|(id, _)| !read.iter().any(|(r, _)| r == id))
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
    }

    fn read(&self, file: &str, max: u64) -> Vec<(u32, String)> {
        let etc = self.etc_dir.join(file);
        let path = match &self.usr_dir {
            Some(usr) if !etc.exists() => usr.join(file),
            _ => etc,
        };
        read_names(&path, max)
    }
}

fn low_byte(id: u32) -> u8 {
    (id & 0xff) as u8
}

/// `NUMBER NAME` lines; `#` starts a comment; other lines are skipped, as keepalived does.
fn read_names(path: &Path, max: u64) -> Vec<(u32, String)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.split(['#', '!']).next().unwrap_or("");
            let words: Vec<&str> = line.split_whitespace().collect();
            let [number, name] = words.as_slice() else {
                return None;
            };
            let id = c_number(number).filter(|id| *id <= max)?;
            Some((u32::try_from(id).ok()?, (*name).to_owned()))
        })
        .collect()
}

/// RTN_* of a route type name, or a number 0..=255 (keepalived's `find_rttables_rtntype`).
pub(crate) fn route_type(name: &str) -> Option<u8> {
    ROUTE_TYPES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(id, _)| *id)
        .or_else(|| c_number(name).and_then(|n| u8::try_from(n).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_strtoul_with_base_0() {
        assert_eq!(c_number("42"), Some(42));
        assert_eq!(c_number("0x10"), Some(16));
        assert_eq!(c_number("010"), Some(8));
        assert_eq!(c_number("0"), Some(0));
        assert_eq!(c_number("-1"), None);
        assert_eq!(c_number("12a"), None);
    }

    #[test]
    fn names_come_from_the_files_then_the_built_in_list() {
        let dir = std::env::temp_dir().join(format!("baton-rt-names-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rt_tables"),
            "# c\n100 vips\n254 primary\nbad line x\n",
        )
        .unwrap();
        let names = RtNames {
            etc_dir: dir.clone(),
            usr_dir: None,
        };
        assert_eq!(names.table("vips"), Some(100));
        assert_eq!(names.table("primary"), Some(254));
        // 254 is named by the file, so the built-in "main" is not added.
        assert_eq!(names.table("main"), None);
        assert_eq!(names.table("local"), Some(255));
        assert_eq!(names.table("nope"), None);
        assert_eq!(names.protocol("static"), Some(4));
        assert_eq!(names.scope("link"), Some(253));
        assert_eq!(names.dsfield("0x10"), Some(16));
        assert_eq!(route_type("blackhole"), Some(6));
        assert_eq!(route_type("10.0.0.0/8"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
