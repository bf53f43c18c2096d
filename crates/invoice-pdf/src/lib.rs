//! Invoice PDFs, rendered natively: no browser, no external service.
//!
//! - [krilla](https://docs.rs/krilla) writes the PDF: embedded, subset fonts with ToUnicode maps,
//!   so the text can be searched and extracted.
//! - Text is shaped with rustybuzz, so Arabic joins and Devanagari clusters form correctly.
//! - Each run of text uses the Noto font for its script (Latin, Cyrillic and Greek; Arabic;
//!   Devanagari); the fonts are embedded in the binary. A character none of them has (an emoji,
//!   say) is drawn as U+FFFD, not as an empty box.
//! - Lines are put in visual order with the Unicode bidi algorithm, so numbers and Latin words
//!   inside Arabic text read correctly; bidi overrides and control characters are removed first.
//! - Every field wraps to its width: at spaces, and inside a word too long for a line between
//!   shaped clusters. Layout is linear in the length of the text, and [`render_within`] bounds
//!   the time a render may take.
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
use std::ops::Range;
use std::sync::OnceLock;
use std::time::Instant;
use unicode_bidi::{Level, ParagraphBidiInfo};
use unicode_segmentation::UnicodeSegmentation;

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
    #[error("rendering took longer than allowed")]
    TimedOut,
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

impl Script {
    /// The face for text in this script: `base` for Latin, Cyrillic, Greek and the rest.
    fn face(self, base: Face) -> Face {
        match self {
            Script::Arabic => Face::Arabic,
            Script::Devanagari => Face::Devanagari,
            Script::Other => base,
        }
    }
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

/// Characters that shaping hides when the font has no glyph for them (Unicode's
/// Default_Ignorable_Code_Point), so they need no glyph: joiners, variation selectors, tags.
fn is_default_ignorable(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Whether `face` has a glyph for every character of `grapheme` that needs one.
fn covers(face: Face, grapheme: &str) -> bool {
    let shaper = &face.loaded().shaper;
    grapheme
        .chars()
        .all(|c| is_default_ignorable(c) || shaper.glyph_index(c).is_some())
}

/// The face for a grapheme: `preferred` if it covers it, else the first embedded face that does.
fn face_covering(preferred: Face, grapheme: &str) -> Option<Face> {
    [
        preferred,
        Face::Regular,
        Face::Bold,
        Face::Arabic,
        Face::Devanagari,
    ]
    .into_iter()
    .find(|&f| covers(f, grapheme))
}

/// Drawn for a character that no embedded font has (emoji, for example): U+FFFD if the Regular
/// font has it, else "?".
fn replacement() -> &'static str {
    if covers(Face::Regular, "\u{FFFD}") {
        "\u{FFFD}"
    } else {
        "?"
    }
}

/// Removes what must not reach layout: C0 and C1 control characters other than newline (a tab
/// becomes a space, the Unicode line and paragraph separators a newline), and the bidi embedding,
/// override, isolate and mark controls, which could make text display in another order than the
/// one it was typed in.
fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\u{2028}' | '\u{2029}' => Some('\n'),
            '\t' => Some(' '),
            '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => None,
            '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' => None,
            '\u{2066}'..='\u{2069}' => None,
            c => Some(c),
        })
        .collect()
}

/// One paragraph (no newlines) ready for layout: runs of whitespace become one space, except
/// no-break spaces, which are kept (they join, say, an amount and its currency); leading and
/// trailing whitespace goes; and every grapheme that no embedded font covers becomes
/// [`replacement`].
fn normalize(paragraph: &str) -> String {
    let mut out = String::with_capacity(paragraph.len());
    let breaking_space =
        |c: char| c.is_whitespace() && !matches!(c, '\u{A0}' | '\u{2007}' | '\u{202F}');
    for word in paragraph.split(breaking_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        for g in word.graphemes(true) {
            let preferred = g.chars().next().and_then(script);
            if face_covering(
                preferred.map_or(Face::Regular, |s| s.face(Face::Regular)),
                g,
            )
            .is_some()
            {
                out.push_str(g);
            } else {
                out.push_str(replacement());
            }
        }
    }
    out
}

/// A piece of text shaped with one font, ready to draw: glyphs in visual order with advances in
/// em, their text ranges into `text`.
#[derive(Debug, Clone)]
struct Run {
    face: Face,
    text: String,
    glyphs: Vec<KrillaGlyph>,
    width_em: f32,
}

/// One line of text in visual order (left to right as drawn).
#[derive(Debug, Clone, Default)]
struct Line {
    runs: Vec<Run>,
    width_em: f32,
}

impl Line {
    /// Adds `other` at the end (on the right) of this line.
    fn append(&mut self, other: Line) {
        self.width_em += other.width_em;
        self.runs.extend(other.runs);
    }
}

/// A stretch of a paragraph with one font and one bidi embedding level, shaped: glyphs in visual
/// order, text ranges into the paragraph.
struct Segment {
    face: Face,
    level: Level,
    glyphs: Vec<KrillaGlyph>,
}

/// The smallest unit a line can be broken between: a shaped cluster (one or more graphemes that
/// shaping joined, such as a Devanagari conjunct or an Arabic ligature).
struct Cluster {
    /// Bytes of the paragraph.
    text: Range<usize>,
    segment: usize,
    /// Glyphs of the segment.
    glyphs: Range<usize>,
    width_em: f32,
    space: bool,
}

/// A normalized paragraph, with its bidi levels resolved, split into segments by font and level,
/// and shaped.
struct Paragraph {
    text: String,
    segments: Vec<Segment>,
    /// In logical (reading) order.
    clusters: Vec<Cluster>,
}

impl Paragraph {
    /// Resolves bidi levels (the base direction from the first strong character, as for `dir=auto`),
    /// picks each grapheme's font by script and coverage, and shapes each segment once.
    fn new(text: String, base: Face) -> Paragraph {
        let levels = ParagraphBidiInfo::new(&text, None).levels;
        // (face, level, byte range), in logical order.
        let mut items: Vec<(Face, Level, Range<usize>)> = Vec::new();
        for (i, g) in text.grapheme_indices(true) {
            let level = levels[i];
            let end = i + g.len();
            // A neutral grapheme joins the current run if it is at the same level and that run's
            // font has a glyph for it (Noto Sans Arabic has no "/", for example); otherwise it is
            // drawn with the base font.
            let face = match (g.chars().next().and_then(script), items.last_mut()) {
                (None, Some((face, l, range))) if *l == level && covers(*face, g) => {
                    range.end = end;
                    continue;
                }
                (s, _) => {
                    face_covering(s.map_or(base, |s| s.face(base)), g).unwrap_or(Face::Regular)
                }
            };
            match items.last_mut() {
                Some((f, l, range)) if *f == face && *l == level => range.end = end,
                _ => items.push((face, level, i..end)),
            }
        }
        let mut segments = Vec::with_capacity(items.len());
        let mut clusters = Vec::with_capacity(text.len());
        for (face, level, range) in items {
            let glyphs = shape_segment(
                &text,
                range,
                face,
                level.is_rtl(),
                segments.len(),
                &mut clusters,
            );
            segments.push(Segment {
                face,
                level,
                glyphs,
            });
        }
        Paragraph {
            text,
            segments,
            clusters,
        }
    }

    /// Greedy line breaking to `max_em`, in one pass over the clusters: at spaces, and inside a
    /// word that does not fit on a line by itself, between clusters. Returns each line's clusters,
    /// without the spaces at its ends.
    fn break_lines(&self, max_em: f32) -> Vec<Range<usize>> {
        let c = &self.clusters;
        let mut lines = Vec::new();
        let mut line: Option<(Range<usize>, f32)> = None;
        let mut i = 0;
        while i < c.len() {
            let mut gap = 0.0;
            while i < c.len() && c[i].space {
                gap += c[i].width_em;
                i += 1;
            }
            let word = i;
            let mut w = 0.0;
            while i < c.len() && !c[i].space {
                w += c[i].width_em;
                i += 1;
            }
            if word == i {
                break;
            }
            if let Some((range, width)) = &mut line {
                if *width + gap + w <= max_em {
                    range.end = i;
                    *width += gap + w;
                    continue;
                }
                lines.push(range.clone());
            }
            // The word starts a line; if it is too wide, it is broken between clusters.
            let (mut start, mut width) = (word, 0.0);
            if w > max_em {
                for (k, cluster) in c.iter().enumerate().take(i).skip(word) {
                    if width + cluster.width_em > max_em && k > start {
                        lines.push(start..k);
                        (start, width) = (k, 0.0);
                    }
                    width += cluster.width_em;
                }
            } else {
                width = w;
            }
            line = Some((start..i, width));
        }
        lines.push(line.map_or(0..0, |(range, _)| range));
        lines
    }

    /// The clusters of one line as runs in visual order: the line's segments reordered by their
    /// embedding levels (rule L2 of the bidi algorithm), so that, say, digits inside Arabic text
    /// keep their left-to-right order.
    fn line(&self, clusters: Range<usize>) -> Line {
        let mut pieces: Vec<Range<usize>> = Vec::new();
        for i in clusters {
            match pieces.last_mut() {
                Some(p) if self.clusters[p.start].segment == self.clusters[i].segment => {
                    p.end = i + 1
                }
                _ => pieces.push(i..i + 1),
            }
        }
        let levels: Vec<Level> = pieces
            .iter()
            .map(|p| self.segments[self.clusters[p.start].segment].level)
            .collect();
        let runs: Vec<Run> = ParagraphBidiInfo::reorder_visual(&levels)
            .into_iter()
            .map(|k| self.run(pieces[k].clone()))
            .collect();
        Line {
            width_em: runs.iter().map(|r| r.width_em).sum(),
            runs,
        }
    }

    /// A run of consecutive clusters of one segment.
    fn run(&self, clusters: Range<usize>) -> Run {
        let (first, last) = (
            &self.clusters[clusters.start],
            &self.clusters[clusters.end - 1],
        );
        let segment = &self.segments[first.segment];
        let offset = first.text.start;
        // A segment's glyphs are in visual order, so its clusters' glyphs run backwards if it is
        // right-to-left.
        let glyphs =
            first.glyphs.start.min(last.glyphs.start)..first.glyphs.end.max(last.glyphs.end);
        Run {
            face: segment.face,
            text: self.text[offset..last.text.end].to_string(),
            glyphs: segment.glyphs[glyphs]
                .iter()
                .map(|g| KrillaGlyph {
                    text_range: g.text_range.start - offset..g.text_range.end - offset,
                    ..g.clone()
                })
                .collect(),
            width_em: self.clusters[clusters].iter().map(|c| c.width_em).sum(),
        }
    }
}

/// Shapes `text[range]` with one font and direction; returns the glyphs in visual order (as
/// rustybuzz gives them) and appends the clusters, in logical order, to `clusters`. Each glyph's
/// text range is its cluster's, found in the same single pass.
fn shape_segment(
    text: &str,
    range: Range<usize>,
    face: Face,
    rtl: bool,
    segment: usize,
    clusters: &mut Vec<Cluster>,
) -> Vec<KrillaGlyph> {
    let loaded = face.loaded();
    let upem = loaded.shaper.units_per_em() as f32;
    let mut buffer = rustybuzz::UnicodeBuffer::new();
    buffer.push_str(&text[range.clone()]);
    buffer.set_direction(if rtl {
        rustybuzz::Direction::RightToLeft
    } else {
        rustybuzz::Direction::LeftToRight
    });
    buffer.guess_segment_properties();
    let plan = plan(face, buffer.direction(), Some(buffer.script()));
    let out = rustybuzz::shape_with_plan(&loaded.shaper, &plan, buffer);
    let mut glyphs: Vec<KrillaGlyph> = out
        .glyph_infos()
        .iter()
        .zip(out.glyph_positions())
        .map(|(info, pos)| {
            let start = range.start + info.cluster as usize;
            KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                pos.x_advance as f32 / upem,
                pos.x_offset as f32 / upem,
                pos.y_offset as f32 / upem,
                pos.y_advance as f32 / upem,
                start..start,
                None,
            )
        })
        .collect();
    // Clusters are monotonic: rising in a left-to-right run, falling in a right-to-left one. So
    // walking the glyphs in logical order, a cluster ends where the next one starts.
    let n = glyphs.len();
    let at = move |k: usize| if rtl { n - 1 - k } else { k };
    let mut k = 0;
    while k < n {
        let start = glyphs[at(k)].text_range.start;
        let (mut j, mut width) = (k, 0.0);
        while j < n && glyphs[at(j)].text_range.start == start {
            width += glyphs[at(j)].x_advance;
            j += 1;
        }
        let end = if j < n {
            glyphs[at(j)].text_range.start
        } else {
            range.end
        };
        for m in k..j {
            glyphs[at(m)].text_range = start..end;
        }
        clusters.push(Cluster {
            text: start..end,
            segment,
            glyphs: if rtl { n - j..n - k } else { k..j },
            width_em: width,
            space: &text[start..end] == " ",
        });
        k = j;
    }
    glyphs
}

/// Cleans `text`, then lays it out in lines no wider than `max_em` (a newline always starts a
/// new line), each in visual order.
fn lines(text: &str, base: Face, max_em: f32) -> Vec<Line> {
    clean(text)
        .split('\n')
        .flat_map(|p| {
            let paragraph = Paragraph::new(normalize(p), base);
            paragraph
                .break_lines(max_em)
                .into_iter()
                .map(|l| paragraph.line(l))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Cleans `text` and lays it out as one line (newlines become spaces), in visual order.
fn shape(text: &str, base: Face) -> Line {
    let paragraph = Paragraph::new(normalize(&clean(text)), base);
    paragraph.line(0..paragraph.clusters.len())
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
        line: Line,
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

/// How a piece of text is drawn.
#[derive(Debug, Clone, Copy)]
struct Style {
    face: Face,
    size: f32,
    color: Color,
    align: Align,
}

impl Style {
    const fn new(face: Face, size: f32, color: Color) -> Style {
        Style {
            face,
            size,
            color,
            align: Align::Left,
        }
    }

    const fn right(self) -> Style {
        Style {
            align: Align::Right,
            ..self
        }
    }

    /// The distance between the baselines of wrapped lines.
    fn leading(self) -> f32 {
        (self.size * 1.35).round()
    }
}

struct Layout {
    width: f32,
    height: f32,
    margin: f32,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// When to give up (see [`render_within`]).
    deadline: Option<Instant>,
}

impl Layout {
    fn ops(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("a page")
    }

    fn check_deadline(&self) -> Result<(), RenderError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(RenderError::TimedOut),
            _ => Ok(()),
        }
    }

    /// Shapes `text` in lines no wider than `width` points.
    fn wrap(&self, text: &str, style: Style, width: f32) -> Result<Vec<Line>, RenderError> {
        self.check_deadline()?;
        Ok(lines(text, style.face, width / style.size))
    }

    /// One line with its baseline at `y`, starting at `x` or, right-aligned, ending there.
    fn text_op(x: f32, y: f32, line: Line, style: Style) -> Op {
        let w = line.width_em * style.size;
        Op::Text {
            x: if style.align == Align::Right {
                x - w
            } else {
                x
            },
            y,
            size: style.size,
            color: style.color,
            line,
        }
    }

    /// Draws `text` wrapped to `width` points (to the left of `x` if right-aligned), the first
    /// baseline at `y`; returns how far below `y` the last baseline is.
    fn text(
        &mut self,
        x: f32,
        y: f32,
        width: f32,
        text: &str,
        style: Style,
    ) -> Result<f32, RenderError> {
        let lines = self.wrap(text, style, width)?;
        let below = lines.len().saturating_sub(1) as f32 * style.leading();
        for (i, line) in lines.into_iter().enumerate() {
            let op = Self::text_op(x, y + i as f32 * style.leading(), line, style);
            self.ops().push(op);
        }
        Ok(below)
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

/// The line-item table: the description's left and right edges, and the right edge of each
/// figure column (figures are right-aligned).
struct Columns {
    desc: (f32, f32),
    qty: f32,
    unit: f32,
    tax: f32,
    amount: f32,
}

impl Columns {
    /// The figure columns' right edges and widths.
    fn figures(&self) -> [(f32, f32); 4] {
        [
            (self.qty, self.qty - self.desc.1 - 4.0),
            (self.unit, self.unit - self.qty - 6.0),
            (self.tax, self.tax - self.unit - 6.0),
            (self.amount, self.amount - self.tax - 6.0),
        ]
    }
}

fn table_header(l: &mut Layout, c: &Columns) -> Result<(), RenderError> {
    let y = l.y;
    let band = Op::Band {
        x: l.margin,
        y: y - 11.0,
        w: l.width - 2.0 * l.margin,
        h: 17.0,
        color: Color(238, 242, 245),
    };
    l.ops().push(band);
    let head = Style::new(Face::Bold, 8.5, INK);
    l.text(
        c.desc.0 + 4.0,
        y + 1.0,
        c.desc.1 - c.desc.0 - 8.0,
        "Description",
        head,
    )?;
    for ((x, w), label) in c
        .figures()
        .into_iter()
        .zip(["Qty", "Unit price", "Tax", "Amount"])
    {
        l.text(x, y + 1.0, w, label, head.right())?;
    }
    l.y += 20.0;
    Ok(())
}

fn layout(inv: &Invoice, deadline: Option<Instant>) -> Result<Layout, RenderError> {
    let (width, height) = inv.paper.size();
    let margin = 50.0;
    let mut l = Layout {
        width,
        height,
        margin,
        pages: vec![Vec::new()],
        y: margin + 8.0,
        deadline,
    };
    let right = width - margin;
    let full = width - 2.0 * margin;
    let body = Style::new(Face::Regular, 9.0, INK);

    // Header: the business on the left, the invoice's facts on the right.
    let top = l.y + 10.0;
    let facts_left = right - 200.0;
    let mut y = top
        + 16.0
        + l.text(
            margin,
            top,
            facts_left - margin,
            &inv.business.name,
            Style::new(Face::Bold, 16.0, BRAND),
        )?;
    for line in inv.business.lines.iter().filter(|s| !s.trim().is_empty()) {
        let muted = Style::new(Face::Regular, 9.0, MUTED);
        y += 12.0 + l.text(margin, y, facts_left - margin, line, muted)?;
    }
    let title = Style::new(Face::Bold, 20.0, INK).right();
    l.text(right, top, right - facts_left, "INVOICE", title)?;
    let facts = [
        ("Invoice number", inv.number.as_str()),
        ("Issue date", inv.issue_date.as_str()),
        ("Due date", inv.due_date.as_str()),
        ("Status", inv.status.as_str()),
        ("Currency", inv.currency.as_str()),
    ];
    let mut fy = top + 20.0;
    for (label, value) in facts {
        let label_style = Style::new(Face::Regular, 8.5, MUTED).right();
        l.text(right - 110.0, fy, 85.0, label, label_style)?;
        let value_style = Style::new(Face::Bold, 9.0, INK).right();
        fy += 12.5 + l.text(right, fy, 104.0, value, value_style)?;
    }
    l.y = y.max(fy) + 14.0;

    // Bill to.
    let label = Style::new(Face::Bold, 8.0, MUTED);
    l.text(margin, l.y, full, "BILL TO", label)?;
    l.y += 15.0;
    let name = Style::new(Face::Bold, 12.0, INK);
    l.y += 14.0 + l.text(margin, l.y, full, &inv.tenant.name, name)?;
    for line in inv.tenant.lines.iter().filter(|s| !s.trim().is_empty()) {
        l.y += 12.0 + l.text(margin, l.y, full, line, body)?;
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
    table_header(&mut l, &c)?;
    let desc_width = c.desc.1 - c.desc.0 - 8.0;
    for item in &inv.items {
        let desc = l.wrap(&item.description, body, desc_width)?;
        let mut figures = Vec::with_capacity(4);
        for ((x, w), text) in c.figures().into_iter().zip([
            &item.quantity,
            &item.unit_price,
            &item.tax_rate,
            &item.amount,
        ]) {
            figures.push((x, l.wrap(text, body, w)?));
        }
        let rows = figures
            .iter()
            .map(|(_, f)| f.len())
            .fold(desc.len(), usize::max);
        let h = 12.0 * rows as f32 + 6.0;
        if l.y + h > l.bottom() {
            l.new_page();
            l.y += 10.0;
            table_header(&mut l, &c)?;
        }
        let y0 = l.y;
        let cells = std::iter::once((c.desc.0 + 4.0, desc, body))
            .chain(figures.into_iter().map(|(x, f)| (x, f, body.right())));
        for (x, lines, style) in cells {
            for (i, line) in lines.into_iter().enumerate() {
                let op = Layout::text_op(x, y0 + 12.0 * i as f32, line, style);
                l.ops().push(op);
            }
        }
        l.y += h;
        let ry = l.y - 9.0;
        l.rule(ry, RULE, 0.5);
        l.y += 4.0;
    }

    // Totals.
    let mut totals = Vec::with_capacity(3);
    for (label, value, face, size) in [
        ("Subtotal", inv.subtotal.as_str(), Face::Regular, 9.5),
        ("Tax", inv.tax.as_str(), Face::Regular, 9.5),
        ("Total due", inv.total.as_str(), Face::Bold, 12.0),
    ] {
        let style = Style::new(face, size, INK).right();
        let value = l.wrap(value, style, c.amount - c.tax - 6.0)?;
        totals.push((label, value, style));
    }
    let h: f32 = totals
        .iter()
        .map(|(_, v, s)| v.len() as f32 * s.leading() + 6.0)
        .sum();
    if l.y + h.max(70.0) > l.bottom() {
        l.new_page();
    }
    l.y += 6.0;
    for (label, value, style) in totals {
        l.text(c.tax, l.y, c.tax - c.desc.0, label, style)?;
        let below = value.len().saturating_sub(1) as f32 * style.leading();
        for (i, line) in value.into_iter().enumerate() {
            let op = Layout::text_op(c.amount, l.y + i as f32 * style.leading(), line, style);
            l.ops().push(op);
        }
        l.y += below + style.size + 6.0;
    }
    l.y += 14.0;

    // Payment instructions and notes.
    for (title, text) in [
        ("How to pay", &inv.payment_instructions),
        ("Notes", &inv.notes),
    ] {
        let Some(text) = text.as_deref().filter(|b| !b.trim().is_empty()) else {
            continue;
        };
        let lines = l.wrap(text, body, full)?;
        if l.y + 16.0 + 12.0 * lines.len().min(4) as f32 > l.bottom() {
            l.new_page();
        }
        l.text(margin, l.y, full, title, Style::new(Face::Bold, 9.5, INK))?;
        l.y += 14.0;
        for line in lines {
            if l.y > l.bottom() {
                l.new_page();
            }
            let op = Layout::text_op(margin, l.y, line, body);
            l.ops().push(op);
            l.y += 12.0;
        }
        l.y += 10.0;
    }

    // Footers, now that the number of pages is known: who and which invoice on the left, in at
    // most two lines (cut short with an ellipsis), the page on the right.
    let total = l.pages.len();
    let footer = Style::new(Face::Regular, 7.5, MUTED);
    let identity = format!("{} · Invoice {}", inv.business.name, inv.number);
    let identity_width = full - 80.0;
    let mut identity_lines = l.wrap(&identity, footer, identity_width)?;
    if identity_lines.len() > 2 {
        let ellipsis = shape("…", footer.face);
        identity_lines = l.wrap(
            &identity,
            footer,
            identity_width - ellipsis.width_em * footer.size,
        )?;
        identity_lines.truncate(2);
        identity_lines[1].append(ellipsis);
    }
    let y = height - margin + 10.0;
    for index in 0..total {
        l.check_deadline()?;
        for (i, line) in identity_lines.iter().enumerate() {
            let op = Layout::text_op(
                margin,
                y + i as f32 * footer.leading(),
                line.clone(),
                footer,
            );
            l.pages[index].push(op);
        }
        let page = shape(&format!("Page {} of {}", index + 1, total), footer.face);
        l.pages[index].push(Layout::text_op(right, y, page, footer.right()));
    }
    Ok(l)
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
    line: &Line,
    opacity: f32,
) {
    surface.set_fill(Some(fill(color, opacity)));
    let mut x = x;
    for run in &line.runs {
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
    render_inner(inv, None)
}

/// Renders the invoice to PDF bytes, or gives up with [`RenderError::TimedOut`] once `deadline`
/// has passed; the deadline is checked before each piece of text is shaped and each page drawn.
pub fn render_within(inv: &Invoice, deadline: Instant) -> Result<Vec<u8>, RenderError> {
    render_inner(inv, Some(deadline))
}

fn render_inner(inv: &Invoice, deadline: Option<Instant>) -> Result<Vec<u8>, RenderError> {
    let l = layout(inv, deadline)?;
    let mark = inv
        .watermark
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| shape(m, Face::Bold));
    let mut document = Document::new();
    for ops in &l.pages {
        l.check_deadline()?;
        let mut page = document.start_page_with(
            PageSettings::from_wh(l.width, l.height).expect("a positive page size"),
        );
        let mut surface = page.surface();

        if let Some(mark) = &mark {
            let size = 110.0;
            let w = mark.width_em * size;
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
                mark,
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
                    line,
                } => draw_text(&mut surface, *x, *y, *size, *color, line, 1.0),
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

/// `chars` characters of `pieces`, repeated: for filling fields to their limits.
fn filled(pieces: &[&str], chars: usize) -> String {
    pieces
        .iter()
        .cycle()
        .flat_map(|p| p.chars())
        .take(chars)
        .collect()
}

/// An invoice with every field at the length the app allows, mixing Latin, Arabic (with
/// digits), Devanagari and Cyrillic, long unbroken words (URLs) and emoji: for benchmarks.
#[doc(hidden)]
pub fn worst_case_invoice() -> Invoice {
    const URL: &str = "https://pay.example.com/axis/invoices/INV-2026-0042/checkout?tenant=ana.pereira&token=0123456789abcdefghijklmnopqrstuvwxyz ";
    const MIX: [&str; 6] = [
        "Rent and service charge for Harbour View, Flat 2 ",
        "فاتورة رقم 2024 بمبلغ 1250 جنيه ٢٠٢٤ ",
        "किराया भुगतान क्षेत्रीय कार्यालय ",
        "Оплата аренды за ноябрь 2026 года ",
        URL,
        "😀 👍🏽 🇬🇧 ",
    ];
    let amount = "£1,000,000,000,000.00";
    let item = |i: usize| LineItem {
        // Every fifth description is one unbroken 300-character word.
        description: match i % 5 {
            0 => filled(&["https://docs.example.com/", "a1b2c3d4e5f6g7h8i9"], 300),
            _ => filled(&MIX[i % 6..], 300),
        },
        quantity: "1,000".into(),
        unit_price: amount.into(),
        tax_rate: "20%".into(),
        amount: amount.into(),
    };
    let mut business_lines: Vec<String> = (0..10).map(|i| filled(&MIX[i % 6..], 50)).collect();
    business_lines.push(filled(&["VAT GB", "1234567890"], 50));
    Invoice {
        paper: Paper::A4,
        number: filled(&["INV-2026-", "0042-ABCDEFGHIJ"], 50),
        status: "Partially paid".into(),
        watermark: Some("OVERDUE".into()),
        business: Party {
            name: filled(&MIX, 200),
            lines: business_lines,
        },
        tenant: Party {
            name: filled(&MIX[1..], 200),
            lines: vec![filled(&MIX[2..], 300), "+44 7911 123456".into()],
        },
        issue_date: "1 Nov 2026".into(),
        due_date: "15 Nov 2026".into(),
        currency: "GBP".into(),
        items: (0..50).map(item).collect(),
        subtotal: amount.into(),
        tax: amount.into(),
        total: amount.into(),
        payment_instructions: Some(filled(&MIX[3..], 1_000)),
        notes: Some(filled(&MIX, 2_000)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> Invoice {
        sample_invoice()
    }

    /// Every text op of a layout: page index, op, width in points.
    fn texts(l: &Layout) -> Vec<(usize, &Op, f32)> {
        l.pages
            .iter()
            .enumerate()
            .flat_map(|(i, ops)| ops.iter().map(move |op| (i, op)))
            .filter_map(|(i, op)| match op {
                Op::Text { size, line, .. } => Some((i, op, line.width_em * size)),
                _ => None,
            })
            .collect()
    }

    /// Asserts that every piece of text lies inside the page's side margins and on the page,
    /// and that no glyph is .notdef.
    fn assert_fits(inv: &Invoice) {
        let l = layout(inv, None).unwrap();
        for (page, op, w) in texts(&l) {
            let Op::Text { x, y, line, .. } = op else {
                unreachable!()
            };
            let text: String = line.runs.iter().map(|r| r.text.as_str()).collect();
            assert!(
                *x >= l.margin - 0.01 && x + w <= l.width - l.margin + 0.01,
                "page {page}: {text:?} spans {x}..{} of {}",
                x + w,
                l.width
            );
            assert!(*y > 0.0 && *y < l.height - 10.0, "{text:?} at y = {y}");
            assert!(
                line.runs
                    .iter()
                    .all(|r| r.glyphs.iter().all(|g| g.glyph_id != GlyphId::new(0))),
                "no missing glyphs in {text:?}"
            );
        }
    }

    fn text_of(line: &Line) -> String {
        line.runs.iter().map(|r| r.text.as_str()).collect()
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
    fn renders_the_worst_case_invoice() {
        let inv = worst_case_invoice();
        let a = render(&inv).unwrap();
        let b = render(&inv).unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b, "same invoice, same bytes");
        assert_fits(&inv);
    }

    #[test]
    fn splits_runs_by_script() {
        let line = shape("Ana محمد / अनीता", Face::Regular);
        let faces: Vec<Face> = line.runs.iter().map(|r| r.face).collect();
        assert_eq!(
            faces,
            [Face::Regular, Face::Arabic, Face::Regular, Face::Devanagari],
            "the slash is not in the Arabic font"
        );
        assert!(
            line.runs
                .iter()
                .all(|r| r.glyphs.iter().all(|g| g.glyph_id != GlyphId::new(0))),
            "no missing glyphs"
        );
    }

    #[test]
    fn long_words_break_to_fit_every_field() {
        let word = filled(&["https://example.com/", "0123456789abcdefghij"], 300);
        let mut inv = sample();
        inv.number = word.clone();
        inv.business.name = word.clone();
        inv.business.lines.push(word.clone());
        inv.tenant.name = word.clone();
        inv.tenant.lines.push(word.clone());
        inv.items[0].description = word.clone();
        inv.items[0].amount = word.clone();
        inv.total = word.clone();
        inv.payment_instructions = Some(format!("Pay at {word} today"));
        inv.notes = Some(word.clone());
        assert_fits(&inv);
        // The broken word keeps all its characters, in order.
        let notes = lines(&word, Face::Regular, 495.0 / 9.0);
        assert!(notes.len() > 1);
        assert_eq!(notes.iter().map(text_of).collect::<String>(), word);
    }

    #[test]
    fn long_words_break_between_clusters() {
        // "क्ष" is one cluster (a conjunct): no line may end in its virama or start after it.
        let word = "क्षत्रिय".repeat(100);
        let lines = lines(&word, Face::Regular, 30.0);
        assert!(lines.len() > 2);
        for line in &lines {
            let text = text_of(line);
            assert!(line.width_em <= 30.0);
            assert!(
                !text.ends_with('\u{94D}') && !text.starts_with('\u{937}'),
                "{text}"
            );
        }
        assert_eq!(lines.iter().map(text_of).collect::<String>(), word);
    }

    /// The runs of a line, each with its text and whether its glyphs run left to right.
    fn visual(text: &str) -> Vec<(String, bool)> {
        shape(text, Face::Regular)
            .runs
            .into_iter()
            .map(|r| {
                let ltr = r
                    .glyphs
                    .windows(2)
                    .all(|g| g[0].text_range.start <= g[1].text_range.start);
                (r.text, ltr)
            })
            .collect()
    }

    #[test]
    fn numbers_keep_their_order_in_right_to_left_text() {
        let runs = visual("فاتورة 2024");
        assert_eq!(runs[0], ("2024".to_string(), true), "{runs:?}");
        assert!(runs[1].0.contains("فاتورة") && !runs[1].1, "{runs:?}");
        let runs = visual("المبلغ 1250 جنيه");
        let words: Vec<&(String, bool)> =
            runs.iter().filter(|(t, _)| !t.trim().is_empty()).collect();
        let texts: Vec<&str> = words.iter().map(|(t, _)| t.trim()).collect();
        assert_eq!(texts, ["جنيه", "1250", "المبلغ"], "{runs:?}");
        assert!(words[1].1);
        let runs = visual("سنة ٢٠٢٤");
        assert_eq!(runs[0], ("٢٠٢٤".to_string(), true), "{runs:?}");
    }

    #[test]
    fn mixed_direction_lines_come_out_in_visual_order() {
        assert_eq!(
            visual("Invoice 2024 for Ana"),
            [("Invoice 2024 for Ana".to_string(), true)]
        );
        let runs = visual("Ana محمد Pereira");
        let texts: Vec<&str> = runs.iter().map(|(t, _)| t.trim()).collect();
        assert_eq!(texts, ["Ana", "محمد", "Pereira"], "{runs:?}");
        // A paragraph that starts in Arabic is right-to-left: its first word is on the right.
        let runs = visual("محمد Ana");
        let texts: Vec<&str> = runs.iter().map(|(t, _)| t.trim()).collect();
        assert_eq!(texts, ["Ana", "محمد"], "{runs:?}");
        // Digits after Arabic in a left-to-right paragraph belong to the Arabic (rule W2/N1).
        let runs = visual("Ana محمد 12");
        let texts: Vec<&str> = runs.iter().map(|(t, _)| t.trim()).collect();
        assert_eq!(texts, ["Ana", "12", "محمد"], "{runs:?}");
    }

    #[test]
    fn characters_no_font_has_become_one_replacement_each() {
        assert!(covers(Face::Regular, "\u{FFFD}"), "Noto Sans has U+FFFD");
        let mut inv = sample();
        inv.notes = Some("Thanks 😀 👍🏽 🇬🇧 ❤️ done".into());
        inv.tenant.name = "Ana 😀".into();
        assert_fits(&inv);
        let line = shape("Thanks 😀 👍🏽 🇬🇧 done", Face::Regular);
        assert_eq!(text_of(&line), "Thanks \u{FFFD} \u{FFFD} \u{FFFD} done");
        render(&inv).unwrap();
    }

    #[test]
    fn a_passed_deadline_stops_the_render() {
        let past = Instant::now() - Duration::from_millis(1);
        assert!(matches!(
            render_within(&sample(), past),
            Err(RenderError::TimedOut)
        ));
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(
            render_within(&sample(), later).unwrap(),
            render(&sample()).unwrap()
        );
    }

    #[test]
    fn control_and_bidi_override_characters_are_stripped() {
        assert_eq!(
            clean("a\u{202E}b\u{7}c\td\u{200F}\u{2066}e\u{85}f\u{61C}\u{200E}\u{2069}\r\ng"),
            "abc def\ng"
        );
        // An override would show "Ana" as "anA".
        assert_eq!(visual("\u{202E}Ana\u{202C}"), [("Ana".to_string(), true)]);
        let mut inv = sample();
        inv.tenant.name = "Ana\u{202E} Pereira\u{0}\u{1B}".into();
        let l = layout(&inv, None).unwrap();
        assert!(texts(&l).iter().any(
            |(_, op, _)| matches!(op, Op::Text { line, .. } if text_of(line) == "Ana Pereira")
        ));
    }

    #[test]
    fn many_lines_flow_onto_more_pages() {
        let mut inv = sample();
        inv.items = (0..120).map(|i| LineItem { description: format!("Item {i} with a description long enough to wrap onto a second line in the table"), quantity: "1".into(), unit_price: "£1.00".into(), tax_rate: "0%".into(), amount: "£1.00".into() }).collect();
        assert!(layout(&inv, None).unwrap().pages.len() >= 3);
        render(&inv).unwrap();
    }

    #[test]
    fn paper_by_country() {
        assert_eq!(Paper::for_country("us"), Paper::Letter);
        assert_eq!(Paper::for_country("GB"), Paper::A4);
        assert_eq!(Paper::for_country("DE"), Paper::A4);
    }
}
