//! The emergency wallet card as a PDF (healthvault.md §4: "printable emergency profile sheet /
//! wallet card with an emergency access code"): an A4 page with a card (85.6 × 54 mm, ISO/IEC
//! 7810 ID-1) to cut out, carrying the emergency page's address, the code, and what to do, and
//! a short note for the person who keeps it. Text uses the PDF built-in Helvetica (WinAnsi).

use std::io::{Read, Seek, SeekFrom};

use pdf_canvas::graphicsstate::Color;
use pdf_canvas::{BuiltinFont, Pdf};

/// Millimetres to PDF points.
fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

/// The card for `name`, opened at `address` with `code`.
pub fn render(name: &str, address: &str, code: &str) -> std::io::Result<Vec<u8>> {
    let file = tempfile::tempfile()?;
    let mut reader = file.try_clone()?;
    let mut pdf = Pdf::new(file)?;
    pdf.set_title(&format!("Emergency card: {name}"));
    pdf.set_producer("Hearth");
    let (w, h) = (mm(210.0), mm(297.0));
    let (cw, ch) = (mm(85.6), mm(54.0));
    let (x0, y0) = (mm(20.0), h - mm(20.0) - ch);
    pdf.render_page(w, h, |c| {
        // The card's outline (cut along it) and its red band.
        c.set_stroke_color(Color::gray(120))?;
        c.rectangle(x0, y0, cw, ch)?;
        c.stroke()?;
        c.set_fill_color(Color::rgb(178, 34, 34))?;
        c.rectangle(x0, y0 + ch - mm(11.0), cw, mm(11.0))?;
        c.fill()?;
        c.set_fill_color(Color::rgb(255, 255, 255))?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(7.5),
            BuiltinFont::Helvetica_Bold,
            10.0,
            "EMERGENCY MEDICAL INFORMATION",
        )?;
        c.set_fill_color(Color::rgb(0, 0, 0))?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(17.0),
            BuiltinFont::Helvetica_Bold,
            10.0,
            name,
        )?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(23.0),
            BuiltinFont::Helvetica,
            7.0,
            "Allergies, conditions, medicines and contacts at:",
        )?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(28.0),
            BuiltinFont::Helvetica_Bold,
            8.0,
            address,
        )?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(35.0),
            BuiltinFont::Helvetica,
            7.0,
            "Emergency access code:",
        )?;
        c.left_text(
            x0 + mm(4.0),
            y0 + ch - mm(42.0),
            BuiltinFont::Courier_Bold,
            12.0,
            code,
        )?;
        c.left_text(
            x0 + mm(4.0),
            y0 + mm(4.0),
            BuiltinFont::Helvetica_Oblique,
            6.0,
            "Every use of this code is recorded and reported to the record's custodians.",
        )?;
        // Instructions for the keeper, below the card.
        let mut y = y0 - mm(15.0);
        for line in [
            "Cut out the card along its outline and keep it in your wallet.",
            "Anyone who types the code on the page above sees the emergency profile you chose, read-only.",
            "If the card is lost, revoke the code on the record's Emergency page and print a new card.",
        ] {
            c.left_text(x0, y, BuiltinFont::Helvetica, 10.0, line)?;
            y -= mm(6.0);
        }
        Ok(())
    })?;
    pdf.finish()?;
    let mut out = Vec::new();
    reader.seek(SeekFrom::Start(0))?;
    reader.read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_card_is_a_pdf_with_the_code() {
        let pdf = super::render(
            "Ann Example",
            "https://hearth.example/emergency",
            "ABCD-EFGH-JKMN-PQRS",
        )
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("ABCD-EFGH-JKMN-PQRS"),
            "the code is in the content stream"
        );
        assert!(text.contains("https://hearth.example/emergency"));
        assert!(text.trim_end().ends_with("%%EOF"));
    }
}
