//! Grid layout: Grafana's 24-column grid, filled left to right, top to bottom, with
//! full-width rows. One function owns every gridPos, so panels never overlap.

use serde_json::Value;

/// Grid width in columns.
pub const COLUMNS: u32 = 24;

/// A panel position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridPos {
    /// Column, 0-based.
    pub x: u32,
    /// Row unit, 0-based.
    pub y: u32,
    /// Width in columns.
    pub w: u32,
    /// Height in row units.
    pub h: u32,
}

impl GridPos {
    /// As Grafana JSON.
    pub fn to_json(self) -> Value {
        crate::jv!({"x": self.x, "y": self.y, "w": self.w, "h": self.h})
    }

    /// Whether two positions overlap.
    pub fn overlaps(&self, o: &GridPos) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w && self.y < o.y + o.h && o.y < self.y + self.h
    }
}

/// Places panels line by line.
#[derive(Debug, Default)]
pub struct Grid {
    x: u32,
    y: u32,
    line_h: u32,
}

impl Grid {
    /// An empty grid.
    pub fn new() -> Grid {
        Grid::default()
    }

    /// Position for a panel `w` wide and `h` high (w is clamped to 1..=24).
    pub fn place(&mut self, w: u32, h: u32) -> GridPos {
        let w = w.clamp(1, COLUMNS);
        let h = h.max(1);
        if self.x + w > COLUMNS {
            self.newline();
        }
        let p = GridPos {
            x: self.x,
            y: self.y,
            w,
            h,
        };
        self.x += w;
        self.line_h = self.line_h.max(h);
        p
    }

    /// Position for a full-width row header (starts a new line).
    pub fn row(&mut self) -> GridPos {
        self.newline();
        let p = GridPos {
            x: 0,
            y: self.y,
            w: COLUMNS,
            h: 1,
        };
        self.y += 1;
        p
    }

    /// Ends the current line.
    pub fn newline(&mut self) {
        if self.x > 0 || self.line_h > 0 {
            self.y += self.line_h;
        }
        self.x = 0;
        self.line_h = 0;
    }

    /// Splits the width into `n` near-equal parts for a line of `n` panels.
    pub fn widths(n: usize) -> Vec<u32> {
        if n == 0 {
            return Vec::new();
        }
        let per_line = n.min(COLUMNS as usize) as u32;
        let base = COLUMNS / per_line;
        let extra = COLUMNS % per_line;
        (0..n as u32)
            .map(|i| base + u32::from(i % per_line < extra))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_never_overlap_and_fit() {
        let mut g = Grid::new();
        let mut all = vec![g.row()];
        for w in [8, 8, 8, 12, 12, 24, 5, 30, 1] {
            all.push(g.place(w, 6));
        }
        all.push(g.row());
        all.push(g.place(6, 3));
        for (i, a) in all.iter().enumerate() {
            assert!(a.x + a.w <= COLUMNS, "{a:?}");
            for b in &all[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
        // Rows start at column 0 on their own line, y increases.
        assert_eq!(
            all[0],
            GridPos {
                x: 0,
                y: 0,
                w: 24,
                h: 1
            }
        );
        assert_eq!(
            all[1],
            GridPos {
                x: 0,
                y: 1,
                w: 8,
                h: 6
            }
        );
        assert_eq!(
            all[4],
            GridPos {
                x: 0,
                y: 7,
                w: 12,
                h: 6
            }
        );
    }

    #[test]
    fn widths_fill_the_line() {
        assert_eq!(Grid::widths(3), vec![8, 8, 8]);
        assert_eq!(Grid::widths(5), vec![5, 5, 5, 5, 4]);
        assert_eq!(Grid::widths(5).iter().sum::<u32>(), 24);
        assert!(Grid::widths(0).is_empty());
    }
}
