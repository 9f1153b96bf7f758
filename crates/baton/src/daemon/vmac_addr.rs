//! Which kernel link an address link (keepalived's `use_vmac_addr`, an address's own
//! `use_vmac`) is, decided from what the kernel lists: keepalived (`if_get_by_vmac`) uses a
//! private macvlan with the MAC on the base whatever it is called, else makes one under the
//! first name of its sequence that no interface and no other link of the configuration has.
//! Sans I/O, so the rules are tested without a kernel.

use baton_net::{LinkState, VirtualLinkKind};

/// What to do for one address link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Choice {
    /// A matching link exists: use it as it is.
    Use { name: String, index: u32 },
    /// The planned name is one of baton's own links of an earlier run that does not match
    /// (another MAC, mode or base): remove it and make the link under that name again.
    Replace { name: String, index: u32 },
    /// Make the link under this name.
    Create { name: String },
}

/// The choice for a link of `kind` on the interface with index `parent`, planned as
/// `planned`, with `candidates` the names keepalived would try in turn, `reserved` the
/// names of the configuration's other links, and `ours` telling baton's links apart.
pub(crate) fn choose(
    listed: &[(String, LinkState)],
    kind: VirtualLinkKind,
    parent: u32,
    planned: &str,
    candidates: impl Iterator<Item = String>,
    reserved: &[String],
    ours: impl Fn(&LinkState) -> bool,
) -> Choice {
    if let Some((name, state)) = listed.iter().find(|(_, s)| s.matches(kind, parent)) {
        return Choice::Use {
            name: name.clone(),
            index: state.index,
        };
    }
    let exists = |name: &str| listed.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    match exists(planned) {
        None => Choice::Create {
            name: planned.to_owned(),
        },
        Some(state) if ours(state) => Choice::Replace {
            name: planned.to_owned(),
            index: state.index,
        },
        Some(_) => {
            let name = candidates
                .filter(|n| n != planned && !reserved.contains(n))
                .find(|n| exists(n).is_none())
                .expect("names never end");
            Choice::Create { name }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0, 0, 0x5e, 0, 1, 51];

    fn link(index: u32, kind: &str, parent: u32, mac: [u8; 6], alias: Option<&str>) -> LinkState {
        LinkState {
            index,
            kind: Some(kind.to_owned()),
            parent: Some(parent),
            mac: Some(mac),
            macvlan_private: true,
            ipvlan_l2_flags: None,
            alias: alias.map(str::to_owned),
            up: true,
        }
    }

    fn pick(listed: &[(String, LinkState)], reserved: &[&str]) -> Choice {
        let reserved: Vec<String> = reserved.iter().map(|s| (*s).to_owned()).collect();
        let candidates = ["vaddr.51", "vaddr1.51", "vaddr2.51", "vaddr3.51"]
            .into_iter()
            .map(str::to_owned);
        choose(
            listed,
            VirtualLinkKind::Macvlan { mac: MAC },
            3,
            "vaddr.51",
            candidates,
            &reserved,
            |s| s.alias.as_deref() == Some("baton vmac"),
        )
    }

    #[test]
    fn a_matching_macvlan_is_used_whatever_its_name() {
        let listed = vec![("handmade".to_owned(), link(7, "macvlan", 3, MAC, None))];
        assert_eq!(
            pick(&listed, &[]),
            Choice::Use {
                name: "handmade".into(),
                index: 7
            }
        );
    }

    #[test]
    fn a_free_planned_name_is_made() {
        // The same MAC on another base does not match.
        let listed = vec![("vrrp.51".to_owned(), link(7, "macvlan", 2, MAC, None))];
        assert_eq!(
            pick(&listed, &[]),
            Choice::Create {
                name: "vaddr.51".into()
            }
        );
    }

    #[test]
    fn our_leftover_under_the_name_is_replaced() {
        let other_mac = [0, 0, 0x5e, 0, 1, 52];
        let listed = vec![(
            "vaddr.51".to_owned(),
            link(8, "macvlan", 3, other_mac, Some("baton vmac")),
        )];
        assert_eq!(
            pick(&listed, &[]),
            Choice::Replace {
                name: "vaddr.51".into(),
                index: 8
            }
        );
    }

    #[test]
    fn a_name_someone_else_has_moves_on_past_taken_and_reserved_names() {
        let listed = vec![
            ("vaddr.51".to_owned(), link(8, "veth", 1, [2; 6], None)),
            ("vaddr2.51".to_owned(), link(9, "veth", 1, [4; 6], None)),
        ];
        assert_eq!(
            pick(&listed, &["vaddr1.51"]),
            Choice::Create {
                name: "vaddr3.51".into()
            }
        );
    }
}
