//! The outage chart: for each failover scenario, keepup's and keepalived's median
//! client outage as horizontal bars on a log scale (1 ms to 10 s), a line from the
//! smallest to the largest run, and the median written beside each bar.
use std::path::Path;

use anyhow::{Context, Result};

use crate::font;
use crate::report::{stats, Results, Stats};

/// One scenario's bars: `[keepup, keepalived]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    pub label: String,
    pub stats: [Option<Stats>; 2],
}

/// The `outage s` rows of the failover scenarios.
pub fn outage_bars(r: &Results) -> Vec<Bars> {
    r.rows
        .iter()
        .filter(|row| row.metric == "outage s" && row.scenario.starts_with("failover/"))
        .map(|row| Bars {
            label: row
                .scenario
                .trim_start_matches("failover/")
                .replace('/', " "),
            stats: [stats(&row.values[0]), stats(&row.values[1])],
        })
        .collect()
}

type Rgb = [u8; 3];
const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [40, 40, 40];
const GRID: Rgb = [215, 215, 215];
const COLORS: [Rgb; 2] = [[31, 119, 180], [255, 127, 14]];
const NAMES: [&str; 2] = ["keepup", "keepalived 2.2.7"];

/// A plain RGB canvas.
pub struct Canvas {
    pub w: usize,
    pub h: usize,
    pub px: Vec<u8>,
}

impl Canvas {
    pub fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: WHITE.repeat(w * h),
        }
    }

    #[cfg(test)]
    pub fn get(&self, x: usize, y: usize) -> Option<Rgb> {
        let i = (y * self.w + x) * 3;
        (x < self.w && y < self.h).then(|| [self.px[i], self.px[i + 1], self.px[i + 2]])
    }

    fn set(&mut self, x: usize, y: usize, c: Rgb) {
        if x < self.w && y < self.h {
            let i = (y * self.w + x) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    pub fn rect(&mut self, x: usize, y: usize, w: usize, h: usize, c: Rgb) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.set(xx, yy, c);
            }
        }
    }

    /// Text at `(x, y)` (top left), each font pixel `scale` pixels wide; returns the
    /// x after the last character.
    pub fn text(&mut self, x: usize, y: usize, s: &str, scale: usize, c: Rgb) -> usize {
        let mut cx = x;
        for ch in s.chars() {
            for (row, bits) in font::glyph(ch).iter().enumerate() {
                for col in 0..font::WIDTH {
                    if bits & (1 << (font::WIDTH - 1 - col)) != 0 {
                        self.rect(cx + col * scale, y + row * scale, scale, scale, c);
                    }
                }
            }
            cx += (font::WIDTH + 1) * scale;
        }
        cx
    }
}

pub fn text_width(s: &str, scale: usize) -> usize {
    s.chars().count() * (font::WIDTH + 1) * scale
}

/// Seconds as a short label: `3.26 S`, `340 MS`, `4 MS`.
fn short(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.2} s")
    } else if secs >= 0.1 {
        format!("{:.0} ms", secs * 1e3)
    } else {
        format!("{:.1} ms", secs * 1e3)
    }
}

const LEFT: usize = 230;
const PLOT_W: usize = 640;
const TOP: usize = 80;
const BAR_H: usize = 16;
const GROUP_H: usize = 2 * BAR_H + 14;
/// The log scale: 1 ms .. 10 s.
const DECADES: f64 = 4.0;

fn x_of(secs: f64) -> usize {
    let d = (secs.max(1e-3).log10() + 3.0).clamp(0.0, DECADES);
    LEFT + (d / DECADES * PLOT_W as f64).round() as usize
}

/// Draw the chart.
pub fn draw(bars: &[Bars]) -> Canvas {
    let w = LEFT + PLOT_W + 130;
    let h = TOP + bars.len() * GROUP_H + 50;
    let mut c = Canvas::new(w, h);
    c.text(
        20,
        14,
        "client outage per failover scenario (median; line: min to max)",
        2,
        INK,
    );
    // Legend.
    let mut lx = 20;
    for (color, name) in COLORS.iter().zip(NAMES) {
        c.rect(lx, 46, 14, 14, *color);
        lx = c.text(lx + 20, 46, name, 2, INK) + 30;
    }
    // Grid and axis labels.
    let plot_bottom = TOP + bars.len() * GROUP_H;
    for (i, label) in ["1 ms", "10 ms", "100 ms", "1 s", "10 s"]
        .iter()
        .enumerate()
    {
        let x = LEFT + i * PLOT_W / 4;
        c.rect(x, TOP - 6, 1, plot_bottom - TOP + 10, GRID);
        let lw = text_width(label, 2);
        c.text(x.saturating_sub(lw / 2), plot_bottom + 12, label, 2, INK);
    }
    for (g, b) in bars.iter().enumerate() {
        let y0 = TOP + g * GROUP_H;
        c.text(10, y0 + BAR_H - 7, &b.label, 2, INK);
        for (k, s) in b.stats.iter().enumerate() {
            let y = y0 + k * BAR_H;
            let Some(s) = s else {
                c.text(LEFT + 6, y + 2, "no run", 2, INK);
                continue;
            };
            let xm = x_of(s.median);
            c.rect(LEFT, y + 1, (xm - LEFT).max(1), BAR_H - 2, COLORS[k]);
            // min .. max
            let (x0, x1) = (x_of(s.min), x_of(s.max));
            c.rect(x0, y + BAR_H / 2 - 1, (x1 - x0).max(1), 2, INK);
            c.rect(x0, y + 4, 2, BAR_H - 8, INK);
            c.rect(x1.saturating_sub(1), y + 4, 2, BAR_H - 8, INK);
            c.text(x1.max(xm) + 8, y + 1, &short(s.median), 2, INK);
        }
    }
    c
}

/// Draw the chart and write it as a PNG.
pub fn write(bars: &[Bars], path: &Path) -> Result<()> {
    let c = draw(bars);
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), c.w as u32, c.h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().context("PNG header")?;
    w.write_image_data(&c.px).context("PNG data")?;
    w.finish().context("PNG end")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(min: f64, median: f64, max: f64) -> Option<Stats> {
        Some(Stats { min, median, max })
    }

    #[test]
    fn the_scale_is_logarithmic_from_a_millisecond_to_ten_seconds() {
        assert_eq!(x_of(0.0), LEFT);
        assert_eq!(x_of(1e-3), LEFT);
        assert_eq!(x_of(0.1), LEFT + PLOT_W / 2);
        assert_eq!(x_of(10.0), LEFT + PLOT_W);
        assert_eq!(x_of(100.0), LEFT + PLOT_W);
    }

    #[test]
    fn bars_end_at_the_median_in_each_daemon_colour() {
        let bars = vec![Bars {
            label: "v2-1s cut".into(),
            stats: [s(0.5, 1.0, 2.0), s(3.0, 3.2, 3.4)],
        }];
        let c = draw(&bars);
        let y_ku = TOP + 3;
        let y_ka = TOP + BAR_H + 3;
        assert_eq!(c.get(x_of(1.0) - 2, y_ku), Some(COLORS[0]));
        assert_eq!(c.get(x_of(1.0) + 3, y_ku), Some(WHITE));
        assert_eq!(c.get(x_of(3.2) - 2, y_ka), Some(COLORS[1]));
        let dir = std::env::temp_dir().join(format!("keepup-bench-chart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.png");
        write(&bars, &p).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_labels() {
        assert_eq!(short(3.256), "3.26 s");
        assert_eq!(short(0.634), "634 ms");
        assert_eq!(short(0.0042), "4.2 ms");
    }
}
