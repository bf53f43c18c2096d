//! Server functions for invoices, tenants, properties and the business profile. Each checks the
//! session and hands the signed-in user's id to the server layer, which scopes every query to it.

use super::{money::LineInput, types::*};
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
fn opt_id(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

#[server(endpoint = "invoices/list")]
pub async fn list_invoices(
    page: i64,
    sort: String,
    dir: String,
    q: String,
    status: String,
) -> Result<InvoiceList, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::list(
            &st.db,
            user,
            ListQuery {
                page,
                sort,
                dir,
                q,
                status,
            },
        )
        .await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "invoices/detail")]
pub async fn get_invoice(id: i64) -> Result<InvoiceDetail, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::detail(&st.db, user, id).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Editor {
    pub draft: InvoiceDraft,
    pub tenants: Vec<TenantView>,
}

#[server(endpoint = "invoices/editor")]
pub async fn invoice_editor(id: Option<i64>) -> Result<Editor, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let draft = match id {
            Some(id) => invoices::draft_of(&st.db, user, id).await?,
            None => invoices::new_draft(&st.db, user).await?,
        };
        Ok(Editor {
            draft,
            tenants: invoices::tenants(&st.db, user).await?,
        })
    }
    .await;
    srv::finish("", &[], result).await
}

#[allow(clippy::too_many_arguments)]
#[server(endpoint = "invoices/save")]
pub async fn save_invoice(
    id: String,
    number: String,
    tenant_id: String,
    issue_date: String,
    due_date: String,
    currency: String,
    notes: String,
    lines: Option<Vec<LineInput>>,
    intent: String,
) -> Result<i64, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let draft = InvoiceDraft {
        id: opt_id(&id),
        number: number.clone(),
        tenant_id: opt_id(&tenant_id),
        issue_date: issue_date.clone(),
        due_date: due_date.clone(),
        currency: currency.clone(),
        notes: notes.clone(),
        lines: lines.unwrap_or_default(),
    };
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let id = invoices::save_invoice(&st.db, user, &draft, intent == "issue").await?;
        leptos_axum::redirect(&format!("/invoices/{id}"));
        Ok(id)
    }
    .await;
    // The lines come back too, under the names the form gives them.
    let line_values: Vec<(String, &str)> = draft
        .lines
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            [
                (format!("lines[{i}][description]"), l.description.as_str()),
                (format!("lines[{i}][quantity]"), l.quantity.as_str()),
                (format!("lines[{i}][unit_price]"), l.unit_price.as_str()),
                (format!("lines[{i}][tax_rate]"), l.tax_rate.as_str()),
            ]
        })
        .collect();
    let mut values = vec![
        ("number", number.as_str()),
        ("tenant_id", tenant_id.as_str()),
        ("issue_date", issue_date.as_str()),
        ("due_date", due_date.as_str()),
        ("currency", currency.as_str()),
        ("notes", notes.as_str()),
    ];
    values.extend(line_values.iter().map(|(k, v)| (k.as_str(), *v)));
    srv::finish("invoice", &values, result).await
}

#[server(endpoint = "invoices/status")]
pub async fn set_invoice_status(id: i64, status: String) -> Result<(), AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let next =
            Status::parse(&status).ok_or_else(|| AppError::invalid("form", "Unknown status."))?;
        invoices::set_status(&st.db, user, id, next).await
    }
    .await;
    srv::finish("invoice-status", &[], result).await
}

#[server(endpoint = "invoices/sample")]
pub async fn load_sample_data() -> Result<(), AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::load_sample_data(&st.db, user).await
    }
    .await;
    srv::finish("sample", &[], result).await
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct People {
    pub tenants: Vec<TenantView>,
    pub properties: Vec<PropertyView>,
}

#[server(endpoint = "tenants/list")]
pub async fn list_people() -> Result<People, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        Ok(People {
            tenants: invoices::tenants(&st.db, user).await?,
            properties: invoices::properties(&st.db, user).await?,
        })
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "tenants/save")]
pub async fn save_tenant(
    id: String,
    name: String,
    phone: String,
    email: String,
    property_id: String,
    unit_id: String,
) -> Result<i64, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        let input = invoices::TenantInput {
            name: name.clone(),
            phone: phone.clone(),
            email: email.clone(),
            property_id: opt_id(&property_id),
            unit_id: opt_id(&unit_id),
        };
        invoices::save_tenant(&st.db, user, opt_id(&id), &input).await
    }
    .await;
    let form = if id.trim().is_empty() {
        "tenant-new".to_string()
    } else {
        format!("tenant-{}", id.trim())
    };
    srv::finish(
        &form,
        &[
            ("name", name.as_str()),
            ("phone", phone.as_str()),
            ("email", email.as_str()),
        ],
        result,
    )
    .await
}

#[server(endpoint = "properties/save")]
pub async fn save_property(
    id: String,
    name: String,
    address: String,
    units: String,
) -> Result<i64, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::save_property(&st.db, user, opt_id(&id), &name, &address, &units).await
    }
    .await;
    let form = if id.trim().is_empty() {
        "property-new".to_string()
    } else {
        format!("property-{}", id.trim())
    };
    srv::finish(
        &form,
        &[
            ("name", name.as_str()),
            ("address", address.as_str()),
            ("units", units.as_str()),
        ],
        result,
    )
    .await
}

#[server(endpoint = "profile/get")]
pub async fn get_business_profile() -> Result<Profile, AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::profile(&st.db, user).await
    }
    .await;
    srv::finish("", &[], result).await
}

#[server(endpoint = "profile/save")]
pub async fn save_business_profile(
    address: String,
    tax_id: String,
    payment_instructions: String,
    default_currency: String,
    default_country: String,
    invoice_prefix: String,
) -> Result<(), AppError> {
    use crate::{invoices::server as invoices, platform::context as srv};
    let p = Profile {
        address,
        tax_id,
        payment_instructions,
        default_currency,
        default_country,
        invoice_prefix,
    };
    let result = async {
        let st = srv::app_state()?;
        let user = srv::require_user_id().await?;
        invoices::save_profile(&st.db, user, &p).await
    }
    .await;
    let values = [
        ("address", p.address.as_str()),
        ("tax_id", p.tax_id.as_str()),
        ("payment_instructions", p.payment_instructions.as_str()),
        ("default_currency", p.default_currency.as_str()),
        ("default_country", p.default_country.as_str()),
        ("invoice_prefix", p.invoice_prefix.as_str()),
    ];
    srv::finish("business-profile", &values, result).await
}
