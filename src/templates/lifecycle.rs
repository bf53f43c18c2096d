//! A template's life at Meta, and what each state means for invoices: worded once here for the
//! settings page, the confirmation page, the wizard and a send that cannot go.
//!
//! Meta's statuses (`message_template_status_update`, 2026): APPROVED, PENDING, REJECTED (with a
//! reason), PAUSED (3 h, then 6 h, for low quality), DISABLED (the third pause), ARCHIVED (no
//! activity for 12 months; deleted 28 days later unless unarchived), PENDING_DELETION, and a
//! few more (FLAGGED, IN_APPEAL, LIMIT_EXCEEDED, LOCKED, REINSTATED, UNARCHIVED). A
//! `template_category_update` can move a utility template to MARKETING.

/// Where a template stands, typed; anything Meta adds later is kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateState {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    Archived,
    PendingDeletion,
    Flagged,
    InAppeal,
    Other(String),
}

/// What a state means for invoices, and what to do: one short label, one title, one sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub short: &'static str,
    pub title: &'static str,
    pub detail: &'static str,
}

impl TemplateState {
    pub fn parse(s: &str) -> TemplateState {
        match s.trim().to_ascii_uppercase().as_str() {
            // Meta tells an unarchived or reinstated template by that word; it can be sent again.
            "APPROVED" | "UNARCHIVED" | "REINSTATED" => TemplateState::Approved,
            "PENDING" | "IN_REVIEW" => TemplateState::Pending,
            "REJECTED" => TemplateState::Rejected,
            "PAUSED" => TemplateState::Paused,
            "DISABLED" => TemplateState::Disabled,
            "ARCHIVED" => TemplateState::Archived,
            "PENDING_DELETION" | "DELETED" => TemplateState::PendingDeletion,
            "FLAGGED" => TemplateState::Flagged,
            "IN_APPEAL" => TemplateState::InAppeal,
            other => TemplateState::Other(other.to_string()),
        }
    }

    /// Whether Meta will deliver it now. A flagged template still sends (it is a warning).
    pub fn sendable(&self) -> bool {
        matches!(self, TemplateState::Approved | TemplateState::Flagged)
    }

    /// What it means, for every state but a plain approval.
    pub fn explain(&self) -> Option<Lifecycle> {
        Some(match self {
            TemplateState::Approved => return None,
            TemplateState::Pending => Lifecycle {
                short: "Template pending",
                title: "Invoice template waiting for Meta",
                detail: "Meta is still reviewing the invoice template; this usually takes minutes, at most a day. Invoices outside the 24-hour window can go once it is approved.",
            },
            TemplateState::Rejected => Lifecycle {
                short: "Template rejected",
                title: "Invoice template rejected",
                detail: "Meta rejected the invoice template (its reason is shown beside it). Create the invoice template again from Settings → WhatsApp Integration → Message templates, or appeal in WhatsApp Manager.",
            },
            TemplateState::Paused => Lifecycle {
                short: "Template paused",
                title: "Invoice template paused by Meta",
                detail: "Meta paused the invoice template because tenants reported or blocked it: 3 hours the first time, 6 hours the second; a third time disables it. Invoices outside the window wait until it is back; check the wording in WhatsApp Manager.",
            },
            TemplateState::Disabled => Lifecycle {
                short: "Template disabled",
                title: "Invoice template disabled by Meta",
                detail: "Meta disabled the invoice template after repeated low quality; it can no longer be sent. Create the invoice template again (Settings → WhatsApp Integration → Message templates) and choose the new one.",
            },
            TemplateState::Archived => Lifecycle {
                short: "Template archived",
                title: "Invoice template archived by Meta",
                detail: "Meta archived the invoice template because it was not used for 12 months, and deletes it 28 days later. Unarchive it in WhatsApp Manager, or create the invoice template again.",
            },
            TemplateState::PendingDeletion => Lifecycle {
                short: "Template deleted",
                title: "Invoice template being deleted",
                detail: "The invoice template is being deleted at Meta and can no longer be sent. Create the invoice template again and choose the new one.",
            },
            TemplateState::Flagged => Lifecycle {
                short: "Template flagged",
                title: "Invoice template flagged for low quality",
                detail: "Meta flagged the invoice template for low quality: it still sends, but will be paused if its quality does not improve. Check its wording in WhatsApp Manager.",
            },
            TemplateState::InAppeal => Lifecycle {
                short: "Template in appeal",
                title: "Invoice template under appeal",
                detail: "The invoice template's rejection is being appealed; it cannot be sent until Meta approves it.",
            },
            TemplateState::Other(_) => Lifecycle {
                short: "Template unavailable",
                title: "Invoice template not available",
                detail: "Meta reports the invoice template in a state that cannot be sent. Open WhatsApp Manager → Message templates to see why, or create the invoice template again.",
            },
        })
    }
}

/// A utility template Meta moved to MARKETING: billed as marketing, and no longer used for
/// invoices by Axis CRM.
pub const RECATEGORISED: Lifecycle = Lifecycle {
    short: "Now marketing",
    title: "Invoice template moved to MARKETING",
    detail: "Meta moved the invoice template from UTILITY to MARKETING: it would be billed at marketing rates and some tenants would not receive it, so Axis CRM no longer uses it for invoices. Create the invoice template again (its wording is transactional), or request a review in WhatsApp Manager within 60 days.",
};

/// Meta archives a template after 12 months without activity (created, edited or sent).
pub const ARCHIVE_AFTER_SECS: i64 = 365 * 24 * 3600;
/// Axis CRM warns a month before.
pub const WARN_BEFORE_SECS: i64 = 30 * 24 * 3600;

/// The warning for an approved template nearing archival, given its last activity.
pub fn archive_warning(last_activity: Option<i64>, now: i64) -> Option<String> {
    let at = last_activity?;
    let archive_at = at + ARCHIVE_AFTER_SECS;
    if now < archive_at - WARN_BEFORE_SECS {
        return None;
    }
    let when = match (archive_at - now) / 86_400 {
        d if d > 0 => format!("in about {d} days"),
        _ => "any day now".to_string(),
    };
    Some(format!(
        "Not used for {} months: Meta archives templates after 12 months without use ({when}). Send an invoice with it, or create the invoice template again.",
        (now - at) / (30 * 86_400)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_is_explained_or_sendable() {
        for s in [
            "APPROVED",
            "PENDING",
            "REJECTED",
            "PAUSED",
            "DISABLED",
            "ARCHIVED",
            "PENDING_DELETION",
            "FLAGGED",
            "IN_APPEAL",
            "LOCKED",
            "unarchived",
        ] {
            let st = TemplateState::parse(s);
            assert_eq!(
                st.explain().is_none(),
                st == TemplateState::Approved,
                "{s}: {st:?}"
            );
            if !st.sendable() {
                assert!(st.explain().unwrap().detail.len() > 40, "{s}");
            }
        }
        assert!(TemplateState::parse("UNARCHIVED").sendable());
        assert!(!TemplateState::parse("ARCHIVED").sendable());
        assert!(!TemplateState::parse("LOCKED").sendable());
    }

    #[test]
    fn archival_is_warned_a_month_before() {
        let day = 86_400;
        let now = 1_800_000_000;
        assert_eq!(archive_warning(None, now), None);
        assert_eq!(archive_warning(Some(now - 300 * day), now), None);
        let w = archive_warning(Some(now - 340 * day), now).unwrap();
        assert!(w.contains("in about 25 days"), "{w}");
        assert!(archive_warning(Some(now - 400 * day), now)
            .unwrap()
            .contains("any day now"));
    }
}
