//! Times the worst-case invoice (every field at the app's limits):
//! `cargo run --release -p invoice-pdf --example worst_case -- [iterations] [out.pdf] [note_chars]`
//! → prints `worst_case_median_ms=… p95_ms=… bytes=…`.
//!
//! With `note_chars`, the notes are replaced by one unbroken word of that many characters, past
//! the app's limit: the input that took 10.5 s at 100,000 characters before the layout was made
//! linear (`-- 3 "" 100000`).
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .max(1);
    let mut inv = invoice_pdf::worst_case_invoice();
    if let Some(chars) = args.get(2).and_then(|s| s.parse::<usize>().ok()) {
        inv.notes = Some("x".repeat(chars));
    }
    let pdf = invoice_pdf::render(&inv).expect("render"); // warm-up: fonts load once per process
    if let Some(out) = args.get(1).filter(|o| !o.is_empty()) {
        std::fs::write(out, &pdf).expect("write");
    }
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(invoice_pdf::render(std::hint::black_box(&inv)).unwrap());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "worst_case_median_ms={:.3} p95_ms={:.3} bytes={} iterations={n}",
        times[n / 2],
        times[n * 95 / 100],
        pdf.len()
    );
}
