//! `baton anycast withdraw|drain|announce NAME`: the operator's hold on a section. A
//! withdrawn section's routes leave the table at once and stay out whatever its
//! dependencies say, until `announce` hands it back to them. The hold outlives reloads
//! while the section exists (a reload never re-announces what the operator withdrew), and
//! restarts too: the control task records it in the state file, as it does step-downs, and
//! a started daemon begins with the holds it restored.

use baton::control_request::shown;
use baton_config::Anycast;
use tokio::sync::oneshot;

use crate::anycast_status::AnycastStatus;
use crate::daemon::control::Answer;

/// A change of the hold, for the task that owns the routes; it answers once the routes
/// are as the hold says.
pub(super) struct Hold {
    pub(super) name: String,
    pub(super) withdrawn: bool,
    pub(super) done: oneshot::Sender<AnycastStatus>,
}

/// The error for a name no section has, with the names there are.
pub(super) fn unknown(name: &str, sections: &[Anycast]) -> String {
    if sections.is_empty() {
        return format!(
            "unknown anycast {}: no [[anycast]] section is configured",
            shown(name)
        );
    }
    let names: Vec<&str> = sections.iter().map(|s| s.name.as_str()).collect();
    format!(
        "unknown anycast {}; anycast sections: {}",
        shown(name),
        names.join(", ")
    )
}

/// The answer: the section as `baton status` shows it, and how long routers take to
/// converge after a withdrawal (what `drain` waits).
pub(super) fn answer(status: AnycastStatus, section: &Anycast) -> Answer {
    let mut json = serde_json::json!({ "ok": true, "anycast": status });
    json["withdraw_delay"] = serde_json::json!(section.withdraw_delay.as_secs_f64());
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_name_lists_the_sections() {
        assert_eq!(
            unknown("dns", &[]),
            "unknown anycast \"dns\": no [[anycast]] section is configured"
        );
        let config = baton_config::parse_toml(
            "[[anycast]]\nname = \"web\"\nprefixes = [\"10.0.9.100/32\"]\n\n\
             [[anycast]]\nname = \"api\"\nprefixes = [\"10.0.9.101/32\"]\n",
            "b.toml",
        )
        .expect("valid")
        .config;
        assert_eq!(
            unknown("dns", &config.anycasts),
            "unknown anycast \"dns\"; anycast sections: web, api"
        );
    }
}
