//! Apple's XML property lists (`plist(5)`), read into a small tree: enough for the preference
//! files and bundle `Info.plist`s the probes consult. Binary property lists are first turned
//! into XML by `plutil` (see [`super::read_plist`]), so this is the one parser for all of them.
//!
//! It is strict about structure (a value it cannot place is an error, not a guess) and bounded
//! in nesting, so garbage gives an error rather than a wrong fact or a stack overflow.

/// A property-list value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// `<string>`.
    String(String),
    /// `<integer>`.
    Integer(i64),
    /// `<real>`.
    Real(f64),
    /// `<true/>` or `<false/>`.
    Bool(bool),
    /// `<date>`, as Unix seconds.
    Date(i64),
    /// `<data>`; its bytes are never needed, so they are not kept.
    Data,
    /// `<array>`.
    Array(Vec<Value>),
    /// `<dict>`, in file order.
    Dict(Vec<(String, Value)>),
}

impl Value {
    /// The value under `key`, if this is a dictionary that has it.
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of a string.
    pub(super) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A whole number: an integer, or a real without a fraction.
    pub(super) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            Value::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Some(*r as i64),
            _ => None,
        }
    }

    /// A boolean; preference files sometimes hold `1`/`0` where a boolean is meant.
    pub(super) fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Integer(0) => Some(false),
            Value::Integer(1) => Some(true),
            _ => None,
        }
    }

    /// A date, as Unix seconds.
    pub(super) fn as_date(&self) -> Option<i64> {
        match self {
            Value::Date(t) => Some(*t),
            _ => None,
        }
    }

    /// The items of an array.
    pub(super) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Deepest nesting accepted; real preference files nest three or four levels.
const MAX_DEPTH: usize = 32;

/// Parses an XML property list: the `<plist>` element and the one value inside it.
pub(super) fn parse(text: &str) -> Result<Value, String> {
    let mut lexer = Lexer { rest: text };
    let first = lexer.next_tag()?.ok_or("it is empty")?;
    let value = if first.name == "plist" && !first.closing {
        if first.empty {
            return Err("its <plist> element is empty".into());
        }
        let open = lexer.next_tag()?.ok_or("it ends inside <plist>")?;
        let value = parse_value(&mut lexer, open, 0)?;
        match lexer.next_tag()? {
            Some(t) if t.name == "plist" && t.closing => {}
            _ => return Err("its <plist> element holds more than one value".into()),
        }
        value
    } else {
        // Tolerated: a bare value without the <plist> wrapper.
        parse_value(&mut lexer, first, 0)?
    };
    match lexer.next_tag()? {
        None => Ok(value),
        Some(t) => Err(format!("<{}> follows the end of the property list", t.name)),
    }
}

/// One tag: `<name ...>`, `</name>` or `<name/>`.
#[derive(Debug)]
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    empty: bool,
}

struct Lexer<'a> {
    rest: &'a str,
}

impl<'a> Lexer<'a> {
    /// The next tag, skipping white space, the XML declaration, comments and the DOCTYPE.
    /// Text outside an element (other than white space) is an error.
    fn next_tag(&mut self) -> Result<Option<Tag<'a>>, String> {
        loop {
            let trimmed = self.rest.trim_start();
            if trimmed.is_empty() {
                self.rest = trimmed;
                return Ok(None);
            }
            if !trimmed.starts_with('<') {
                return Err(format!("unexpected text {:?}", excerpt(trimmed)));
            }
            if let Some(after) = trimmed.strip_prefix("<?") {
                self.rest = skip_past(after, "?>")?;
            } else if let Some(after) = trimmed.strip_prefix("<!--") {
                self.rest = skip_past(after, "-->")?;
            } else if let Some(after) = trimmed.strip_prefix("<!") {
                self.rest = skip_past(after, ">")?;
            } else {
                let end = trimmed.find('>').ok_or("a tag is not closed")?;
                let inner = &trimmed[1..end];
                self.rest = &trimmed[end + 1..];
                let (closing, inner) = match inner.strip_prefix('/') {
                    Some(i) => (true, i),
                    None => (false, inner),
                };
                let (empty, inner) = match inner.strip_suffix('/') {
                    Some(i) => (true, i),
                    None => (false, inner),
                };
                let name = inner.split_whitespace().next().unwrap_or("");
                if name.is_empty() || (closing && empty) {
                    return Err(format!("malformed tag <{}>", excerpt(inner)));
                }
                return Ok(Some(Tag {
                    name,
                    closing,
                    empty,
                }));
            }
        }
    }

    /// The text up to the closing tag `</name>`, with entities decoded.
    fn text_until_close(&mut self, name: &str) -> Result<String, String> {
        let end = self
            .rest
            .find('<')
            .ok_or_else(|| format!("<{name}> is not closed"))?;
        let raw = &self.rest[..end];
        self.rest = &self.rest[end..];
        match self.next_tag()? {
            Some(t) if t.closing && t.name == name => decode_entities(raw),
            _ => Err(format!("<{name}> holds more than text")),
        }
    }
}

fn skip_past<'a>(text: &'a str, end: &str) -> Result<&'a str, String> {
    text.find(end)
        .map(|i| &text[i + end.len()..])
        .ok_or_else(|| format!("{end:?} is missing"))
}

fn parse_value(lexer: &mut Lexer<'_>, open: Tag<'_>, depth: usize) -> Result<Value, String> {
    if open.closing {
        return Err(format!("</{}> where a value was expected", open.name));
    }
    if depth > MAX_DEPTH {
        return Err("it nests too deeply".into());
    }
    let name = open.name;
    let text = |lexer: &mut Lexer<'_>| -> Result<String, String> {
        if open.empty {
            Ok(String::new())
        } else {
            lexer.text_until_close(name)
        }
    };
    match name {
        "true" | "false" => {
            if !open.empty {
                text(lexer)?;
            }
            Ok(Value::Bool(name == "true"))
        }
        "string" => Ok(Value::String(text(lexer)?)),
        "integer" => {
            let t = text(lexer)?;
            parse_integer(t.trim())
                .map(Value::Integer)
                .ok_or_else(|| format!("<integer> {:?} is not a whole number", excerpt(&t)))
        }
        "real" => {
            let t = text(lexer)?;
            t.trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite())
                .map(Value::Real)
                .ok_or_else(|| format!("<real> {:?} is not a number", excerpt(&t)))
        }
        "date" => {
            let t = text(lexer)?;
            parse_date(t.trim())
                .map(Value::Date)
                .ok_or_else(|| format!("<date> {:?} is not an ISO 8601 date", excerpt(&t)))
        }
        "data" => {
            text(lexer)?;
            Ok(Value::Data)
        }
        "array" => {
            let mut items = Vec::new();
            if open.empty {
                return Ok(Value::Array(items));
            }
            loop {
                let tag = lexer.next_tag()?.ok_or("<array> is not closed")?;
                if tag.closing && tag.name == "array" {
                    return Ok(Value::Array(items));
                }
                items.push(parse_value(lexer, tag, depth + 1)?);
            }
        }
        "dict" => {
            let mut entries = Vec::new();
            if open.empty {
                return Ok(Value::Dict(entries));
            }
            loop {
                let tag = lexer.next_tag()?.ok_or("<dict> is not closed")?;
                if tag.closing && tag.name == "dict" {
                    return Ok(Value::Dict(entries));
                }
                if tag.name != "key" || tag.closing {
                    return Err(format!("<{}> where a <key> was expected", tag.name));
                }
                let key = if tag.empty {
                    String::new()
                } else {
                    lexer.text_until_close("key")?
                };
                let open = lexer
                    .next_tag()?
                    .ok_or_else(|| format!("the key {key:?} has no value"))?;
                let value = parse_value(lexer, open, depth + 1)?;
                entries.push((key, value));
            }
        }
        other => Err(format!("<{other}> is not a property-list value")),
    }
}

fn parse_integer(t: &str) -> Option<i64> {
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse().ok()
}

/// A property-list date (`2024-08-21T09:40:02Z`; always UTC) as Unix seconds.
pub(super) fn parse_date(t: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(t, &Rfc3339)
        .ok()
        .map(|d| d.unix_timestamp())
}

fn decode_entities(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after
            .find(';')
            .filter(|i| *i <= 10)
            .ok_or_else(|| format!("a bare '&' in {:?}", excerpt(raw)))?;
        let entity = &after[..semi];
        let decoded = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        out.push(decoded.ok_or_else(|| format!("unknown entity &{entity};"))?);
        rest = &after[semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// At most 40 characters of `text`, for error messages.
fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_of_value() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<!-- a comment -->
	<key>Name</key>
	<string>Tom &amp; Jerry &lt;3 &#x41;&#66;</string>
	<key>Empty</key>
	<string/>
	<key>Count</key>
	<integer>-12</integer>
	<key>Ratio</key>
	<real>2.5</real>
	<key>On</key>
	<true/>
	<key>Off</key>
	<false/>
	<key>When</key>
	<date>2024-08-21T09:40:02Z</date>
	<key>Blob</key>
	<data>
	AAEC
	</data>
	<key>List</key>
	<array>
		<integer>1</integer>
		<dict/>
		<array/>
	</array>
</dict>
</plist>
"#;
        let v = parse(text).unwrap();
        assert_eq!(v.get("Name").unwrap().as_str(), Some("Tom & Jerry <3 AB"));
        assert_eq!(v.get("Empty").unwrap().as_str(), Some(""));
        assert_eq!(v.get("Count").unwrap().as_i64(), Some(-12));
        assert_eq!(v.get("Ratio"), Some(&Value::Real(2.5)));
        assert_eq!(v.get("On").unwrap().as_bool(), Some(true));
        assert_eq!(v.get("Off").unwrap().as_bool(), Some(false));
        assert_eq!(v.get("When").unwrap().as_date(), Some(1_724_233_202));
        assert_eq!(v.get("Blob"), Some(&Value::Data));
        let list = v.get("List").unwrap().as_array().unwrap();
        assert_eq!(
            list,
            [Value::Integer(1), Value::Dict(vec![]), Value::Array(vec![])]
        );
        assert_eq!(v.get("Missing"), None);
    }

    #[test]
    fn refuses_what_is_not_a_property_list() {
        for bad in [
            "",
            "bplist00\u{1}\u{2}",
            "hello",
            "<plist><dict><key>a</key></dict></plist>",
            "<plist><dict><string>no key</string></dict></plist>",
            "<plist><integer>twelve</integer></plist>",
            "<plist><date>yesterday</date></plist>",
            "<plist><string>unclosed</plist>",
            "<plist><string>a &bogus; b</string></plist>",
            "<plist><dict></plist>",
            "<plist><string>a</string><string>b</string></plist>",
            "<plist><blob/></plist>",
            "<plist/>",
            "<html><body>Not Found</body></html>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn garbage_nested_without_end_is_an_error_not_a_crash() {
        let deep = "<array>".repeat(100_000);
        assert!(parse(&format!("<plist>{deep}</plist>")).is_err());
    }

    #[test]
    fn a_bare_value_is_tolerated() {
        assert_eq!(
            parse("<string>5272</string>\n").unwrap(),
            Value::String("5272".into())
        );
    }
}
