//! Invoice PDFs, rendered natively: no browser, no external service.
//!
//! - [krilla](https://docs.rs/krilla) writes the PDF: embedded, subset fonts with ToUnicode maps,
//!   so the text can be searched and extracted.
//! - Text is shaped with rustybuzz, so Arabic joins and Devanagari clusters form correctly.
//! - Each run of text uses the Noto font for its script (Latin, Cyrillic and Greek; Arabic;
//!   Devanagari); the fonts are embedded in the binary.
//! - The output is deterministic: the same invoice gives the same bytes.
//!
//! The caller passes text that is already formatted (amounts, dates), so this crate knows nothing
//! about money or locales; it only lays out and draws.

use krilla::{
    color::rgb,
    geom::{PathBuilder, Point, Rect, Transform},
    num::NormalizedF32,
    page::PageSettings,
    paint::{Fill, FillRule, Stroke},
    text::{Font, GlyphId, KrillaGlyph},
    Document,
};
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    A4,
    Letter,
}

impl Paper {
    /// Letter in the Americas countries that use it, A4 everywhere else.
    pub fn for_country(iso2: &str) -> Paper {
        const LETTER: [&str; 12] = [
            "US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PA", "DO", "PR",
        ];
        if LETTER.iter().any(|c| c.eq_ignore_ascii_case(iso2.trim())) {
            Paper::Letter
        } else {
            Paper::A4
        }
    }

    fn size(self) -> (f32, f32) {
        match self {
            Paper::A4 => (595.28, 841.89),
            Paper::Letter => (612.0, 792.0),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Party {
    pub name: String,
    /// Address lines, email, phone, tax id: one per line, empty ones skipped.
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LineItem {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub tax_rate: String,
    pub amount: String,
}

/// Everything printed on an invoice, already formatted.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    pub paper: Paper,
    pub number: String,
    pub status: String,
    /// Printed large and faint across each page (e.g. `PAID`, `VOID`).
    pub watermark: Option<String>,
    pub business: Party,
    pub tenant: Party,
    pub issue_date: String,
    pub due_date: String,
    pub currency: String,
    pub items: Vec<LineItem>,
    pub subtotal: String,
    pub tax: String,
    pub total: String,
    pub payment_instructions: Option<String>,
    pub notes: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

// ---- fonts and shaping ----------------------------------------------------------------------------

static REGULAR: &[u8] = include_bytes!("../fonts/NotoSans-Regular.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/NotoSans-Bold.ttf");
static ARABIC: &[u8] = include_bytes!("../fonts/NotoSansArabic-Regular.ttf");
static DEVANAGARI: &[u8] = include_bytes!("../fonts/NotoSansDevanagari-Regular.ttf");

/// The embedded fonts, for serving to browsers too (so web pages show the same scripts as the
/// PDFs on machines without those system fonts): `noto-sans-arabic`, `noto-sans-devanagari`.
pub fn web_font(name: &str) -> Option<&'static [u8]> {
    match name {
        "noto-sans-arabic" => Some(ARABIC),
        "noto-sans-devanagari" => Some(DEVANAGARI),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Face {
    Regular,
    Bold,
    Arabic,
    Devanagari,
}

struct Loaded {
    pdf: Font,
    shaper: rustybuzz::Face<'static>,
}

struct Fonts([Loaded; 4]);

fn fonts() -> &'static Fonts {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    FONTS.get_or_init(|| {
        let load = |bytes: &'static [u8]| Loaded {
            pdf: Font::new(bytes.into(), 0).expect("embedded font parses"),
            shaper: rustybuzz::Face::from_slice(bytes, 0).expect("embedded font parses"),
        };
        Fonts([load(REGULAR), load(BOLD), load(ARABIC), load(DEVANAGARI)])
    })
}

impl Face {
    fn loaded(self) -> &'static Loaded {
        &fonts().0[self as usize]
    }
}

/// Shaping plans (the font's features compiled for a direction and script): compiling one costs
/// more than shaping a short string, and an invoice needs only a handful, so they are kept.
fn plan(
    face: Face,
    direction: rustybuzz::Direction,
    script: Option<rustybuzz::Script>,
) -> std::sync::Arc<rustybuzz::ShapePlan> {
    type Key = (Face, rustybuzz::Direction, Option<rustybuzz::Script>);
    static PLANS: OnceLock<
        std::sync::Mutex<std::collections::HashMap<Key, std::sync::Arc<rustybuzz::ShapePlan>>>,
    > = OnceLock::new();
    let mut plans = PLANS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    plans
        .entry((face, direction, script))
        .or_insert_with(|| {
            std::sync::Arc::new(rustybuzz::ShapePlan::new(
                &face.loaded().shaper,
                direction,
                script,
                None,
                &[],
            ))
        })
        .clone()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Arabic,
    Devanagari,
    Other,
}

fn script(c: char) -> Option<Script> {
    match c as u32 {
        0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Some(Script::Arabic)
        }
        0x0900..=0x097F | 0xA8E0..=0xA8FF | 0x1CD0..=0x1CFF => Some(Script::Devanagari),
        // Spaces, digits and punctuation belong to whichever run they are in.
        _ if c.is_whitespace() || c.is_ascii_punctuation() || c.is_ascii_digit() => None,
        _ => Some(Script::Other),
    }
}

/// A piece of text shaped with one font: glyphs with advances in em.
#[derive(Debug, Clone)]
struct Run {
    face: Face,
    text: String,
    glyphs: Vec<KrillaGlyph>,
    width_em: f32,
}

/// Splits `text` into runs by script and shapes each with the matching font.
fn shape(text: &str, base: Face) -> Vec<Run> {
    let face_for = |s: Script| match s {
        Script::Arabic => Face::Arabic,
        Script::Devanagari => Face::Devanagari,
        Script::Other => base,
    };
    let mut pieces: Vec<(Script, String)> = Vec::new();
    for c in text.chars() {
        // A neutral character joins the current run only if that run's font has a glyph for it
        // (Noto Sans Arabic has no "/", for example); otherwise it starts a base-font run.
        let s = script(c).or_else(|| match pieces.last() {
            Some((cur, _)) if face_for(*cur).loaded().shaper.glyph_index(c).is_some() => None,
            Some(_) => Some(Script::Other),
            None => None,
        });
        match (pieces.last_mut(), s) {
            (Some((_, buf)), None) => buf.push(c),
            (Some((cur, buf)), Some(s)) if *cur == s => buf.push(c),
            (_, s) => pieces.push((s.unwrap_or(Script::Other), c.to_string())),
        }
    }
    pieces
        .into_iter()
        .map(|(s, piece)| {
            let face = face_for(s);
            let loaded = face.loaded();
            let upem = loaded.shaper.units_per_em() as f32;
            let mut buffer = rustybuzz::UnicodeBuffer::new();
            buffer.push_str(&piece);
            buffer.guess_segment_properties();
            let plan = plan(face, buffer.direction(), Some(buffer.script()));
            let out = rustybuzz::shape_with_plan(&loaded.shaper, &plan, buffer);
            let infos = out.glyph_infos();
            let positions = out.glyph_positions();
            // Cluster boundaries, to map every glyph back to its characters (for ToUnicode).
            let mut starts: Vec<usize> = infos.iter().map(|i| i.cluster as usize).collect();
            starts.sort_unstable();
            starts.dedup();
            let end_of = |start: usize| {
                starts
                    .iter()
                    .find(|&&s| s > start)
                    .copied()
                    .unwrap_or(piece.len())
            };
            let mut width = 0.0;
            let glyphs = infos
                .iter()
                .zip(positions)
                .map(|(info, pos)| {
                    let start = info.cluster as usize;
                    width += pos.x_advance as f32 / upem;
                    KrillaGlyph::new(
                        GlyphId::new(info.glyph_id),
                        pos.x_advance as f32 / upem,
                        pos.x_offset as f32 / upem,
                        pos.y_offset as f32 / upem,
                        pos.y_advance as f32 / upem,
                        start..end_of(start),
                        None,
                    )
                })
                .collect();
            // (rustybuzz returns right-to-left runs in visual order already.)
            Run {
                face,
                text: piece,
                glyphs,
                width_em: width,
            }
        })
        .collect()
}

// ---- layout ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Color(u8, u8, u8);

const INK: Color = Color(28, 36, 48);
const MUTED: Color = Color(91, 102, 117);
const BRAND: Color = Color(15, 92, 77);
const RULE: Color = Color(200, 206, 214);

#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        color: Color,
        runs: Vec<Run>,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Color,
    },
    Band {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Color,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

struct Layout {
    width: f32,
    height: f32,
    margin: f32,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl Layout {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    /// Draws one line of text with its baseline at `y`; returns its width.
    fn text(
        &mut self,
        x: f32,
        y: f32,
        text: &str,
        face: Face,
        size: f32,
        color: Color,
        align: Align,
    ) -> f32 {
        let runs = shape(text, face);
        let w: f32 = runs.iter().map(|r| r.width_em).sum::<f32>() * size;
        let x = if align == Align::Right { x - w } else { x };
        self.ops().push(Op::Text {
            x,
            y,
            size,
            color,
            runs,
        });
        w
    }

    fn measure(text: &str, face: Face, size: f32) -> f32 {
        shape(text, face).iter().map(|r| r.width_em).sum::<f32>() * size
    }

    /// Greedy word wrap to `width`; very long words are kept whole on their own line.
    fn wrap(text: &str, face: Face, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.lines() {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_string()
                } else {
                    format!("{line} {word}")
                };
                if !line.is_empty() && Self::measure(&candidate, face, size) > width {
                    lines.push(std::mem::take(&mut line));
                    line = word.to_string();
                } else {
                    line = candidate;
                }
            }
            lines.push(line);
        }
        lines
    }

    fn rule(&mut self, y: f32, color: Color, width: f32) {
        let (x1, x2) = (self.margin, self.width - self.margin);
        self.ops().push(Op::Line {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
            color,
        });
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = self.margin;
    }

    fn bottom(&self) -> f32 {
        self.height - self.margin - 20.0
    }
}

struct Columns {
    desc: (f32, f32),
    qty: f32,
    unit: f32,
    tax: f32,
    amount: f32,
}

fn table_header(l: &mut Layout, c: &Columns) {
    let y = l.y;
    let band = Op::Band {
        x: l.margin,
        y: y - 11.0,
        w: l.width - 2.0 * l.margin,
        h: 17.0,
        color: Color(238, 242, 245),
    };
    l.ops().push(band);
    l.text(
        c.desc.0 + 4.0,
        y + 1.0,
        "Description",
        Face::Bold,
        8.5,
        INK,
        Align::Left,
    );
    l.text(c.qty, y + 1.0, "Qty", Face::Bold, 8.5, INK, Align::Right);
    l.text(
        c.unit,
        y + 1.0,
        "Unit price",
        Face::Bold,
        8.5,
        INK,
        Align::Right,
    );
    l.text(c.tax, y + 1.0, "Tax", Face::Bold, 8.5, INK, Align::Right);
    l.text(
        c.amount,
        y + 1.0,
        "Amount",
        Face::Bold,
        8.5,
        INK,
        Align::Right,
    );
    l.y += 20.0;
}

fn layout(inv: &Invoice) -> Layout {
    let (width, height) = inv.paper.size();
    let margin = 50.0;
    let mut l = Layout {
        width,
        height,
        margin,
        pages: vec![Vec::new()],
        y: margin + 8.0,
    };
    let right = width - margin;

    // Header: the business on the left, the invoice's facts on the right.
    let top = l.y + 10.0;
    l.text(
        margin,
        top,
        &inv.business.name,
        Face::Bold,
        16.0,
        BRAND,
        Align::Left,
    );
    let mut y = top + 16.0;
    for line in inv.business.lines.iter().filter(|s| !s.trim().is_empty()) {
        l.text(margin, y, line, Face::Regular, 9.0, MUTED, Align::Left);
        y += 12.0;
    }
    l.text(right, top, "INVOICE", Face::Bold, 20.0, INK, Align::Right);
    let facts = [
        ("Invoice number", inv.number.as_str()),
        ("Issue date", inv.issue_date.as_str()),
        ("Due date", inv.due_date.as_str()),
        ("Status", inv.status.as_str()),
        ("Currency", inv.currency.as_str()),
    ];
    let mut fy = top + 20.0;
    for (label, value) in facts {
        l.text(
            right - 110.0,
            fy,
            label,
            Face::Regular,
            8.5,
            MUTED,
            Align::Right,
        );
        l.text(right, fy, value, Face::Bold, 9.0, INK, Align::Right);
        fy += 12.5;
    }
    l.y = y.max(fy) + 14.0;

    // Bill to.
    l.text(margin, l.y, "BILL TO", Face::Bold, 8.0, MUTED, Align::Left);
    l.y += 15.0;
    l.text(
        margin,
        l.y,
        &inv.tenant.name,
        Face::Bold,
        12.0,
        INK,
        Align::Left,
    );
    l.y += 14.0;
    for line in inv.tenant.lines.iter().filter(|s| !s.trim().is_empty()) {
        l.text(margin, l.y, line, Face::Regular, 9.0, INK, Align::Left);
        l.y += 12.0;
    }
    l.y += 18.0;

    // Line items.
    let c = Columns {
        desc: (margin, right - 250.0),
        qty: right - 205.0,
        unit: right - 130.0,
        tax: right - 80.0,
        amount: right - 4.0,
    };
    table_header(&mut l, &c);
    let desc_width = c.desc.1 - c.desc.0 - 8.0;
    for item in &inv.items {
        let lines = Layout::wrap(&item.description, Face::Regular, 9.0, desc_width);
        let h = 12.0 * lines.len() as f32 + 6.0;
        if l.y + h > l.bottom() {
            l.new_page();
            l.y += 10.0;
            table_header(&mut l, &c);
        }
        let y0 = l.y;
        for (i, line) in lines.iter().enumerate() {
            l.text(
                c.desc.0 + 4.0,
                y0 + 12.0 * i as f32,
                line,
                Face::Regular,
                9.0,
                INK,
                Align::Left,
            );
        }
        l.text(
            c.qty,
            y0,
            &item.quantity,
            Face::Regular,
            9.0,
            INK,
            Align::Right,
        );
        l.text(
            c.unit,
            y0,
            &item.unit_price,
            Face::Regular,
            9.0,
            INK,
            Align::Right,
        );
        l.text(
            c.tax,
            y0,
            &item.tax_rate,
            Face::Regular,
            9.0,
            INK,
            Align::Right,
        );
        l.text(
            c.amount,
            y0,
            &item.amount,
            Face::Regular,
            9.0,
            INK,
            Align::Right,
        );
        l.y += h;
        let ry = l.y - 9.0;
        l.rule(ry, RULE, 0.5);
        l.y += 4.0;
    }

    // Totals.
    if l.y + 70.0 > l.bottom() {
        l.new_page();
    }
    l.y += 6.0;
    for (label, value, face, size) in [
        ("Subtotal", inv.subtotal.as_str(), Face::Regular, 9.5),
        ("Tax", inv.tax.as_str(), Face::Regular, 9.5),
        ("Total due", inv.total.as_str(), Face::Bold, 12.0),
    ] {
        l.text(c.tax, l.y, label, face, size, INK, Align::Right);
        l.text(c.amount, l.y, value, face, size, INK, Align::Right);
        l.y += size + 6.0;
    }
    l.y += 14.0;

    // Payment instructions and notes.
    for (title, body) in [
        ("How to pay", &inv.payment_instructions),
        ("Notes", &inv.notes),
    ] {
        let Some(body) = body.as_deref().filter(|b| !b.trim().is_empty()) else {
            continue;
        };
        let lines = Layout::wrap(body, Face::Regular, 9.0, width - 2.0 * margin);
        if l.y + 16.0 + 12.0 * lines.len().min(4) as f32 > l.bottom() {
            l.new_page();
        }
        l.text(margin, l.y, title, Face::Bold, 9.5, INK, Align::Left);
        l.y += 14.0;
        for line in lines {
            if l.y > l.bottom() {
                l.new_page();
            }
            l.text(margin, l.y, &line, Face::Regular, 9.0, INK, Align::Left);
            l.y += 12.0;
        }
        l.y += 10.0;
    }
    l
}

// ---- drawing ---------------------------------------------------------------------------------------

fn fill(c: Color, opacity: f32) -> Fill {
    Fill {
        paint: rgb::Color::new(c.0, c.1, c.2).into(),
        opacity: NormalizedF32::new(opacity).unwrap_or(NormalizedF32::ONE),
        rule: FillRule::default(),
    }
}

fn draw_text(
    surface: &mut krilla::surface::Surface,
    x: f32,
    y: f32,
    size: f32,
    color: Color,
    runs: &[Run],
    opacity: f32,
) {
    surface.set_fill(Some(fill(color, opacity)));
    let mut x = x;
    for run in runs {
        let loaded = run.face.loaded();
        surface.draw_glyphs(
            Point::from_xy(x, y),
            &run.glyphs,
            loaded.pdf.clone(),
            &run.text,
            size,
            false,
        );
        x += run.width_em * size;
    }
}

/// Renders the invoice to PDF bytes.
pub fn render(inv: &Invoice) -> Result<Vec<u8>, RenderError> {
    let l = layout(inv);
    let total_pages = l.pages.len();
    let mut document = Document::new();
    for (index, ops) in l.pages.iter().enumerate() {
        let mut page = document.start_page_with(
            PageSettings::from_wh(l.width, l.height).expect("a positive page size"),
        );
        let mut surface = page.surface();

        if let Some(mark) = inv.watermark.as_deref().filter(|m| !m.is_empty()) {
            let runs = shape(mark, Face::Bold);
            let size = 110.0;
            let w = runs.iter().map(|r| r.width_em).sum::<f32>() * size;
            surface.push_transform(&Transform::from_rotate_at(
                -35.0,
                l.width / 2.0,
                l.height / 2.0,
            ));
            draw_text(
                &mut surface,
                (l.width - w) / 2.0,
                l.height / 2.0 + size * 0.35,
                size,
                Color(180, 35, 24),
                &runs,
                0.12,
            );
            surface.pop();
        }

        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    color,
                    runs,
                } => draw_text(&mut surface, *x, *y, *size, *color, runs, 1.0),
                Op::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                    color,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(color.0, color.1, color.2).into(),
                            width: *width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
                Op::Band { x, y, w, h, color } => {
                    let mut pb = PathBuilder::new();
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        pb.push_rect(rect);
                    }
                    if let Some(path) = pb.finish() {
                        surface.set_stroke(None);
                        surface.set_fill(Some(fill(*color, 1.0)));
                        surface.draw_path(&path);
                    }
                }
            }
        }

        // Footer.
        let footer = format!(
            "{} · Invoice {} · Page {} of {}",
            inv.business.name,
            inv.number,
            index + 1,
            total_pages
        );
        let runs = shape(&footer, Face::Regular);
        draw_text(
            &mut surface,
            l.margin,
            l.height - l.margin + 10.0,
            7.5,
            MUTED,
            &runs,
            1.0,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| RenderError::Write(format!("{e:?}")))
}

/// A typical invoice, for benchmarks and examples.
#[doc(hidden)]
pub fn sample_invoice() -> Invoice {
    Invoice {
            paper: Paper::A4,
            number: "INV-2026-0042".into(),
            status: "Issued".into(),
            watermark: None,
            business: Party { name: "Silva Lettings".into(), lines: vec!["12 Harbour Road".into(), "Bristol BS1 4QA".into(), "VAT GB123456789".into()] },
            tenant: Party { name: "Ana Pereira".into(), lines: vec!["Harbour View, Flat 2".into(), "+44 7911 123456".into()] },
            issue_date: "1 Nov 2026".into(),
            due_date: "15 Nov 2026".into(),
            currency: "GBP".into(),
            items: vec![
                LineItem { description: "Rent, November 2026".into(), quantity: "1".into(), unit_price: "£950.00".into(), tax_rate: "0%".into(), amount: "£950.00".into() },
                LineItem { description: "Cleaning of common areas".into(), quantity: "2".into(), unit_price: "£25.00".into(), tax_rate: "20%".into(), amount: "£50.00".into() },
            ],
            subtotal: "£1,000.00".into(),
            tax: "£10.00".into(),
            total: "£1,010.00".into(),
            payment_instructions: Some("Bank transfer to Silva Lettings, sort code 12-34-56, account 12345678. Use the invoice number as reference.".into()),
            notes: Some("Thank you!".into()),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Invoice {
        sample_invoice()
    }

    #[test]
    fn renders_a_small_deterministic_pdf() {
        let a = render(&sample()).unwrap();
        let b = render(&sample()).unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b, "same invoice, same bytes");
        assert!(a.len() < 60_000, "{} bytes", a.len());
    }

    #[test]
    fn splits_runs_by_script() {
        let runs = shape("Ana محمد / अनीता", Face::Regular);
        let faces: Vec<Face> = runs.iter().map(|r| r.face).collect();
        assert_eq!(
            faces,
            [Face::Regular, Face::Arabic, Face::Regular, Face::Devanagari],
            "the slash is not in the Arabic font"
        );
        assert!(
            runs.iter()
                .all(|r| r.glyphs.iter().all(|g| g.glyph_id != GlyphId::new(0))),
            "no missing glyphs"
        );
    }

    #[test]
    fn many_lines_flow_onto_more_pages() {
        let mut inv = sample();
        inv.items = (0..120).map(|i| LineItem { description: format!("Item {i} with a description long enough to wrap onto a second line in the table"), quantity: "1".into(), unit_price: "£1.00".into(), tax_rate: "0%".into(), amount: "£1.00".into() }).collect();
        assert!(layout(&inv).pages.len() >= 3);
        render(&inv).unwrap();
    }

    #[test]
    fn paper_by_country() {
        assert_eq!(Paper::for_country("us"), Paper::Letter);
        assert_eq!(Paper::for_country("GB"), Paper::A4);
        assert_eq!(Paper::for_country("DE"), Paper::A4);
    }
}
