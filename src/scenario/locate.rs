//! Find where a field sits in a JSON text, so validation errors found after
//! parsing can still name a line and column.

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// Parse a dotted path like `faults[2].node` into segments.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(e) = stripped.find(']') else { break };
                if let Ok(i) = stripped[..e].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &stripped[e + 1..];
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

/// 1-based (line, column) of the value at `path` in `text`, or of the
/// deepest enclosing value that exists.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let segs = parse_path(path);
    let mut s = Scanner {
        b: text.as_bytes(),
        i: 0,
    };
    s.ws();
    let mut best = s.i;
    for seg in &segs {
        match s.find_child(seg) {
            Some(pos) => {
                best = pos;
                s.i = pos;
            }
            None => break,
        }
    }
    Some(line_col(text, best))
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    // Bytes, like serde_json's columns, so both kinds of error agree.
    let col = before.rsplit('\n').next().map_or(0, str::len) + 1;
    (line, col)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// With `i` at an object or array, position of the child value `seg`.
    fn find_child(&mut self, seg: &Seg) -> Option<usize> {
        match (self.peek()?, seg) {
            (b'{', Seg::Key(k)) => {
                self.i += 1;
                loop {
                    self.ws();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key = self.string()?;
                    self.ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    self.ws();
                    if key == *k {
                        return Some(self.i);
                    }
                    self.skip_value()?;
                    self.ws();
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
            }
            (b'[', Seg::Index(n)) => {
                self.i += 1;
                for _ in 0..*n {
                    self.ws();
                    if self.peek()? == b']' {
                        return None;
                    }
                    self.skip_value()?;
                    self.ws();
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
                self.ws();
                if self.peek()? == b']' {
                    None
                } else {
                    Some(self.i)
                }
            }
            _ => None,
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        self.i += 1;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    let s = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                    self.i += 1;
                    return Some(s);
                }
                _ => self.i += 1,
            }
        }
        None
    }

    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                loop {
                    self.ws();
                    match self.peek()? {
                        c if c == close => {
                            self.i += 1;
                            return Some(());
                        }
                        b',' | b':' => self.i += 1,
                        _ => self.skip_value()?,
                    }
                }
            }
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Paths resolve to the line and column of the value.
    #[test]
    fn locates_nested_values() {
        let text =
            "{\n  \"a\": 1,\n  \"faults\": [\n    {\"x\": [1, 2]},\n    { \"node\": 9 }\n  ]\n}";
        assert_eq!(locate(text, "a"), Some((2, 8)));
        assert_eq!(locate(text, "faults[1].node"), Some((5, 15)));
        assert_eq!(locate(text, "faults[0].x[1]"), Some((4, 15)));
        // A missing leaf falls back to its parent.
        assert_eq!(locate(text, "faults[1].missing"), Some((5, 5)));
    }
}
