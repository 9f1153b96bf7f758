//! What `[[anycast]]` sections name must exist, and two of them must not announce the same
//! prefix into the same table (the second's withdrawal would take the first's route).

use std::collections::HashMap;

use crate::Config;
use crate::diagnostic::Diagnostics;

pub(crate) fn check(config: &Config, d: &mut Diagnostics) {
    let mut names: HashMap<&str, &crate::Location> = HashMap::new();
    let mut announced = HashMap::new();
    for a in &config.anycasts {
        let what = format!("anycast {}", a.name);
        if let Some(first) = names.insert(&a.name, &a.location) {
            d.error(
                &a.location,
                format!("{what}: the name is already used at {first}"),
            );
        }
        for name in &a.track_frontends {
            if config.frontend(name).is_none() {
                d.error(
                    &a.location,
                    format!("{what}: track_frontend {name}: no frontend named {name}"),
                );
            }
        }
        for name in &a.track_virtual_servers {
            if config.virtual_server(name).is_none() {
                d.error(
                    &a.location,
                    format!("{what}: track_virtual_server {name}: no virtual server named {name}"),
                );
            }
        }
        for script in &a.track_scripts {
            if config.script(&script.name).is_none() {
                d.error(
                    script.location.location(),
                    format!(
                        "{what}: track_script {0}: no vrrp_script named {0}",
                        script.name
                    ),
                );
            }
        }
        for file in &a.track_files {
            if config.track_file(&file.name).is_none() {
                d.error(
                    file.location.location(),
                    format!("{what}: track_file {0}: no track_file named {0}", file.name),
                );
            }
        }
        for prefix in &a.prefixes {
            if let Some(other) = announced.insert((prefix, a.table), &a.name) {
                d.error(
                    &a.location,
                    format!(
                        "{what}: {prefix} in table {} is already announced by anycast {other}",
                        a.table
                    ),
                );
            }
        }
    }
}
