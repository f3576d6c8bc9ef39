//! The part of Python's `re` that route requirements use, so `requirements={'id': r'\d+'}`
//! and `{tag:[a-z]+|latest}` keep their meaning without a regex crate.
//!
//! Routes turns a whole route into one Python regular expression: `^`, the template's
//! parts, then `$`, with each variable a named group (`[^/]+?` by default, or its
//! requirement). This file parses the requirement syntax into a small tree ([`Node`]),
//! which `route.rs` splices into the tree of the whole route, and compiles that tree into a
//! program for a backtracking matcher. The matcher tries alternatives in the order Python's
//! engine does (greedy or lazy, leftmost alternative first), so a route splits a path into
//! the same variables as Routes. It remembers which (instruction, position) pairs it has
//! already tried, as the regex crate's bounded backtracker does, so no pattern costs more
//! than program × path steps: a long path cannot make it run for ever, as it can make
//! Python's `re` run.
//!
//! Supported, with Python's meaning on `str`: literals and `\`-escaped punctuation, `.`
//! (not a newline), classes `[a-z_]` and `[^/]` with ranges and `\d \w \s \D \W \S`, those
//! escapes alone, `\t \n \r \f \v`, groups `(...)`, `(?:...)` and `(?P<name>...)`,
//! alternation `|`, the quantifiers `* + ? {m} {m,} {,n} {m,n}` greedy or lazy (`*?` ...),
//! and the anchors `^` and `$` (`$` also before a final newline, as in Python). Anything
//! else (look-around, back-references, flags, `\b`) is refused with an error naming it, at
//! the time the route is connected, never silently read another way.
//!
//! It hands on [`parse`] (requirement text to [`Node`]) and [`Program`] (a compiled route or
//! requirement: `captures` and `full_match`).

use std::fmt;

/// Why a requirement cannot be used: its position (in characters) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReError {
    pub pattern: String,
    pub pos: usize,
    pub msg: String,
}

impl fmt::Display for ReError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {} in {:?}", self.msg, self.pos, self.pattern)
    }
}

impl std::error::Error for ReError {}

/// One item of a character class.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Range(char, char),
    /// `\d` (or `\D` when negated).
    Digit(bool),
    /// `\w` (or `\W`).
    Word(bool),
    /// `\s` (or `\S`).
    Space(bool),
}

/// A character class: `[...]`, `[^...]`, or one of the escapes `\d \w \s` alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Class {
    negated: bool,
    items: Vec<ClassItem>,
}

/// Python's `\d` on `str`: Unicode decimal digits. Rust has no table of those alone, so
/// beyond ASCII any numeric character counts; PATH_INFO is latin-1 text (PEP 3333), where
/// the only decimal digits are the ASCII ones, and there `²` or `½` do not match, as in Python.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (c > '\u{ff}' && c.is_numeric())
}

/// Python's `\w` on `str`: alphanumerics and the underscore.
fn is_word(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Python's `\s` on `str`: Unicode white space, which for Python includes U+001C..U+001F.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

impl Class {
    /// `[^/]`: what a route variable matches by default.
    pub fn not_chars(chars: &str) -> Class {
        Class {
            negated: true,
            items: chars.chars().map(|c| ClassItem::Range(c, c)).collect(),
        }
    }

    fn matches(&self, c: char) -> bool {
        let hit = self.items.iter().any(|item| match *item {
            ClassItem::Range(lo, hi) => lo <= c && c <= hi,
            ClassItem::Digit(neg) => is_digit(c) != neg,
            ClassItem::Word(neg) => is_word(c) != neg,
            ClassItem::Space(neg) => is_space(c) != neg,
        });
        hit != self.negated
    }
}

/// A parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Empty,
    Char(char),
    /// `.`: any character but a newline.
    Any,
    Class(Class),
    /// `^`: the start of the text.
    Start,
    /// `$`: the end of the text, or just before a newline that ends it.
    End,
    /// A group; `Some(i)` captures into the `i`th name of the program.
    Group(Box<Node>, Option<usize>),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
    },
}

impl Node {
    /// The literal text `s`, character for character (what `re.escape(s)` would match).
    pub fn literal(s: &str) -> Node {
        Node::Concat(s.chars().map(Node::Char).collect())
    }
}

/// The largest count `{m,n}` may ask for: each counted copy is compiled out.
const MAX_REPEAT: u32 = 1000;
/// The largest program a route may compile to.
const MAX_PROGRAM: usize = 100_000;

/// Parses `pattern`, adding the names of its `(?P<name>...)` groups to `names` (a group's
/// capture number is its index there, so a route's variables and its requirements' groups
/// share one numbering, as in the single regex Routes builds).
pub fn parse(pattern: &str, names: &mut Vec<String>) -> Result<Node, ReError> {
    let mut p = Parser {
        pattern,
        chars: pattern.chars().collect(),
        pos: 0,
        names,
    };
    let node = p.alternation()?;
    if p.pos < p.chars.len() {
        // Only an unbalanced ")" stops the top level early.
        return Err(p.error("unbalanced parenthesis"));
    }
    Ok(node)
}

struct Parser<'a> {
    pattern: &'a str,
    chars: Vec<char>,
    pos: usize,
    names: &'a mut Vec<String>,
}

impl Parser<'_> {
    fn error(&self, msg: impl Into<String>) -> ReError {
        ReError {
            pattern: self.pattern.to_owned(),
            pos: self.pos,
            msg: msg.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn alternation(&mut self) -> Result<Node, ReError> {
        let mut branches = vec![self.concat()?];
        while self.eat('|') {
            branches.push(self.concat()?);
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn concat(&mut self) -> Result<Node, ReError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Concat(items),
        })
    }

    fn atom(&mut self) -> Result<Node, ReError> {
        let start = self.pos;
        let c = self.chars[self.pos];
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Start,
            '$' => Node::End,
            '[' => Node::Class(self.class()?),
            '(' => self.group()?,
            '\\' => self.escape(false)?.into_node(),
            '*' | '+' | '?' => {
                self.pos = start;
                return Err(self.error("nothing to repeat"));
            }
            '{' if self.counted_from(self.pos) => {
                self.pos = start;
                return Err(self.error("nothing to repeat"));
            }
            c => Node::Char(c),
        })
    }

    /// True when the `{` just before index `i` opens a valid `{m,n}` quantifier (otherwise,
    /// as in Python, it is a literal brace).
    fn counted_from(&self, mut i: usize) -> bool {
        let mut digits = 0;
        let mut comma = false;
        while let Some(&c) = self.chars.get(i) {
            match c {
                '0'..='9' => digits += 1,
                ',' if !comma => comma = true,
                '}' => return digits > 0 || comma,
                _ => return false,
            }
            i += 1;
        }
        false
    }

    fn group(&mut self) -> Result<Node, ReError> {
        let capture = if self.eat('?') {
            if self.eat(':') {
                None
            } else if self.peek() == Some('P') && self.chars.get(self.pos + 1) == Some(&'<') {
                self.pos += 2;
                let name_start = self.pos;
                while self.peek().is_some_and(|c| c != '>') {
                    self.pos += 1;
                }
                let name: String = self.chars[name_start..self.pos].iter().collect();
                if !self.eat('>') {
                    return Err(self.error("missing >, unterminated name"));
                }
                let valid = name.chars().next().is_some_and(|c| c == '_' || c.is_alphabetic())
                    && name.chars().all(|c| c == '_' || c.is_alphanumeric());
                if !valid {
                    return Err(self.error(format!("bad character in group name {name:?}")));
                }
                if self.names.contains(&name) {
                    return Err(self.error(format!("redefinition of group name {name:?}")));
                }
                self.names.push(name);
                Some(self.names.len() - 1)
            } else {
                // (?=, (?!, (?<=, (?<!, (?i), (?P=name), (?#...): none has a meaning here.
                return Err(self.error("unsupported group construct (look-around, flags or back-reference)"));
            }
        } else {
            // A plain group numbers a capture in Python, but only named groups reach the
            // match dict, so it need not capture here.
            None
        };
        let inner = self.alternation()?;
        if !self.eat(')') {
            return Err(self.error("missing ), unterminated subpattern"));
        }
        Ok(Node::Group(Box::new(inner), capture))
    }

    /// Reads what follows a `\` (the `\` is consumed).
    fn escape(&mut self, in_class: bool) -> Result<Escaped, ReError> {
        let Some(c) = self.peek() else {
            return Err(self.error("bad escape (end of pattern)"));
        };
        self.pos += 1;
        Ok(match c {
            'd' => Escaped::Item(ClassItem::Digit(false)),
            'D' => Escaped::Item(ClassItem::Digit(true)),
            'w' => Escaped::Item(ClassItem::Word(false)),
            'W' => Escaped::Item(ClassItem::Word(true)),
            's' => Escaped::Item(ClassItem::Space(false)),
            'S' => Escaped::Item(ClassItem::Space(true)),
            't' => Escaped::Char('\t'),
            'n' => Escaped::Char('\n'),
            'r' => Escaped::Char('\r'),
            'f' => Escaped::Char('\u{c}'),
            'v' => Escaped::Char('\u{b}'),
            'a' => Escaped::Char('\u{7}'),
            // In a class, \b is a backspace; outside it is a word boundary.
            'b' if in_class => Escaped::Char('\u{8}'),
            c if c.is_ascii_alphanumeric() => {
                self.pos -= 1;
                return Err(self.error(format!("unsupported escape \\{c}")));
            }
            c => Escaped::Char(c),
        })
    }

    /// A class, after its `[`.
    fn class(&mut self) -> Result<Class, ReError> {
        let negated = self.eat('^');
        let mut items = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unterminated character set"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            self.pos += 1;
            let lo = match c {
                '\\' => match self.escape(true)? {
                    Escaped::Item(item) => {
                        items.push(item);
                        continue;
                    }
                    Escaped::Char(c) => c,
                },
                c => c,
            };
            // A range, unless the "-" is last ("[a-]") .
            if self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let hi = match self.chars[self.pos] {
                    '\\' => {
                        self.pos += 1;
                        match self.escape(true)? {
                            Escaped::Char(c) => c,
                            Escaped::Item(_) => return Err(self.error("bad character range")),
                        }
                    }
                    c => {
                        self.pos += 1;
                        c
                    }
                };
                if hi < lo {
                    return Err(self.error("bad character range"));
                }
                items.push(ClassItem::Range(lo, hi));
            } else {
                items.push(ClassItem::Range(lo, lo));
            }
        }
        Ok(Class { negated, items })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, ReError> {
        let start = self.pos;
        let (min, max) = match self.peek() {
            Some('*') => {
                self.pos += 1;
                (0, None)
            }
            Some('+') => {
                self.pos += 1;
                (1, None)
            }
            Some('?') => {
                self.pos += 1;
                (0, Some(1))
            }
            Some('{') if self.counted_from(self.pos + 1) => self.counted()?,
            _ => return Ok(atom),
        };
        if matches!(atom, Node::Start | Node::End) {
            self.pos = start;
            return Err(self.error("nothing to repeat"));
        }
        let greedy = !self.eat('?');
        let again = match self.peek() {
            Some('*' | '+' | '?') => true,
            Some('{') => self.counted_from(self.pos + 1),
            _ => false,
        };
        if again {
            return Err(self.error("multiple repeat (possessive quantifiers are not supported)"));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
        })
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}` from the `{`; leaves `pos` after the `}`.
    fn counted(&mut self) -> Result<(u32, Option<u32>), ReError> {
        self.pos += 1;
        let min = self.count()?;
        let (min, max) = if self.eat(',') {
            (min.unwrap_or(0), self.count()?)
        } else {
            let n = min.unwrap_or(0);
            (n, Some(n))
        };
        self.pos += 1; // the "}" counted_from saw
        if max.is_some_and(|max| max < min) {
            return Err(self.error("min repeat greater than max repeat"));
        }
        Ok((min, max))
    }

    fn count(&mut self) -> Result<Option<u32>, ReError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            return Ok(None);
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match text.parse::<u32>() {
            Ok(n) if n <= MAX_REPEAT => Ok(Some(n)),
            _ => Err(self.error(format!("repeat count over {MAX_REPEAT}"))),
        }
    }
}

enum Escaped {
    Char(char),
    Item(ClassItem),
}

impl Escaped {
    fn into_node(self) -> Node {
        match self {
            Escaped::Char(c) => Node::Char(c),
            Escaped::Item(item) => Node::Class(Class {
                negated: false,
                items: vec![item],
            }),
        }
    }
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(Class),
    /// Try the first, then the second.
    Split(usize, usize),
    Jmp(usize),
    Save(usize),
    Start,
    End,
    Match,
}

/// A compiled pattern: what a route or a requirement matches.
#[derive(Debug, Clone)]
pub struct Program {
    insts: Vec<Inst>,
    /// The names of the capturing groups, in group order.
    pub names: Vec<String>,
}

/// The (instruction, position) states tried: a bit each while that is small (the common
/// case: a short path, a small program), else a set of the states actually reached, so a
/// long path against a large program costs memory only for what it explores.
enum Visited {
    Bits(Vec<u64>),
    Set(std::collections::HashSet<usize>),
}

impl Visited {
    const MAX_BITS: usize = 1 << 20;

    fn new(states: usize) -> Visited {
        if states <= Visited::MAX_BITS {
            Visited::Bits(vec![0; states.div_ceil(64)])
        } else {
            Visited::Set(std::collections::HashSet::new())
        }
    }

    /// Marks a state; false when it was marked already.
    fn insert(&mut self, key: usize) -> bool {
        match self {
            Visited::Bits(bits) => {
                let (word, bit) = (key / 64, 1u64 << (key % 64));
                let fresh = bits[word] & bit == 0;
                bits[word] |= bit;
                fresh
            }
            Visited::Set(set) => set.insert(key),
        }
    }
}

enum Job {
    Explore(usize, usize),
    Restore(usize, Option<usize>),
}

impl Program {
    /// Compiles `node`, whose capturing groups are numbered by `names`.
    pub fn compile(node: &Node, names: Vec<String>) -> Result<Program, ReError> {
        let mut insts = Vec::new();
        emit(node, &mut insts);
        insts.push(Inst::Match);
        if insts.len() > MAX_PROGRAM {
            return Err(ReError {
                pattern: String::new(),
                pos: 0,
                msg: "pattern too large".into(),
            });
        }
        Ok(Program { insts, names })
    }

    /// Matches at the start of `text` (Python's `regex.match`), returning the span of each
    /// group (`None` for a group that took no part), or `None` when it does not match.
    pub fn captures(&self, text: &[char]) -> Option<Vec<Option<(usize, usize)>>> {
        let n = text.len();
        let width = n + 1;
        let mut visited = Visited::new(self.insts.len() * width);
        let mut slots: Vec<Option<usize>> = vec![None; self.names.len() * 2];
        let mut stack = vec![Job::Explore(0, 0)];
        while let Some(job) = stack.pop() {
            let (mut pc, mut pos) = match job {
                Job::Restore(slot, old) => {
                    slots[slot] = old;
                    continue;
                }
                Job::Explore(pc, pos) => (pc, pos),
            };
            loop {
                // A state tried before failed then (or we would have returned), and what
                // follows from it does not depend on the captures: skip it.
                if !visited.insert(pc * width + pos) {
                    break;
                }
                match &self.insts[pc] {
                    Inst::Char(c) => {
                        if pos < n && text[pos] == *c {
                            pc += 1;
                            pos += 1;
                        } else {
                            break;
                        }
                    }
                    Inst::Any => {
                        if pos < n && text[pos] != '\n' {
                            pc += 1;
                            pos += 1;
                        } else {
                            break;
                        }
                    }
                    Inst::Class(class) => {
                        if pos < n && class.matches(text[pos]) {
                            pc += 1;
                            pos += 1;
                        } else {
                            break;
                        }
                    }
                    Inst::Split(first, second) => {
                        stack.push(Job::Explore(*second, pos));
                        pc = *first;
                    }
                    Inst::Jmp(to) => pc = *to,
                    Inst::Save(slot) => {
                        stack.push(Job::Restore(*slot, slots[*slot]));
                        slots[*slot] = Some(pos);
                        pc += 1;
                    }
                    Inst::Start => {
                        if pos == 0 {
                            pc += 1;
                        } else {
                            break;
                        }
                    }
                    Inst::End => {
                        if pos == n || (pos + 1 == n && text[pos] == '\n') {
                            pc += 1;
                        } else {
                            break;
                        }
                    }
                    Inst::Match => {
                        return Some(
                            slots
                                .chunks(2)
                                .map(|pair| match (pair[0], pair[1]) {
                                    (Some(a), Some(b)) => Some((a, b)),
                                    _ => None,
                                })
                                .collect(),
                        );
                    }
                }
            }
        }
        None
    }

    /// True when the program matches `text` from its start (it was compiled with `^...$`
    /// around it, as Routes compiles a requirement to check a value for generation).
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        self.captures(&chars).is_some()
    }
}

fn emit(node: &Node, out: &mut Vec<Inst>) {
    match node {
        Node::Empty => {}
        Node::Char(c) => out.push(Inst::Char(*c)),
        Node::Any => out.push(Inst::Any),
        Node::Class(class) => out.push(Inst::Class(class.clone())),
        Node::Start => out.push(Inst::Start),
        Node::End => out.push(Inst::End),
        Node::Group(inner, None) => emit(inner, out),
        Node::Group(inner, Some(i)) => {
            out.push(Inst::Save(2 * i));
            emit(inner, out);
            out.push(Inst::Save(2 * i + 1));
        }
        Node::Concat(items) => items.iter().for_each(|n| emit(n, out)),
        Node::Alt(branches) => {
            let mut jumps = Vec::new();
            for (i, branch) in branches.iter().enumerate() {
                if i + 1 < branches.len() {
                    let split = out.len();
                    out.push(Inst::Split(split + 1, 0));
                    emit(branch, out);
                    jumps.push(out.len());
                    out.push(Inst::Jmp(0));
                    let next = out.len();
                    out[split] = Inst::Split(split + 1, next);
                } else {
                    emit(branch, out);
                }
            }
            let end = out.len();
            for j in jumps {
                out[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat { node, min, max, greedy } => {
            for _ in 0..*min {
                emit(node, out);
            }
            let split = |body: usize, out_: usize| {
                if *greedy {
                    Inst::Split(body, out_)
                } else {
                    Inst::Split(out_, body)
                }
            };
            match max {
                None => {
                    let top = out.len();
                    out.push(Inst::Jmp(0));
                    emit(node, out);
                    out.push(Inst::Jmp(top));
                    let end = out.len();
                    out[top] = split(top + 1, end);
                }
                Some(max) => {
                    // Each optional copy may be skipped, and skipping one skips the rest:
                    // (x(x(x)?)?)? for x{0,3}.
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(out.len());
                        out.push(Inst::Jmp(0));
                        emit(node, out);
                    }
                    let end = out.len();
                    for s in splits {
                        out[s] = split(s + 1, end);
                    }
                }
            }
        }
    }
}

/// Compiles a requirement the way Routes checks a value before generating a URL with it:
/// `re.compile('^' + requirement + '$').match(value)`.
pub fn compile_anchored(requirement: &str) -> Result<Program, ReError> {
    let mut names = Vec::new();
    let node = parse(requirement, &mut names)?;
    let whole = Node::Concat(vec![Node::Start, node, Node::End]);
    Program::compile(&whole, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Python's `re.match(pattern, text)`: the named groups, or None.
    fn re_match(pattern: &str, text: &str) -> Option<Vec<(String, Option<String>)>> {
        let mut names = Vec::new();
        let node = parse(pattern, &mut names).unwrap_or_else(|e| panic!("{e}"));
        let prog = Program::compile(&node, names).unwrap();
        let chars: Vec<char> = text.chars().collect();
        let caps = prog.captures(&chars)?;
        Some(
            prog.names
                .iter()
                .zip(caps)
                .map(|(n, c)| (n.clone(), c.map(|(a, b)| chars[a..b].iter().collect())))
                .collect(),
        )
    }

    fn full(pattern: &str, text: &str) -> bool {
        compile_anchored(pattern).unwrap().is_match(text)
    }

    fn group(pattern: &str, text: &str, name: &str) -> Option<String> {
        re_match(pattern, text)?
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v)
    }

    #[test]
    fn full_matches_like_python() {
        // (pattern, text, re.match('^' + pattern + '$', text) is not None)
        let table: &[(&str, &str, bool)] = &[
            (r"\d+", "123", true),
            (r"\d+", "12a", false),
            (r"\d+", "", false),
            (r"\d{1,2}", "1", true),
            (r"\d{1,2}", "12", true),
            (r"\d{1,2}", "123", false),
            (r"\d{4}", "2024", true),
            (r"\d{4}", "202", false),
            (r"\d{2,}", "1", false),
            (r"\d{2,}", "12345", true),
            (r"\d{,2}", "", true),
            (r"[a-z]+", "abc", true),
            (r"[a-z]+", "aBc", false),
            (r"[^/]+", "a.b", true),
            (r"[^/]+", "a/b", false),
            (r"[^\/]+", "a/b", false),
            (r"[^./]+?", "frist-post", true),
            (r"[^./]+?", "frist.post", false),
            (r"pdf", "pdf", true),
            (r"pdf", "doc", false),
            (r"json|xml", "xml", true),
            (r"json|xml", "yaml", false),
            (r"(?:json|xml)", "json", true),
            (r"v\d+(\.\d+)?", "v2.1", true),
            (r"v\d+(\.\d+)?", "v2.", false),
            (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}", "deadbeef-CAFE", true),
            (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}", "deadbeef-CAF", false),
            (r"\w+", "caf\u{e9}_1", true),
            (r"\w+", "a-b", false),
            (r"\W", "-", true),
            (r"\s", "\t", true),
            (r"\S+", "a b", false),
            (r"\D", "1", false),
            (r"[\d-]+", "12-3", true),
            (r"[a-]+", "a-a", true),
            (r"[]a]+", "]a", true),
            (r"a.c", "abc", true),
            (r"a.c", "a\nc", false),
            (r"a{", "a{", true),
            (r"a{x}", "a{x}", true),
            (r"\.", ".", true),
            (r"\.", "x", false),
            (r"\\", "\\", true),
            (r"colou?r", "color", true),
            (r"colou?r", "colour", true),
            (r".*", "", true),
            (r".+", "", false),
            (r"(a|ab)(c|bcd)", "abcd", true),
            (r"", "", true),
            (r"a*?", "aaa", true),
            // "$" also matches before a final newline, as in Python.
            (r"\d+", "12\n", true),
            (r"\d+", "12\n\n", false),
        ];
        for &(pattern, text, want) in table {
            assert_eq!(full(pattern, text), want, "{pattern:?} on {text:?}");
        }
    }

    #[test]
    fn groups_split_as_python_does() {
        // Lazy groups take as little as they can, greedy ones as much.
        assert_eq!(group(r"(?P<a>[^/]+?)\.(?P<b>.+)$", "x.y.z", "a").as_deref(), Some("x"));
        assert_eq!(group(r"(?P<a>[^/]+)\.(?P<b>.+)$", "x.y.z", "a").as_deref(), Some("x.y"));
        assert_eq!(group(r"(?P<a>\d+)(?P<b>\d)$", "1234", "a").as_deref(), Some("123"));
        assert_eq!(group(r"(?P<a>\d+?)(?P<b>\d+)$", "1234", "a").as_deref(), Some("1"));
        // The leftmost alternative wins when both fit.
        assert_eq!(group(r"(?P<a>a|ab)(?P<b>c|bcd)$", "abcd", "a").as_deref(), Some("a"));
        assert_eq!(group(r"(?P<a>a|ab)(?P<b>c|bcd)$", "abcd", "b").as_deref(), Some("bcd"));
        // An optional group that took no part is None; a lazy "??" prefers to skip.
        assert_eq!(group(r"x(?:\.(?P<f>[^/.]+?))??$", "x", "f"), None);
        assert_eq!(
            group(r"x(?:\.(?P<f>[^/.]+?))??$", "x.json", "f").as_deref(),
            Some("json")
        );
        // Repeated groups keep the last iteration.
        assert_eq!(group(r"(?:(?P<c>[a-z]),?)+$", "a,b,c", "c").as_deref(), Some("c"));
        // No match at all.
        assert_eq!(re_match(r"(?P<a>\d+)$", "12x"), None);
    }

    #[test]
    fn refused_constructs() {
        for bad in [
            r"(?=a)",
            r"(?!a)",
            r"(?<=a)b",
            r"[^\/]+(?<!\\)",
            r"(?i)abc",
            r"(?P=x)",
            r"\1",
            r"\bword",
            r"\A",
            r"a**",
            r"a*+",
            r"*a",
            r"+",
            r"a{3,2}",
            r"a{1001}",
            r"[abc",
            r"(abc",
            r"abc)",
            r"[z-a]",
            r"(?P<1x>a)",
            r"(?P<a>x)(?P<a>y)",
            r"^*",
            r"\",
        ] {
            let mut names = Vec::new();
            assert!(parse(bad, &mut names).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn errors_name_the_place() {
        let mut names = Vec::new();
        let e = parse(r"\d+(?=x)", &mut names).unwrap_err();
        assert_eq!(e.pos, 5);
        assert!(e.to_string().contains("look-around"), "{e}");
    }

    #[test]
    fn pathological_patterns_stay_bounded() {
        // (a+)+b on a long run of a's is exponential for a plain backtracker; remembering
        // tried states keeps it at program × text steps.
        let text = "a".repeat(5000);
        assert!(!full(r"(a+)+b", &text));
        assert!(!full(r"(?:[^/]+?-){4}[^/]+?x", &"y-".repeat(2000)));
    }
}
