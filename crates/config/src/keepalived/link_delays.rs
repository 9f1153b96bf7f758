//! keepalived's `interface_up_down_delays` block (`vrrp_parser.c`): one interface per line,
//! `IFNAME DOWN_DELAY [UP_DELAY]` in seconds. keepalived only logs what it cannot read and
//! skips the line, so baton warns.

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::link_delays::{InterfaceDelays, MAX_DELAY};
use crate::values::parse_seconds;

impl Mapper<'_> {
    pub(super) fn interface_up_down_delays(&mut self, s: &Stmt) {
        let c = "interface_up_down_delays";
        let Some(block) = self.block(s, "") else {
            return;
        };
        for line in block {
            let name = line.keyword.as_str();
            let delays = match line.args.as_slice() {
                [] => Err("no delays".to_owned()),
                [down] => delay(down).map(|down| (down, Default::default())),
                [down, up, rest @ ..] => {
                    if !rest.is_empty() {
                        self.d.warn(
                            &line.at,
                            format!(
                                "{c}: {name}: words after the up delay are ignored, as keepalived"
                            ),
                        );
                    }
                    delay(down).and_then(|down| Ok((down, delay(up)?)))
                }
            };
            match delays {
                Ok((down, up)) => self.draft.global.link_delays.push(InterfaceDelays {
                    interface: name.to_owned(),
                    down,
                    up,
                    location: line.at.clone().into(),
                }),
                Err(reason) => self.d.warn(
                    &line.at,
                    format!("{c}: {name}: {reason}; the line is ignored, as keepalived"),
                ),
            }
        }
    }
}

fn delay(text: &str) -> Result<std::time::Duration, String> {
    let value = parse_seconds(text)?;
    if value > MAX_DELAY {
        return Err(format!("delay {text} is more than 255 seconds"));
    }
    Ok(value)
}
