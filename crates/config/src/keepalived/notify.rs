//! The `notify*` and `smtp_alert` keywords that instances and sync groups share.

use crate::keepalived::mapping::Mapper;
use crate::keepalived::parser::Stmt;
use crate::model::Notify;

impl Mapper<'_> {
    /// `notify*` and `smtp_alert` keywords of instances and sync groups; false if `s` is
    /// something else.
    pub(super) fn notify(&mut self, notify: &mut Notify, s: &Stmt, context: &str) -> bool {
        if s.keyword == "smtp_alert" {
            notify.smtp_alert = self.smtp_alert(s, context).or(notify.smtp_alert);
            return true;
        }
        if s.keyword == "notify_priority_changes" {
            if let Some(on) = self.flag(s, context) {
                notify.priority_changes = Some(on);
            }
            return true;
        }
        let slot = match s.keyword.as_str() {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            "notify" => &mut notify.any,
            _ => return false,
        };
        if slot.is_some() {
            // keepalived: "script already specified - ignoring".
            self.error(&s.at, context, format!("{} is given twice", s.keyword));
            return true;
        }
        *slot = self.notify_script(s, context);
        true
    }
}
