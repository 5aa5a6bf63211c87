//! Small text helpers for messages people read (layer 0: no I/O): one-line quotes of
//! untrusted text, and I/O errors in a few words.

/// `text` as one line of at most `max_chars` characters: control characters (line
/// breaks included) become spaces, runs of spaces one, and a cut is marked with `…`.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in text.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        if count == max_chars {
            out.pop();
            out.push('…');
            break;
        }
        out.push(c);
        count += 1;
    }
    out.truncate(out.trim_end().len());
    out
}

/// An I/O failure in a few words ("connection refused"), without the "(os error N)"
/// that says nothing to an operator.
pub fn io_cause(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let words = match e.kind() {
        ConnectionRefused => "connection refused",
        ConnectionReset => "connection reset",
        ConnectionAborted => "connection aborted",
        UnexpectedEof | BrokenPipe => "connection closed",
        TimedOut => "timed out",
        HostUnreachable => "host unreachable",
        NetworkUnreachable => "network unreachable",
        AddrNotAvailable => "address not available",
        _ => {
            // `failed to lookup address information: Name or service not known (os error -2)`
            let text = e.to_string();
            let text = match text.rfind(" (os error ") {
                Some(i) => &text[..i],
                None => &text,
            };
            let text = one_line(text, 300);
            let mut chars = text.chars();
            return match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            };
        }
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error, ErrorKind};

    #[test]
    fn one_line_flattens_and_bounds() {
        assert_eq!(one_line("  a\nb\r\n\tc  ", 200), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abcd", 4), "abcd");
        assert_eq!(one_line("ééééé", 3), "éé…");
        assert_eq!(one_line("x\u{7}", 10), "x");
    }

    #[test]
    fn io_causes_are_a_few_words() {
        assert_eq!(
            io_cause(&Error::from(ErrorKind::ConnectionRefused)),
            "connection refused"
        );
        assert_eq!(io_cause(&Error::from(ErrorKind::UnexpectedEof)), "connection closed");
        assert_eq!(io_cause(&Error::from_raw_os_error(113)), "host unreachable");
        assert_eq!(io_cause(&Error::from_raw_os_error(2)), "no such file or directory");
        assert_eq!(
            io_cause(&Error::other(
                "Failed to lookup address information: Name or service not known (os error -2)"
            )),
            "failed to lookup address information: Name or service not known"
        );
    }
}
