//! keepalived's blocks: statements (a keyword and its arguments) that may open a block of
//! statements, built from the preprocessed lines. A `{` belongs to the statement before it,
//! on the same line or the next; a statement ends at the end of its line or at a brace.

use super::preprocess::Line;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub key: String,
    pub args: Vec<String>,
    pub block: Option<Vec<Node>>,
    pub file: usize,
    pub line: usize,
    /// Its line as written when the keyword starts the line, else empty.
    pub text: String,
}

impl Node {
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The first argument, if any.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct Unbalanced {
    pub file: usize,
    pub line: usize,
    pub message: &'static str,
}

/// Builds the statement tree.
pub fn build(lines: &[Line]) -> Result<Vec<Node>, Unbalanced> {
    // The open blocks: the statements they belong to, innermost last.
    let mut stack: Vec<(Option<Node>, Vec<Node>)> = vec![(None, Vec::new())];
    for l in lines {
        let mut current: Option<Node> = None;
        for (i, w) in l.words.iter().enumerate() {
            match w.as_str() {
                "{" => {
                    // The statement on this line, or else the last one finished before.
                    let owner = match current.take() {
                        Some(n) => n,
                        None => match stack.last_mut().and_then(|(_, items)| items.pop()) {
                            Some(n) if n.block.is_none() => n,
                            _ => {
                                return Err(Unbalanced {
                                    file: l.file,
                                    line: l.line,
                                    message: "a '{' with no keyword before it",
                                });
                            }
                        },
                    };
                    stack.push((Some(owner), Vec::new()));
                }
                "}" => {
                    if let Some(n) = current.take()
                        && let Some((_, items)) = stack.last_mut()
                    {
                        items.push(n);
                    }
                    if stack.len() == 1 {
                        // keepalived reads it as an unknown keyword and goes on: kept as a
                        // statement of its own, for the mapping to report.
                        if let Some((_, items)) = stack.last_mut() {
                            items.push(Node {
                                key: "}".into(),
                                args: Vec::new(),
                                block: None,
                                file: l.file,
                                line: l.line,
                                text: String::new(),
                            });
                        }
                        continue;
                    }
                    if let Some((Some(mut owner), items)) = stack.pop() {
                        owner.block = Some(items);
                        if let Some((_, parent)) = stack.last_mut() {
                            parent.push(owner);
                        }
                    }
                }
                word => match current.as_mut() {
                    Some(n) => n.args.push(word.to_string()),
                    None => {
                        current = Some(Node {
                            key: word.to_string(),
                            args: Vec::new(),
                            block: None,
                            file: l.file,
                            line: l.line,
                            text: if i == 0 {
                                l.text.clone()
                            } else {
                                String::new()
                            },
                        })
                    }
                },
            }
        }
        if let Some(n) = current.take()
            && let Some((_, items)) = stack.last_mut()
        {
            items.push(n);
        }
    }
    if stack.len() > 1 {
        let (owner, _) = &stack[stack.len() - 1];
        let (file, line) = owner.as_ref().map_or((0, 0), |o| (o.file, o.line));
        return Err(Unbalanced {
            file,
            line,
            message: "a block that is never closed",
        });
    }
    Ok(stack.pop().map(|(_, items)| items).unwrap_or_default())
}
