//! What crosses the wire for invoices, tenants and properties, and the rules shared by both sides.

use super::money::LineInput;
use serde::{Deserialize, Serialize};

/// Stored status. "Overdue" is not stored: it is an issued invoice past its due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Draft,
    Issued,
    Paid,
    Void,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Issued => "issued",
            Status::Paid => "paid",
            Status::Void => "void",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "draft" => Some(Status::Draft),
            "issued" => Some(Status::Issued),
            "paid" => Some(Status::Paid),
            "void" => Some(Status::Void),
            _ => None,
        }
    }

    /// What the user sees: `overdue` for an issued invoice past its due date (`today` is ISO).
    pub fn display(self, due_date: &str, today: &str) -> &'static str {
        match self {
            Status::Issued if due_date < today => "overdue",
            other => other.as_str(),
        }
    }

    /// "a draft", "an issued", "a paid", "a void" (capitalised at the start of a sentence).
    pub fn with_article(self, capital: bool) -> String {
        let article = match (self, capital) {
            (Status::Issued, true) => "An",
            (Status::Issued, false) => "an",
            (_, true) => "A",
            (_, false) => "a",
        };
        format!("{article} {}", self.as_str())
    }

    pub fn can_become(self, next: Status) -> bool {
        matches!(
            (self, next),
            (Status::Draft, Status::Issued)
                | (Status::Draft, Status::Void)
                | (Status::Issued, Status::Paid)
                | (Status::Issued, Status::Void)
        )
    }

    pub fn editable(self) -> bool {
        matches!(self, Status::Draft | Status::Issued)
    }
}

/// Display statuses a list can be filtered by.
pub const FILTERS: [&str; 5] = ["draft", "issued", "overdue", "paid", "void"];
/// Columns the list can be sorted by.
pub const SORTS: [&str; 7] = [
    "number", "tenant", "property", "amount", "due", "status", "phone",
];
pub const PAGE_SIZE: i64 = 25;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ListQuery {
    pub page: i64,
    pub sort: String,
    /// `asc` or `desc`.
    pub dir: String,
    pub q: String,
    pub status: String,
}

impl ListQuery {
    /// Unknown values fall back to the defaults (newest due date first, first page).
    pub fn normalized(mut self) -> Self {
        if !SORTS.contains(&self.sort.as_str()) {
            self.sort = "due".into();
            self.dir = "desc".into();
        }
        if self.dir != "asc" && self.dir != "desc" {
            self.dir = "asc".into();
        }
        if !FILTERS.contains(&self.status.as_str()) {
            self.status.clear();
        }
        self.q = self.q.trim().chars().take(100).collect();
        self.page = self.page.max(1);
        self
    }

    /// The query string for this list with `change` applied.
    pub fn href(&self, change: impl FnOnce(&mut ListQuery)) -> String {
        let mut q = self.clone();
        change(&mut q);
        let mut parts = vec![
            format!("page={}", q.page),
            format!("sort={}", q.sort),
            format!("dir={}", q.dir),
        ];
        if !q.q.is_empty() {
            parts.push(format!("q={}", encode(&q.q)));
        }
        if !q.status.is_empty() {
            parts.push(format!("status={}", q.status));
        }
        format!("/invoices?{}", parts.join("&"))
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceRow {
    pub id: i64,
    pub number: String,
    pub tenant_name: String,
    pub property: Option<String>,
    pub amount: String,
    pub due_date: String,
    pub status: String,
    pub phone: Option<String>,
    pub tenant_id: i64,
    /// The latest WhatsApp send of this invoice.
    pub whatsapp: Option<crate::sending::SendBadge>,
    /// Why the WhatsApp button is disabled, if it is.
    pub blocker: Option<crate::sending::Blocker>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceList {
    pub rows: Vec<InvoiceRow>,
    pub total: i64,
    pub pages: i64,
    pub query: ListQuery,
    /// The user has no invoices at all (not just none matching).
    pub empty_account: bool,
    /// The latest bulk WhatsApp send, while it runs.
    pub batch: Option<crate::sending::BatchProgress>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineView {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub tax_rate: String,
    pub amount: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceDetail {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub stored_status: Status,
    pub tenant_id: i64,
    pub tenant_name: String,
    pub tenant_phone: Option<String>,
    pub property: Option<String>,
    pub issue_date: String,
    pub due_date: String,
    pub currency: String,
    pub lines: Vec<LineView>,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    pub notes: String,
}

/// An invoice as the form edits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct InvoiceDraft {
    pub id: Option<i64>,
    pub number: String,
    pub tenant_id: Option<i64>,
    pub issue_date: String,
    pub due_date: String,
    pub currency: String,
    pub notes: String,
    pub lines: Vec<LineInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    pub id: i64,
    pub name: String,
    pub phone_raw: String,
    pub phone: Option<String>,
    pub is_mobile: bool,
    pub email: String,
    pub property_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub property: Option<String>,
    /// How they are known on WhatsApp when they shared no number: their username, or a short
    /// note that they are reached by the id WhatsApp gave them.
    pub whatsapp_user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitView {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyView {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub units: Vec<UnitView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Profile {
    pub address: String,
    pub tax_id: String,
    pub payment_instructions: String,
    pub default_currency: String,
    pub default_country: String,
    pub invoice_prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_transitions() {
        use Status::*;
        assert!(
            Draft.can_become(Issued)
                && Issued.can_become(Paid)
                && Issued.can_become(Void)
                && Draft.can_become(Void)
        );
        assert!(
            !Paid.can_become(Void)
                && !Void.can_become(Issued)
                && !Paid.can_become(Issued)
                && !Draft.can_become(Paid)
        );
        assert!(Draft.editable() && Issued.editable() && !Paid.editable() && !Void.editable());
        assert_eq!(Issued.with_article(true), "An issued");
        assert_eq!(Draft.with_article(false), "a draft");
    }

    #[test]
    fn overdue_is_derived() {
        assert_eq!(
            Status::Issued.display("2026-11-01", "2026-11-24"),
            "overdue"
        );
        assert_eq!(Status::Issued.display("2026-11-24", "2026-11-24"), "issued");
        assert_eq!(Status::Paid.display("2026-01-01", "2026-11-24"), "paid");
    }

    #[test]
    fn list_query_defaults_and_links() {
        let q = ListQuery {
            page: 0,
            sort: "bogus".into(),
            dir: "x".into(),
            q: "  Ana  ".into(),
            status: "nope".into(),
        }
        .normalized();
        assert_eq!(
            (
                q.page,
                q.sort.as_str(),
                q.dir.as_str(),
                q.q.as_str(),
                q.status.as_str()
            ),
            (1, "due", "desc", "Ana", "")
        );
        assert_eq!(
            q.href(|q| q.page = 2),
            "/invoices?page=2&sort=due&dir=desc&q=Ana"
        );
        assert_eq!(
            q.href(|q| q.q = "Ana & Bo".into()),
            "/invoices?page=1&sort=due&dir=desc&q=Ana%20%26%20Bo"
        );
    }
}
