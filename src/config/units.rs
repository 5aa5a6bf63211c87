//! Units of the configuration file: durations (`"250ms"`, `"10s"`, `"5m"`) and byte
//! sizes (`"512MiB"`, `"10MB"`, `4096`).
//!
//! Pure text → number conversions. Each error is a short phrase saying what is valid;
//! `validate.rs` wraps it with the key and the place in the file.

use std::time::Duration;

/// Parse a duration written the `humantime` way: `"250ms"`, `"10s"`, `"5m"`, `"1h 30m"`,
/// `"0s"`. A bare number is refused (except `"0"`, which humantime accepts) because
/// `"10"` could mean seconds or milliseconds, and guessing wrong is silent.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty; write a number with a unit, like \"10s\" or \"250ms\"".to_owned());
    }
    humantime::parse_duration(trimmed).map_err(|e| {
        // humantime's texts are lower-case phrases ("unknown time unit "parsecs", ...");
        // add the hint that helps most.
        format!("{e}; write a number with a unit, like \"10s\", \"250ms\", \"5m\" or \"1h\"")
    })
}

/// Format a duration the way the file writes it (`"1m 30s"`), for messages and summaries.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        "0s".to_owned()
    } else {
        humantime::format_duration(d).to_string()
    }
}

/// Parse a byte size: `"100"`, `"4KiB"`, `"10MB"`, `"512 MiB"`, `"1GiB"`.
///
/// `KB`/`MB`/`GB`/`TB` are powers of 1000 and `KiB`/`MiB`/`GiB`/`TiB` powers of 1024
/// (the suffix is case-insensitive; `B` alone means bytes). Bare `K`/`M`/`G` are refused:
/// tools disagree on whether they mean 1000 or 1024, and a config should not guess.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const VALID: &str = "write bytes, or a number with B, KB, MB, GB, TB (1000-based) or KiB, MiB, GiB, TiB (1024-based), like \"10MiB\"";
    let trimmed = text.trim();
    let digits_end = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (number, suffix) = trimmed.split_at(digits_end);
    if number.is_empty() {
        return Err(format!("expected a number; {VALID}"));
    }
    if suffix.starts_with(['.', ',']) {
        return Err(format!("use a whole number; {VALID}"));
    }
    let multiplier: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => return Err(format!("unknown unit \"{other}\"; {VALID}")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| "too large".to_owned())
}

/// Format a byte count with the largest exact binary unit (`"16KiB"`, `"10MiB"`, `"1000"`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, factor) in UNITS {
        if bytes >= factor && bytes % factor == 0 {
            return format!("{}{unit}", bytes / factor);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("10 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("10").is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "1m 30s");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4kib"), Ok(4096));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2gb"), Ok(2_000_000_000));
        assert!(parse_size("10M").unwrap_err().contains("unknown unit"));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("99999999999TiB").unwrap_err().contains("too large"));
        assert_eq!(format_size(16 << 10), "16KiB");
        assert_eq!(format_size(10 << 20), "10MiB");
        assert_eq!(format_size(1000), "1000");
    }
}
