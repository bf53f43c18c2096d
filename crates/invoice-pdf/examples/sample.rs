//! Writes a sample invoice: `cargo run -p invoice-pdf --example sample -- out.pdf ["Tenant name"] [PAID]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .cloned()
        .unwrap_or_else(|| "invoice.pdf".into());
    let mut inv = invoice_pdf::sample_invoice();
    if let Some(name) = args.get(1) {
        inv.tenant.name = name.clone();
    }
    inv.watermark = args.get(2).cloned();
    std::fs::write(&out, invoice_pdf::render(&inv).expect("render")).expect("write");
    println!("{out}");
}
