use criterion::{criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let inv = invoice_pdf::sample_invoice();
    invoice_pdf::render(&inv).unwrap(); // load the fonts once, outside the measurement
    c.bench_function("render a typical invoice", |b| {
        b.iter(|| invoice_pdf::render(std::hint::black_box(&inv)).unwrap())
    });
    let worst = invoice_pdf::worst_case_invoice();
    c.bench_function("render the worst-case invoice", |b| {
        b.iter(|| invoice_pdf::render(std::hint::black_box(&worst)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
