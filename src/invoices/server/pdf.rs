//! An invoice as a PDF, drawn on the blocking pool within a time budget.

use super::{invoices::detail, profile::profile};
use crate::{error::AppError, invoices::types::*, platform::db::Db};

/// The invoice as a PDF, for its owner.
pub async fn pdf(db: &Db, user_id: i64, id: i64) -> Result<(String, Vec<u8>), AppError> {
    let d = detail(db, user_id, id).await?;
    let p = profile(db, user_id).await?;
    let user = crate::accounts::server::user_by_id(db, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut business_lines: Vec<String> = p.address.lines().map(str::to_string).collect();
    if !p.tax_id.is_empty() {
        business_lines.push(format!("Tax id: {}", p.tax_id));
    }
    business_lines.push(user.email.clone());
    let inv = invoice_pdf::Invoice {
        paper: invoice_pdf::Paper::for_country(&p.default_country),
        number: d.number.clone(),
        status: capitalize(&d.status),
        watermark: match d.stored_status {
            Status::Paid => Some("PAID".into()),
            Status::Void => Some("VOID".into()),
            _ => None,
        },
        business: invoice_pdf::Party {
            name: user.business_name,
            lines: business_lines,
        },
        tenant: invoice_pdf::Party {
            name: d.tenant_name.clone(),
            lines: [d.property.clone(), d.tenant_phone.clone()]
                .into_iter()
                .flatten()
                .collect(),
        },
        issue_date: d.issue_date.clone(),
        due_date: d.due_date.clone(),
        currency: d.currency.clone(),
        items: d
            .lines
            .iter()
            .map(|l| invoice_pdf::LineItem {
                description: l.description.clone(),
                quantity: l.quantity.clone(),
                unit_price: l.unit_price.clone(),
                tax_rate: l.tax_rate.clone(),
                amount: l.amount.clone(),
            })
            .collect(),
        subtotal: d.subtotal.clone(),
        tax: d.tax.clone(),
        total: d.total.clone(),
        payment_instructions: Some(p.payment_instructions).filter(|s| !s.is_empty()),
        notes: Some(d.notes).filter(|s| !s.is_empty()),
    };
    Ok((format!("{}.pdf", d.number), render_pdf(inv).await?))
}

/// How long one PDF may take to draw. Inputs are bounded so that the largest invoice takes
/// milliseconds; this only stops a render that has gone wrong from holding a core.
const PDF_RENDER_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a request waits for a free render slot before it is told to try again.
const PDF_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Renders on the blocking pool, at most one PDF per core at a time (pages, downloads and the
/// outbox share the slots), each within [`PDF_RENDER_BUDGET`]. A client that hangs up cannot
/// leave more renders running than there are slots, and none runs past its budget.
pub async fn render_pdf(inv: invoice_pdf::Invoice) -> Result<Vec<u8>, AppError> {
    use std::sync::OnceLock;
    use tokio::sync::Semaphore;
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        Semaphore::new(
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
        )
    });
    let permit = take_slot(slots, PDF_QUEUE_WAIT).await?;
    let deadline = std::time::Instant::now() + PDF_RENDER_BUDGET;
    let number = inv.number.clone();
    let rendered = tokio::task::spawn_blocking(move || {
        let _permit = permit; // held until the render ends, even if the request is gone
        invoice_pdf::render_within(&inv, deadline)
    })
    .await
    .map_err(AppError::internal)?;
    rendered.map_err(|e| AppError::internal(format_args!("PDF of invoice {number}: {e}")))
}

/// A render slot, or [`AppError::Busy`] when none frees up within `wait`.
async fn take_slot(
    slots: &'static tokio::sync::Semaphore,
    wait: std::time::Duration,
) -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(wait, slots.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(e)) => Err(AppError::internal(format_args!("PDF slots closed: {e}"))),
        Err(_) => {
            tracing::warn!("every PDF slot stayed busy for {wait:?}");
            Err(AppError::Busy {
                retry_after_secs: 5,
            })
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_render_queue_answers_busy_and_frees_up() {
        static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        let wait = std::time::Duration::from_millis(50);
        let held = take_slot(&SLOTS, wait).await.expect("a free slot");
        let e = take_slot(&SLOTS, wait).await.unwrap_err();
        assert!(matches!(e, AppError::Busy { .. }), "{e:?}");
        assert_eq!(e.status_code(), 503);
        drop(held);
        assert!(take_slot(&SLOTS, wait).await.is_ok(), "the slot is back");
    }
}
