//! Times the native renderer and writes the same invoice as HTML, for `scripts/bench-pdf.sh`,
//! which prints it to PDF with Chromium in the same run.
//! Usage: compare <out.html> <out.pdf> [iterations]  → prints `native_median_ms=… native_bytes=…`
use std::time::Instant;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html(inv: &invoice_pdf::Invoice) -> String {
    let rows: String = inv
        .items
        .iter()
        .map(|i| format!("<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>", esc(&i.description), esc(&i.quantity), esc(&i.unit_price), esc(&i.tax_rate), esc(&i.amount)))
        .collect();
    format!(
        r#"<!doctype html><html><head><meta charset=utf-8><style>
@page {{ size: A4; margin: 50pt }} body {{ font-family: 'Noto Sans', sans-serif; color: #1c2430; font-size: 9pt }}
h1 {{ text-align: right; font-size: 20pt; margin: 0 }} .biz {{ color: #0f5c4d; font-size: 16pt; font-weight: bold }}
table {{ width: 100%; border-collapse: collapse; margin-top: 18pt }} th {{ background: #eef2f5; text-align: left }}
td, th {{ padding: 4pt }} .n {{ text-align: right }} tr {{ border-bottom: .5pt solid #c8ced6 }}
</style></head><body>
<div class=biz>{biz}</div><div>{blines}</div><h1>INVOICE</h1>
<p>Invoice number <b>{num}</b><br>Issue date <b>{issue}</b><br>Due date <b>{due}</b><br>Status <b>{status}</b><br>Currency <b>{cur}</b></p>
<p><small>BILL TO</small><br><b>{tenant}</b><br>{tlines}</p>
<table><tr><th>Description</th><th class=n>Qty</th><th class=n>Unit price</th><th class=n>Tax</th><th class=n>Amount</th></tr>{rows}</table>
<p class=n>Subtotal {sub}<br>Tax {tax}<br><b>Total due {total}</b></p>
<p><b>How to pay</b><br>{pay}</p><p><b>Notes</b><br>{notes}</p></body></html>"#,
        biz = esc(&inv.business.name),
        blines = inv
            .business
            .lines
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>"),
        num = esc(&inv.number),
        issue = esc(&inv.issue_date),
        due = esc(&inv.due_date),
        status = esc(&inv.status),
        cur = esc(&inv.currency),
        tenant = esc(&inv.tenant.name),
        tlines = inv
            .tenant
            .lines
            .iter()
            .map(|l| esc(l))
            .collect::<Vec<_>>()
            .join("<br>"),
        sub = esc(&inv.subtotal),
        tax = esc(&inv.tax),
        total = esc(&inv.total),
        pay = esc(inv.payment_instructions.as_deref().unwrap_or("")),
        notes = esc(inv.notes.as_deref().unwrap_or("")),
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (html_path, pdf_path) = (
        args.first().expect("out.html"),
        args.get(1).expect("out.pdf"),
    );
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let inv = invoice_pdf::sample_invoice();
    std::fs::write(html_path, html(&inv)).unwrap();
    let pdf = invoice_pdf::render(&inv).unwrap(); // warm-up: fonts load once per process
    std::fs::write(pdf_path, &pdf).unwrap();
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(invoice_pdf::render(std::hint::black_box(&inv)).unwrap());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "native_median_ms={:.3} native_p95_ms={:.3} native_bytes={} iterations={n}",
        times[n / 2],
        times[n * 95 / 100],
        pdf.len()
    );
}
