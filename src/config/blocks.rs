//! The top-level blocks of a configuration text: the root (the keys before any header), each
//! `[[virtual_server]]` with the sub-tables under it, and each other header's table. A reload
//! compares the blocks of the new text with those of the text last accepted to read only the
//! virtual servers that changed ([`super::reread`]).
//!
//! Found with toml's own lexer, so strings, comments and multi-line arrays are never mistaken
//! for headers. Anything this reading does not follow (a quoted key in a header, a
//! `virtual_server.*` table away from its service) gives `None`, and the file is read whole.

use toml_parser::Source;
use toml_parser::lexer::{Token, TokenKind};

/// What a block holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The root, or a table other than a virtual server.
    Other,
    /// One `[[virtual_server]]` and its sub-tables.
    Service,
}

/// A block: where it starts in the text and what it holds. It ends where the next begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub kind: Kind,
}

/// The blocks of a whole text, the root first (possibly empty).
pub fn split(text: &str) -> Option<Vec<Block>> {
    let mut out = vec![Block {
        start: 0,
        kind: Kind::Other,
    }];
    Scan::new(text, 0).run(&mut out, |_| false)?;
    Some(out)
}

/// The blocks of `text` from `from` (where a block of the text starts) on, until `stop` says a
/// block start is the place to stop. Returns the blocks found and whether it stopped before
/// the end, at the start of the block after the last one returned.
pub fn split_from(
    text: &str,
    from: usize,
    stop: impl FnMut(usize) -> bool,
) -> Option<(Vec<Block>, Option<usize>)> {
    let mut out = Vec::new();
    if from == 0 {
        out.push(Block {
            start: 0,
            kind: Kind::Other,
        });
    }
    let stopped = Scan::new(text, from).run(&mut out, stop)?;
    Some((out, stopped))
}

/// The end of block `i` of `blocks` in a text of `len` bytes.
pub fn end(blocks: &[Block], i: usize, len: usize) -> usize {
    blocks.get(i + 1).map_or(len, |b| b.start)
}

/// A header as far as blocks go.
enum Header {
    /// `[[virtual_server]]`: a new service.
    Service,
    /// `[virtual_server.…]` or `[[virtual_server.…]]`: part of the service above.
    UnderService,
    /// Anything else: a block of its own.
    Other,
}

struct Scan<'t> {
    text: &'t str,
    base: usize,
    tokens: std::iter::Peekable<toml_parser::lexer::Lexer<'t>>,
}

impl<'t> Scan<'t> {
    fn new(text: &'t str, from: usize) -> Self {
        let rest = text.get(from..).unwrap_or("");
        Scan {
            text: rest,
            base: from,
            tokens: Source::new(rest).lex().peekable(),
        }
    }

    /// Walks the tokens, pushing a block at each header that starts one.
    fn run(
        mut self,
        out: &mut Vec<Block>,
        mut stop: impl FnMut(usize) -> bool,
    ) -> Option<Option<usize>> {
        let mut depth = 0usize;
        let mut line_start = true;
        while let Some(tok) = self.tokens.next() {
            match tok.kind() {
                TokenKind::LeftSquareBracket if depth == 0 && line_start => {
                    let at = self.base + tok.span().start();
                    let header = self.header()?;
                    let kind = match header {
                        Header::Service => Kind::Service,
                        Header::Other => Kind::Other,
                        Header::UnderService => match out.last() {
                            Some(b) if b.kind == Kind::Service => {
                                line_start = true;
                                continue;
                            }
                            _ => return None,
                        },
                    };
                    if stop(at) {
                        return Some(Some(at));
                    }
                    out.push(Block { start: at, kind });
                    // The header was read through its newline.
                    line_start = true;
                }
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => {
                    depth += 1;
                    line_start = false;
                }
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.checked_sub(1)?;
                }
                TokenKind::Newline => line_start = depth == 0,
                TokenKind::Whitespace | TokenKind::Comment => {}
                TokenKind::Eof => break,
                _ => line_start = false,
            }
        }
        Some(None)
    }

    /// Reads a header after its first `[`, up to the end of its line.
    fn header(&mut self) -> Option<Header> {
        let array = matches!(
            self.tokens.peek().map(Token::kind),
            Some(TokenKind::LeftSquareBracket)
        );
        if array {
            self.tokens.next();
        }
        let mut keys: Vec<&str> = Vec::new();
        let mut closed = false;
        for tok in self.tokens.by_ref() {
            match tok.kind() {
                TokenKind::Atom if !closed => {
                    keys.push(self.text.get(tok.span().start()..tok.span().end())?)
                }
                TokenKind::Dot | TokenKind::Whitespace if !closed => {}
                TokenKind::RightSquareBracket => closed = true,
                TokenKind::Whitespace | TokenKind::Comment if closed => {}
                TokenKind::Newline | TokenKind::Eof if closed => break,
                // A quoted key, or something a header cannot hold: let the full read judge.
                _ => return None,
            }
        }
        match (keys.first(), keys.len(), array) {
            (Some(&"virtual_server"), 1, true) => Some(Header::Service),
            (Some(&"virtual_server"), 1, false) => None,
            (Some(&"virtual_server"), _, _) => Some(Header::UnderService),
            (Some(_), _, _) => Some(Header::Other),
            (None, _, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(usize, Kind)> {
        split(text)
            .expect("split")
            .iter()
            .map(|b| (b.start, b.kind))
            .collect()
    }

    #[test]
    fn services_keep_their_sub_tables() {
        let text = "# root\n[global]\nrouter_id = \"a\"\n[[virtual_server]]\naddress = \"10.0.0.1:80\"\n[virtual_server.check]\ntype = \"tcp\"\n[[virtual_server.real_server]]\naddress = \"10.1.0.1:80\"\n[[virtual_server]]\naddress = \"10.0.0.2:80\"\n[[fwmark]]\nmark = 1\n";
        let at = |s: &str| text.find(s).expect(s);
        assert_eq!(
            kinds(text),
            vec![
                (0, Kind::Other),
                (at("[global]"), Kind::Other),
                (at("[[virtual_server]]"), Kind::Service),
                (text.rfind("[[virtual_server]]").unwrap(), Kind::Service),
                (at("[[fwmark]]"), Kind::Other),
            ]
        );
    }

    #[test]
    fn headers_on_consecutive_lines() {
        let text =
            "[global]\n[[virtual_server]]\n[virtual_server.check]\n[[virtual_server]]\n[ipvs]";
        let at = |s: &str| text.find(s).expect(s);
        assert_eq!(
            kinds(text),
            vec![
                (0, Kind::Other),
                (0, Kind::Other),
                (at("[[virtual_server]]"), Kind::Service),
                (text.rfind("[[virtual_server]]").unwrap(), Kind::Service),
                (at("[ipvs]"), Kind::Other),
            ]
        );
    }

    #[test]
    fn strings_comments_and_arrays_are_not_headers() {
        let text = "a = \"\"\"\n[[virtual_server]]\n\"\"\"\nb = [\n  [1, 2],\n]\n# [[virtual_server]]\nc = '''\n[x]\n'''\n[[virtual_server]]\nname = \"[[virtual_server]]\"\n";
        assert_eq!(
            kinds(text),
            vec![
                (0, Kind::Other),
                (
                    text.rfind("[[virtual_server]]\nname").unwrap(),
                    Kind::Service
                )
            ]
        );
    }

    #[test]
    fn what_it_does_not_follow_is_left_to_the_full_read() {
        assert_eq!(split("[\"virtual_server\"]\n"), None);
        assert_eq!(split("[global]\n[virtual_server.check]\n"), None);
        assert_eq!(split("[virtual_server]\n"), None);
    }

    #[test]
    fn a_scan_from_a_block_stops_where_asked() {
        let text = "[[virtual_server]]\na = 1\n[[virtual_server]]\na = 2\n[global]\n";
        let second = text.find("[[virtual_server]]\na = 2").unwrap();
        let (found, stopped) = split_from(text, second, |at| at > second).unwrap();
        assert_eq!(
            found,
            vec![Block {
                start: second,
                kind: Kind::Service
            }]
        );
        assert_eq!(stopped, text.find("[global]"));
    }
}
