//! What Meta charges for the messages Axis CRM sends, worded once: the confirmation page, the
//! usage card, the help notes and the wizard all take their sentences from here.
//!
//! The rule since 1 October 2026 (Meta, "Upcoming pricing updates … service and utility
//! messages", updated 1 July 2026): every delivered message is charged. A non-template message
//! (the invoice PDF as a document inside the tenant's 24-hour window) is a *service* message at
//! the market's utility rate, with no volume tiers; a utility template is charged inside and
//! outside the window, with volume tiers; only the 72-hour free entry point window is free.
//! A monthly allowance of free service messages is reported by some providers, not by Meta: it
//! is named only as unconfirmed.

/// When the rule below took effect.
pub const SINCE: &str = "1 October 2026";

/// The cost line for an invoice sent as a PDF document inside the tenant's window.
pub const DOCUMENT: &str = "Charged by Meta as one service message: the invoice PDF with its caption, sent inside the \
     tenant's 24-hour window, at the utility rate of the tenant's country (since 1 October 2026 every message is \
     charged; service messages have no volume discounts).";

/// The cost line for an invoice sent as the utility template.
pub const TEMPLATE: &str = "Charged by Meta as one utility template message, at the utility rate of the tenant's \
     country, inside or outside the 24-hour window (volume tiers lower the rate for busy accounts). If the tenant \
     writes to you first, the PDF goes as a service message instead, at the same rate.";

/// The unconfirmed allowance, for wherever costs are summed up.
pub const ALLOWANCE_UNCONFIRMED: &str = "Some WhatsApp providers report that the first 1,000 service messages a month \
     per number are free; Meta's pricing pages do not say so, so Axis CRM does not count on it (unconfirmed).";

/// The usage card's summary under the month's figures.
/// The self-test's message, on its card.
pub const SELF_TEST: &str =
    "A test is a template message: Meta charges it like any other template, and it counts in \
                             Usage this month.";

pub const USAGE: &str = "Since 1 October 2026 Meta charges every delivered message: service messages (the PDF inside \
     the 24-hour window) at the utility rate, and templates by category and the tenant's country. Only messages in a \
     72-hour free entry point window are free. These figures come from the pricing Meta reports in its status \
     webhooks, counted once per message.";

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentences never go back to the pre-October "free inside the window".
    #[test]
    fn no_sentence_calls_the_window_free() {
        for s in [DOCUMENT, TEMPLATE, USAGE] {
            let lower = s.to_lowercase();
            assert!(!lower.contains("not charged"), "{s}");
            assert!(!lower.contains("is free"), "{s}");
            assert!(lower.contains("charge"), "{s}");
        }
        assert!(ALLOWANCE_UNCONFIRMED.contains("unconfirmed"));
    }
}
