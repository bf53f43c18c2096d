//! Sample data for a newcomer.

use super::{
    invoices::{next_number, save_invoice, set_status},
    profile::profile,
    properties::{properties, save_property},
    tenants::{save_tenant, TenantInput},
};
use crate::{
    error::AppError,
    invoices::{money::LineInput, types::*},
    platform::db::Db,
};

/// Sample data for a newcomer: properties, tenants with sandbox-friendly numbers (one that the
/// sandbox marks undeliverable), and invoices in every status.
pub async fn load_sample_data(db: &Db, user_id: i64) -> Result<(), AppError> {
    let p1 = save_property(
        db,
        user_id,
        None,
        "Harbour View",
        "12 Harbour Road\nBristol BS1 4QA",
        "Flat 1\nFlat 2\nFlat 3",
    )
    .await?;
    let p2 = save_property(
        db,
        user_id,
        None,
        "Mill Lane Cottages",
        "3 Mill Lane\nBath BA1 2QT",
        "No. 3\nNo. 5",
    )
    .await?;
    let props = properties(db, user_id).await?;
    let unit = |pid: i64, name: &str| {
        props
            .iter()
            .find(|p| p.id == pid)
            .and_then(|p| p.units.iter().find(|u| u.name == name))
            .map(|u| u.id)
    };
    let people = [
        (
            "Ana Pereira",
            "+44 7911 123456",
            "ana.pereira@example.com",
            p1,
            "Flat 1",
        ),
        (
            "محمد الأحمد",
            "+44 7911 123457",
            "m.alahmad@example.com",
            p1,
            "Flat 2",
        ),
        ("Иван Петров", "+44 7911 123458", "", p1, "Flat 3"),
        (
            "अनीता शर्मा",
            "+44 7911 123459",
            "anita@example.com",
            p2,
            "No. 3",
        ),
        ("Tom Undeliverable", "+44 7911 120000", "", p2, "No. 5"),
        (
            "Grace Landline",
            "+44 117 496 0123",
            "grace@example.com",
            p2,
            "No. 5",
        ),
        ("Noor No-Phone", "", "noor@example.com", p1, "Flat 2"),
    ];
    let mut tenant_ids = Vec::new();
    for (name, phone, email, pid, unit_name) in people {
        let input = TenantInput {
            name: name.into(),
            phone: phone.into(),
            email: email.into(),
            property_id: Some(pid),
            unit_id: unit(pid, unit_name),
        };
        tenant_ids.push(save_tenant(db, user_id, None, &input).await?);
    }
    let currency = profile(db, user_id).await?.default_currency;
    let today = time::OffsetDateTime::now_utc().date();
    let plan: [(i64, i64, Option<Status>, &str); 8] = [
        (0, -40, Some(Status::Paid), "950"),
        (1, -20, None, "875"), // issued, overdue
        (2, 10, None, "1020"), // issued, due soon
        (3, 20, Some(Status::Draft), "640.50"),
        (4, 5, None, "780"),
        (5, -70, Some(Status::Void), "99"),
        (6, 12, None, "910"),
        (0, 25, None, "950"),
    ];
    for (tenant, due_in, status, rent) in plan {
        let issue = today + time::Duration::days(due_in - 14);
        let due = today + time::Duration::days(due_in);
        let draft = InvoiceDraft {
            id: None,
            number: next_number(db, user_id).await?,
            tenant_id: Some(tenant_ids[tenant as usize]),
            issue_date: issue.to_string(),
            due_date: due.to_string(),
            currency: currency.clone(),
            notes: "Thank you for paying on time.".into(),
            lines: vec![
                LineInput {
                    description: format!("Rent, {}", due.month()),
                    quantity: "1".into(),
                    unit_price: rent.into(),
                    tax_rate: "0".into(),
                },
                LineInput {
                    description: "Cleaning of common areas".into(),
                    quantity: "1".into(),
                    unit_price: "25".into(),
                    tax_rate: "20".into(),
                },
            ],
        };
        let id = save_invoice(db, user_id, &draft, status != Some(Status::Draft)).await?;
        if let Some(s @ (Status::Paid | Status::Void)) = status {
            set_status(db, user_id, id, s).await?;
        }
    }
    Ok(())
}
