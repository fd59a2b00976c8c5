//! NDJSON events from a file or stdin, in pages, through the same pipeline.
//!
//! A line that is not a JSON object is reported with its line number and
//! counted, never silently dropped; blank lines are skipped.

use crate::event::Event;
use std::io::BufRead;

/// A bad line: where and why.
#[derive(Debug)]
pub struct BadLine {
    pub line: u64,
    pub error: String,
}

pub struct Replay<R> {
    reader: R,
    line: u64,
    buf: String,
}

impl<R: BufRead> Replay<R> {
    pub fn new(reader: R) -> Self {
        Replay { reader, line: 0, buf: String::new() }
    }

    /// Up to `max` events; empty at the end of the input.
    pub fn next_page(&mut self, max: usize, bad: &mut Vec<BadLine>) -> std::io::Result<Vec<Event>> {
        let mut events = Vec::with_capacity(max);
        while events.len() < max {
            self.buf.clear();
            if self.reader.read_line(&mut self.buf)? == 0 {
                break;
            }
            self.line += 1;
            let text = self.buf.trim();
            if text.is_empty() {
                continue;
            }
            match Event::parse(text) {
                Ok(e) => events.push(e),
                Err(e) => bad.push(BadLine { line: self.line, error: e.to_string() }),
            }
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_with_numbers() {
        let input = "{\"a\":1}\n\nnot json\n[1,2]\n{\"b\":2}\n";
        let mut r = Replay::new(input.as_bytes());
        let mut bad = Vec::new();
        let page = r.next_page(10, &mut bad).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(bad.iter().map(|b| b.line).collect::<Vec<_>>(), vec![3, 4]);
        assert!(r.next_page(10, &mut bad).unwrap().is_empty());
    }
}
